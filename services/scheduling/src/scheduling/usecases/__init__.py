"""Use cases of the scheduling service, one module per feature: `booking`, `sessions`, `followups`,
`registry`, `directory`, `community` (call-outs and CPD); `participant_view` and `waiting` are the
queries behind the booking page and the leads' lists; `common` holds what they share."""
