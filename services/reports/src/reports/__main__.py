"""`python -m reports`: hands over to `cli.main`."""

import sys

from reports.cli import main

sys.exit(main(sys.argv[1:]))
