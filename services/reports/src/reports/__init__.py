"""hlm360 reports service."""
