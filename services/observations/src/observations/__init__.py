"""hlm360 observations service: the HLM Observations journal."""
