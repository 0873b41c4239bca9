"""A self-contained HTML overview: one file, no server, no CDN, no JavaScript.

``render_html(data)`` takes plain data (as built by :func:`loomgit.batch.lineage.overview`)
and returns the page, rendered from the autoescaped template ``templates/report.html.j2``:
every text that comes from the repository (ids, commit subjects, model names) is
HTML-escaped there. :mod:`loomgit.report.charts` lays out the inline SVG charts
(coordinates, ticks, labels), this module formats the numbers; the template draws them.

Shape of ``data``::

    {"title": str, "generated_at": str, "root": str,
     "prompts": [{"id": str, "stages": {stage: version},
                  "versions": [{"version", "bump", "commit", "date", "author", "subject",
                                "content_hash", "stages": [stage],
                                "runs": {"runs", "records", "passed", "pass_rate",
                                         "mean_score", "cost_usd", "latency_ms",
                                         "models": [str]} | None}]}]}
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loomgit.prompt.jinja import html_environment
from loomgit.report import charts

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"

# dark enough for white text on them (contrast >= 4.5:1)
BUMP_COLORS = {
    "major": "#b4202f",
    "minor": "#2e5eaa",
    "patch": "#5d636e",
    "initial": "#147a6f",
    "dev": "#8a5d00",
}
SERIES = {"pass rate": "#1b998b", "mean score": "#2e5eaa", "cost": "#c98b00", "latency": "#7d3c98"}

View = dict[str, Any]


@functools.lru_cache(maxsize=1)
def template_environment() -> Any:
    """The Jinja environment of the report templates: autoescaped, strict about
    undefined names."""
    return html_environment(folder=TEMPLATES)


# --------------------------------------------------------------------------- numbers


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.0f}%"


def _num(v: float | None, fmt: str = "{:.2f}") -> str:
    return "–" if v is None else fmt.format(v)


def usd(v: float | None, missing: str = "–") -> str:
    """Dollars with the digits that matter, never in e-notation: $1,250.00 / $0.0042 /
    $0.0000048."""
    if v is None:
        return missing
    if v == 0 or abs(v) >= 1:
        return f"${v:,.2f}"
    if abs(v) >= 0.001:
        return f"${v:.4f}"
    return f"${v:.{1 - math.floor(math.log10(abs(v)))}f}".rstrip("0")


def ms(v: float | None, missing: str = "–") -> str:
    """Milliseconds with the digits that matter: 1,250 / 41.3 / 0.004."""
    if v is None:
        return missing
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 1 or v == 0:
        return f"{v:.1f}"
    return f"{v:.{1 - math.floor(math.log10(v))}f}".rstrip("0")


def _per_thousand(r: Mapping[str, Any], key: str) -> float | None:
    total, n = r.get(key), r.get("records")
    if total is None or not n:
        return None
    return 1000 * float(total) / float(n)


# --------------------------------------------------------------------------- the page


def _prompt_view(p: Mapping[str, Any]) -> View:
    versions = list(p.get("versions") or [])
    labels = [str(v.get("version")) for v in versions]
    runs = [v.get("runs") or {} for v in versions]
    stages = p.get("stages") or {}
    rows = []
    for v, r in zip(reversed(versions), reversed(runs)):
        bump = str(v.get("bump") or "")
        rows.append(
            {
                "version": _s(v.get("version")),
                "bump": bump,
                "color": BUMP_COLORS.get(bump, "#8a8f98"),
                "stages": ", ".join(map(str, v.get("stages") or ())),
                "commit": (v.get("commit") or "")[:7],
                "subject": _s(v.get("subject")),
                "date": (v.get("date") or "")[:10],
                "runs": _s(r.get("runs", 0) or 0),
                "records": _s(r.get("records", 0) or 0),
                "pass_rate": _pct(r.get("pass_rate")),
                "score": _num(r.get("mean_score")),
                "cost": usd(r.get("cost_usd")),
                "ms": ms(r.get("latency_ms")),
                "models": ", ".join(r.get("models") or ()),
            }
        )
    return {
        "id": str(p.get("id")),
        "latest": _s(versions[-1].get("version")) if versions else "–",
        "stage_versions": [_s(v or "–") for v in stages.values()],
        "stages": [(_s(s), _s(ver) if ver else "–") for s, ver in stages.items()],
        "timeline": charts.timeline(versions, BUMP_COLORS),
        "quality": charts.line_chart(
            labels,
            [
                ("pass rate", SERIES["pass rate"], [r.get("pass_rate") for r in runs]),
                ("mean score", SERIES["mean score"], [r.get("mean_score") for r in runs]),
            ],
            y_max=1.0,
        ),
        "cost": charts.bar_chart(
            labels,
            [_per_thousand(r, "cost_usd") for r in runs],
            SERIES["cost"],
            prefix="$",
            value_fmt=usd,
        ),
        # under 1 ms is below what a model call takes: such bars stay slivers
        "latency": charts.bar_chart(
            labels,
            [r.get("latency_ms") for r in runs],
            SERIES["latency"],
            min_top=1.0,
            value_fmt=lambda v: f"{ms(v)} ms",
        ),
        "rows": rows,
    }


def render_html(data: Mapping[str, Any]) -> str:
    """The whole page as one string."""
    prompts = list(data.get("prompts") or [])
    stage_names = [str(s) for s in (prompts[0].get("stages") or {})] if prompts else []
    page: str = (
        template_environment()
        .get_template(TEMPLATE)
        .render(
            title=str(data.get("title") or "loomgit report"),
            root=_s(data.get("root") or ""),
            generated_at=_s(data.get("generated_at")),
            stage_names=stage_names,
            prompts=[_prompt_view(p) for p in prompts],
            bump_legend=[(k, c) for k, c in BUMP_COLORS.items() if k != "dev"],
            quality_legend=[
                ("pass rate", SERIES["pass rate"]),
                ("mean score", SERIES["mean score"]),
            ],
        )
    )
    return page
