"""Console-script entry: answers ``--version`` before importing the CLI."""

from __future__ import annotations

import sys

from loomgit._version import __version__


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        print(f"loomgit {__version__}")
        sys.exit(0)
    # httpx's own command-line client (httpx._main, which imports rich and pygments) is
    # never used here; httpx falls back to a stub when it cannot be imported. 25 of
    # httpx's 50 ms of import time, in every command that talks to a model or to GitHub.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    from loomgit.cli import main  # start-up: click and the command table only when needed

    sys.exit(main())
