"""The review page of ``loomgit report --html FILE --results R.json``: per prompt, a table
with the cases as rows and each (prompt@ref, model) as a column; each cell holds the
answer, the assertion results, score, latency and cost. A side compared with a base (a
compare or ci result, or a second eval report) has its changed cells highlighted
(regression, fix, error, new, changed answer) and the word-level diff of its answer
against the base's.

One self-contained file: no network (a Content-Security-Policy allows no source but the
page's own inline style and its one script, by hash). The table, the highlights and the
"changed only" filter (a checkbox and CSS) work with scripts disabled; the script adds
only the search box. Every text from results (case names, answers, messages) is escaped
by the autoescaped template ``templates/review.html.j2``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from loomgit.report.html import ms, template_environment, usd
from loomgit.report.review_data import Cell, PromptResults, Review, load
from loomgit.report.worddiff import word_diff

__all__ = ["build_view", "render_review", "review_html"]

TEMPLATE = "review.html.j2"
SCRIPT = Path(__file__).resolve().parent / "templates" / "review.js"

View = dict[str, Any]

# the order a row takes its class from: the first kind one of its cells has
KINDS = ("regression", "error", "fix", "new", "removed", "changed", "same")
MAX_LINKS = 40  # links to flagged rows per kind, above the table
PLURAL = {"regression": "regressions", "fix": "fixes", "error": "errors"}
STATUS_LABEL = {"passed": "pass", "failed": "fail", "error": "error", "skipped": "skipped"}


def _num(v: float | None, digits: int = 2) -> str | None:
    return None if v is None else f"{v:.{digits}f}"


def _ms(v: float | None) -> str | None:
    return None if v is None else f"{ms(v)} ms"


def _usd(v: float | None) -> str | None:
    return None if v is None else usd(v)


def css_string(text: str) -> str:
    """``text`` as a CSS string literal: every character but letters, digits, space and
    ``.@/()-_`` as a hex escape, so it cannot end the string, the rule or the style
    element."""
    safe = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .@/()-_")
    return '"' + "".join(c if c in safe else f"\\{ord(c):x} " for c in text) + '"'


def _kind(given: str, base: Cell | None, cell: Cell | None) -> str:
    """How ``cell`` differs from the base's (``given``: what compare or ci said)."""
    if cell is None:
        return "removed" if base is not None else "same"
    if base is None:
        return "new"
    if given in ("regression", "fix", "error", "new", "removed"):
        return given
    b, a = base.status, cell.status
    if b == "passed" and a == "failed":
        return "regression"
    if b in ("failed", "error") and a == "passed":
        return "fix"
    if "error" in (a, b) and a != b:
        return "error"
    if (base.output or "") != (cell.output or "") or base.tool_calls != cell.tool_calls:
        return "changed"
    if base.score is not None and cell.score is not None and abs(base.score - cell.score) > 1e-9:
        return "changed"
    return "same"


def _cell_view(
    cell: Cell | None, base: Cell | None, kind: str, note: str | None, base_label: str = ""
) -> View | None:
    if cell is None:
        return {"missing": True, "kind": kind}
    meta = []
    if cell.score is not None:
        meta.append(f"score {_num(cell.score)}")
    if cell.repeat > 1 and cell.pass_rate is not None:
        meta.append(f"{round(cell.pass_rate * cell.repeat)}/{cell.repeat} samples pass")
    for v in (_ms(cell.latency_ms), _usd(cell.cost_usd)):
        if v:
            meta.append(v)
    if note:
        meta.append(note)
    answer = cell.output or ""
    diff = None
    same_answer = base is not None and cell.output is not None and base.output == cell.output
    if base is not None and cell.output is not None and not same_answer:
        diff = word_diff(base.output or "", answer)
    return {
        "missing": False,
        "kind": kind,
        "base_label": base_label,
        "status": cell.status,
        "status_label": STATUS_LABEL.get(cell.status, cell.status),
        "meta": " · ".join(meta),
        "answer": answer,
        "has_answer": cell.output is not None,
        "same_answer": same_answer,
        "tool_calls": cell.tool_calls,
        "diff": diff,
        "passed_asserts": ", ".join(a for a, ok, _ in cell.assertions if ok),
        "failed_asserts": [(a, m) for a, ok, m in cell.assertions if not ok],
        "error": cell.error,
        "why": cell.why if not any(not ok for _, ok, _ in cell.assertions) else None,
    }


def _column_summary(cells: list[Cell]) -> str:
    decided = [c for c in cells if c.status in ("passed", "failed")]
    parts = [f"{sum(c.status == 'passed' for c in decided)}/{len(decided)} pass"]
    errors = sum(c.status == "error" for c in cells)
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    scores = [c.score for c in cells if c.score is not None]
    if scores:
        parts.append(f"mean score {sum(scores) / len(scores):.2f}")
    lat = [c.latency_ms for c in cells if c.latency_ms is not None]
    if lat:
        parts.append(f"mean {_ms(sum(lat) / len(lat))}")
    cost = [c.cost_usd for c in cells if c.cost_usd is not None]
    if cost:
        parts.append(f"{_usd(sum(cost))}")
    return " · ".join(parts)


def _prompt_view(rv: Review, p: PromptResults, index: int) -> View:
    sides = sorted({s for s, _, _ in p.cells} | {s for s, _, _ in p.changes})
    present = {(s, m) for s, m, _ in p.cells}
    columns = [(s, m) for m in p.models for s in sides if (s, m) in present]
    col_views = []
    for s, m in columns:
        label = rv.sides[s].label
        version = p.versions.get(s)
        col_views.append(
            {
                "css_name": css_string(
                    f"@{label}" + (f" ({version})" if version else "") + f" · {m}"
                ),
                "ref": f"{p.id}@{label}",
                "version": version,
                "model": m,
                "summary": _column_summary(
                    [c for (cs, cm, _), c in p.cells.items() if cs == s and cm == m]
                ),
                "compared": rv.sides[s].base is not None,
            }
        )
    counts = dict.fromkeys(KINDS, 0)
    rows = []
    flagged: dict[str, list[View]] = {"regression": [], "error": [], "fix": []}
    for r, case in enumerate(p.cases):
        cells = []
        kinds = set()
        for s, m in columns:
            cell = p.cells.get((s, m, case))
            base_side = rv.sides[s].base
            if base_side is None or (base_side, m) not in columns:
                cells.append(_cell_view(cell, None, "", p.notes.get((s, m, case))))
                continue
            base = p.cells.get((base_side, m, case))
            kind = _kind(p.changes.get((s, m, case), ""), base, cell)
            kinds.add(kind)
            cells.append(
                _cell_view(cell, base, kind, p.notes.get((s, m, case)), rv.sides[base_side].label)
            )
        row_kind = next((k for k in KINDS if k in kinds), "same")
        counts[row_kind] += 1
        anchor = f"p{index}-c{r}"
        row = {
            "anchor": anchor,
            "case": case,
            "line": p.lines.get(case),
            "kind": row_kind,
            "cells": cells,
        }
        rows.append(row)
        if row_kind in flagged and len(flagged[row_kind]) < MAX_LINKS:
            flagged[row_kind].append({"anchor": anchor, "case": case})
    compared = any(c["compared"] for c in col_views)
    return {
        "id": p.id,
        "anchor": f"p{index}",
        "columns": col_views,
        "rows": rows,
        "compared": compared,
        "counts": [
            (k, f"{n} {PLURAL.get(k, k) if n != 1 else k}")
            for k, n in counts.items()
            if n and (compared or k != "same")
        ],
        "flagged": [
            (PLURAL[k], links, counts[k] - len(links)) for k, links in flagged.items() if links
        ],
    }


def build_view(rv: Review) -> View:
    prompts = [_prompt_view(rv, p, i) for i, p in enumerate(rv.prompts.values())]
    return {
        "title": rv.title,
        "sides": [s.label for s in rv.sides],
        "notes": rv.notes,
        "prompts": prompts,
        "compared": any(p["compared"] for p in prompts),
        "cases": sum(len(p["rows"]) for p in prompts),
    }


def _script() -> tuple[str, str]:
    code = SCRIPT.read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(code.encode("utf-8")).digest()).decode("ascii")
    return code, f"'sha256-{digest}'"


def render_review(rv: Review, generated_at: str = "") -> str:
    """The whole review page as one string."""
    code, script_hash = _script()
    page: str = (
        template_environment()
        .get_template(TEMPLATE)
        .render(generated_at=generated_at, script=code, script_hash=script_hash, **build_view(rv))
    )
    return page


def review_html(
    results: Iterable[tuple[str, Any]], title: str | None = None, generated_at: str = ""
) -> str:
    """The review page of ``(name, data)`` results (eval, compare or ci JSON data)."""
    return render_review(load(results, title), generated_at)
