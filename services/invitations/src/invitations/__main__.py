"""`python -m invitations`: serve (migrating first), or run an operator command (cli.py)."""

import sys

from invitations.cli import main

sys.exit(main(sys.argv[1:]))
