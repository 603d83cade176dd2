"""`python -m adaptfile` runs the `adapt` command line."""

from adaptfile.cli import main

main()
