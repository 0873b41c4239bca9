"""Console-script entry: answers ``--version`` before importing the CLI."""

from __future__ import annotations

import sys

from loomgit._version import __version__


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        print(f"loomgit {__version__}")
        sys.exit(0)
    from loomgit.cli import main  # start-up: click and the command table only when needed

    sys.exit(main())
