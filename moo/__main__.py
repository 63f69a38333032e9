"""``python -m moo``: the same as the ``moo`` console script."""

from moo.cli import main

main()
