"""hlm360 ratings service."""
