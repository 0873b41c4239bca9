"""``loomgit report --html FILE``: the self-contained overview page, written through the
same redaction as every other report (commit subjects, authors and run data can hold a
pasted token)."""

from __future__ import annotations

from collections.abc import Sequence

from loomgit.app.reports import redactor, write_text
from loomgit.batch.lineage import overview
from loomgit.report.html import render_html
from loomgit.workspace import Workspace

__all__ = ["write_html"]


def write_html(ws: Workspace, path: str, ids: Sequence[str] | None = None) -> None:
    """``loomgit report --html FILE``: the self-contained overview page."""
    red = redactor(ws)
    write_text(path, red.text(render_html(red.data(overview(ws, list(ids) if ids else None)))))
