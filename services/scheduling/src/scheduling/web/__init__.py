"""HTTP routes of the scheduling service, one module per audience: `participant` (booking page),
`facilitator`, `lead` (regional lead), `api` (JSON); `deps` holds what they share, the signed-link
check above all."""
