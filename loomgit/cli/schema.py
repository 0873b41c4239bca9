"""``loomgit schema [NAME]``: print the JSON Schema of one of loomgit's file formats."""

from __future__ import annotations

import click

from loomgit.cli.output import echo, one_line
from loomgit.config import closest
from loomgit.errors import UsageError
from loomgit.schemas import INIT_DIR, NAMES, text


@click.command()
@click.argument("name", required=False)
def schema(name: str | None) -> int:
    """Print the JSON Schema NAME (config, prompt, suite, experiment, pipeline), for
    editors; without NAME, list them."""
    if name is None:
        width = max(map(len, NAMES))
        for n, what in NAMES.items():
            echo(f"{n:<{width}}  {what}")
        echo(f"(loomgit init writes them to {INIT_DIR}/; see 'Editors' in the README)")
        return 0
    if name not in NAMES:
        close = closest(name, NAMES)
        hint = f"did you mean {close!r}? " if close else ""
        raise UsageError(f"unknown schema {one_line(name)!r} ({hint}known: {', '.join(NAMES)})")
    echo(text(name), nl=False)
    return 0
