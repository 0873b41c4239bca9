"""Console-script entry: answers ``--version`` before importing the CLI."""

from __future__ import annotations

import sys


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        from . import __version__

        print(f"loomgit {__version__}")
        sys.exit(0)
    from .cli import main

    sys.exit(main())
