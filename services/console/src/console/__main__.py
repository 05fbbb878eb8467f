"""`python -m console`: the `hlm360` command line (cli.py)."""

from console.cli import main

main()
