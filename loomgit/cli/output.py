"""Printing for the CLI: rich on a terminal, plain text otherwise, JSON on request.

``NO_COLOR`` is honoured; rich is imported only when stdout is a terminal.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import click


def is_tty() -> bool:
    return sys.stdout.isatty()


def color() -> bool:
    return is_tty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def style(text: str, **kw: Any) -> str:
    return click.style(text, **kw) if color() else text


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """A table: rich when on a terminal, aligned plain columns otherwise."""
    cells = [["" if c is None else str(c) for c in r] for r in rows]
    if is_tty():
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title, show_edge=False, header_style="bold")
        for h in headers:
            t.add_column(h)
        for r in cells:
            t.add_row(
                *r,
            )
        Console(no_color=not color(), highlight=False).print(t)
        return
    if title:
        click.echo(title)
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for r in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def warn(message: str) -> None:
    click.echo(f"loomgit: warning: {message}", err=True)
