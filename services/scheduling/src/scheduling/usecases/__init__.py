"""Use cases of the scheduling service, one module per feature: `booking`, `sessions`, `followups`,
`registry`, `directory`, `community` (call-outs and CPD); `common` holds what they share."""
