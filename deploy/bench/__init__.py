"""Load on the running local stack: a cohort of 360s answered through the front door, and the
scaling benchmark (`python -m deploy.bench.scaling`) built from it."""
