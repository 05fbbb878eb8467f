"""`python -m scheduling`: hands over to `cli.main`."""

import sys

from scheduling.cli import main

sys.exit(main(sys.argv[1:]))
