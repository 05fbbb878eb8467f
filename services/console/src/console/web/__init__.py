"""The console's routes: sign-in and the overview (the dead letters page joins them)."""
