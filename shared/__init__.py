"""hlm360 shared library: the only code every service may import."""
