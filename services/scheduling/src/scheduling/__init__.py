"""hlm360 scheduling service."""
