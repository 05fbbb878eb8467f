"""The console's routes: sign-in, the overview and the dead letters, every one under `/console`
(`pages.PREFIX`: one origin is shared with the services, whose paths start at `/`)."""
