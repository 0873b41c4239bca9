"""Printing for the CLI: rich on a terminal, plain text otherwise, JSON on request.

``NO_COLOR`` is honoured; rich is imported only when stdout is a terminal. Everything
goes through :func:`echo` (or :func:`table`, :func:`warn`, :func:`print_json`), which show
control and bidi characters as escapes (:mod:`loomgit.report.escape`); names put inside
a line go through :func:`one_line` first so that a newline in them cannot start a new line.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

import click

from loomgit.report.escape import term_lines, term_text

one_line = term_text  # a file name, id, version or message placed inside a line


_SGR = re.compile(r"(\x1b\[[0-9;]*m)")


def echo(message: object = "", *, err: bool = False, nl: bool = True) -> None:
    """A line (or lines) loomgit wrote: unsafe characters in it are shown as escapes
    (keeping only the colour codes of :func:`style` when colour is on)."""
    text = "" if message is None else str(message)
    if color() and "\x1b" in text:
        parts = _SGR.split(text)
        text = "".join(p if i % 2 else term_lines(p) for i, p in enumerate(parts))
    else:
        text = term_lines(text)
    click.echo(text, err=err, nl=nl)


def echo_content(text: str, *, nl: bool = True) -> None:
    """A prompt's own text (``render``, ``show``): shown with escapes on a terminal, kept
    byte for byte when piped, so that it can be used as the prompt it is."""
    click.echo(term_lines(text) if is_tty() else text, nl=nl)


def is_tty() -> bool:
    return sys.stdout.isatty()


def color() -> bool:
    return is_tty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def print_json(data: Any) -> None:
    echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def style(text: str, **kw: Any) -> str:
    return click.style(term_lines(text), **kw) if color() else text


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    title: str | None = None,
    keep: Sequence[int] = (),
) -> None:
    """A table: rich when on a terminal, aligned plain columns otherwise. The columns in
    ``keep`` (ids) are never cut or wrapped: the others give way, and when even that is
    not enough the lines grow wider than the terminal."""
    cells = [["" if c is None else term_text(c) for c in r] for r in rows]
    headers = [term_text(h) for h in headers]
    title = term_text(title) if title else title
    if is_tty():
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title, show_edge=False, header_style="bold")
        kept = {i: max([len(headers[i]), *(len(r[i]) for r in cells)]) for i in keep}
        for i, h in enumerate(headers):
            if i in kept:
                t.add_column(h, no_wrap=True, min_width=kept[i])
            else:
                t.add_column(h, overflow="fold")
        for r in cells:
            t.add_row(*r)
        console = Console(no_color=not color(), highlight=False)
        # each column: its width plus 2 of padding, and 1 between columns
        needed = sum(kept.values()) + 3 * (len(headers) - len(kept)) + 3 * len(headers)
        if console.width < needed:
            console = Console(no_color=not color(), highlight=False, width=needed)
        console.print(t)
        return
    if title:
        echo(title)
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    echo("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for r in cells:
        echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def warn(message: str) -> None:
    echo(f"loomgit: warning: {term_text(message)}", err=True)
