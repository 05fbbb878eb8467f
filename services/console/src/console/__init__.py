"""hlm360 operator tooling: the `hlm360` command line and the dead-letter library."""
