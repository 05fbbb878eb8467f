"""`python -m ratings`: hands over to `cli.main`."""

import sys

from ratings.cli import main

sys.exit(main(sys.argv[1:]))
