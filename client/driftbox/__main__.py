"""``python -m driftbox``: the same as the ``driftbox`` command."""

from driftbox.cli import main

main()
