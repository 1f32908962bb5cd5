"""`python -m trmsolve.cli`: the console script."""

from trmsolve.cli import main

main()
