"""Console-script entry: answers ``--version`` before importing the CLI."""

from __future__ import annotations

import sys


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        from loomgit import __version__

        print(f"loomgit {__version__}")
        sys.exit(0)
    from loomgit.cli import main

    sys.exit(main())
