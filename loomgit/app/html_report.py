"""``loomgit report --html FILE``: the self-contained overview page, or with
``--results`` the review page of eval, compare or ci results, written through the same
redaction as every other report (commit subjects, authors, run data and model answers
can hold a pasted token)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from loomgit.app.reports import redactor, write_text
from loomgit.batch.lineage import overview
from loomgit.errors import UsageError
from loomgit.github import Redactor
from loomgit.report.html import render_html
from loomgit.report.review import review_html
from loomgit.workspace import Workspace

__all__ = ["read_results", "write_html", "write_review"]


def write_html(ws: Workspace, path: str, ids: Sequence[str] | None = None) -> None:
    """``loomgit report --html FILE``: the self-contained overview page."""
    red = redactor(ws)
    write_text(path, red.text(render_html(red.data(overview(ws, list(ids) if ids else None)))))


def read_results(path: str) -> Any:
    """The JSON data of a results file, or one line saying why it cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise UsageError(f"{path}: cannot read ({e.strerror or e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        line = getattr(e, "lineno", None)
        raise UsageError(f"not valid JSON ({getattr(e, 'msg', e)})", path=path, line=line) from None


def write_review(
    path: str,
    results: Sequence[str],
    red: Redactor | None = None,
    ids: Sequence[str] | None = None,
    title: str | None = None,
) -> int:
    """``loomgit report --html FILE --results R.json...``: the review page; returns the
    number of cases on it."""
    red = red or redactor()
    data = [(r, red.data(read_results(r))) for r in results]
    if ids:
        data = [(name, _only(d, set(ids))) for name, d in data]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = review_html(data, title, generated_at=stamp)
    write_text(path, red.text(page))
    return page.count('<tr id="p')


def _only(d: Any, ids: set[str]) -> Any:
    """``d`` with only the prompts ``ids`` (any of the three shapes)."""
    if not isinstance(d, dict):
        return d
    out = dict(d)
    for key in ("results", "cases"):
        if isinstance(d.get(key), list):
            out[key] = [r for r in d[key] if not isinstance(r, dict) or r.get("prompt") in ids]
    if isinstance(d.get("suites"), list):
        out["suites"] = [
            s for s in d["suites"] if not isinstance(s, dict) or s.get("prompt") in ids
        ]
    if isinstance(d.get("prompts"), list) and "fail_on" in d:
        out["prompts"] = [p for p in d["prompts"] if not isinstance(p, dict) or p.get("id") in ids]
    for side in ("before", "after"):
        if isinstance(d.get(side), dict) and "results" in d[side]:
            out[side] = _only(d[side], ids)
    return out
