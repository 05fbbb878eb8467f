"""`python -m observations`: hands over to `cli.main`."""

import sys

from observations.cli import main

sys.exit(main(sys.argv[1:]))
