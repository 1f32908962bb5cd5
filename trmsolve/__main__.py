"""`python -m trmsolve` (and `torchrun ... -m trmsolve`): the console script."""

from trmsolve.cli import main

main()
