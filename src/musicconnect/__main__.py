"""``python -m musicconnect`` is the ``musicconnect`` command."""

from musicconnect.entrypoints.cli import main

main()
