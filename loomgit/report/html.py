"""A self-contained HTML overview: one file, no server, no CDN, no JavaScript.

``render_html(data)`` takes plain data (as built by :func:`loomgit.batch.lineage.overview`)
and returns the page, rendered from the autoescaped template ``templates/report.html.j2``:
every text that comes from the repository (ids, commit subjects, model names) is
HTML-escaped there. This module lays out the inline SVG charts (coordinates, ticks,
labels) and formats the numbers; the template draws them.

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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from loomgit.prompt.jinja import html_environment

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "report.html.j2"

BUMP_COLORS = {
    "major": "#d7263d",
    "minor": "#2e5eaa",
    "patch": "#8a8f98",
    "initial": "#1b998b",
    "dev": "#c98b00",
}
SERIES = {"pass rate": "#1b998b", "mean score": "#2e5eaa", "cost": "#c98b00", "latency": "#7d3c98"}

Fmt = str | Callable[[float], str]
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


def _usd(v: float | None) -> str:
    if v is None:
        return "–"
    return f"${v:.4f}" if v < 1 else f"${v:,.2f}"


def _plain_number(v: float) -> str:
    """1,250 / 3.75 / 2.5: no decimals that are zero, and no rounding of axis ticks."""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}".rstrip("0").rstrip(".")


def _fmt(fmt: Fmt, v: float) -> str:
    return fmt(v) if callable(fmt) else fmt.format(v)


def _px(v: float) -> str:
    return f"{v:.1f}"


def usd_axis(top: float) -> Callable[[float], str]:
    """Dollar labels with enough decimals for the axis' range ($0.00012, $1.50...)."""
    decimals = 2 if top >= 1 or top <= 0 else min(6, 2 - math.floor(math.log10(top)))
    return lambda v: f"${v:.{decimals}f}"


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return float(m * exp)
    return float(10 * exp)


def _per_thousand(r: Mapping[str, Any], key: str) -> float | None:
    total, n = r.get(key), r.get("records")
    if total is None or not n:
        return None
    return 1000 * float(total) / float(n)


# --------------------------------------------------------------------------- charts


def timeline(versions: Sequence[Mapping[str, Any]], width: int = 1080) -> View | None:
    """Versions left to right, coloured by bump kind, with stage flags above (None: no
    versions)."""
    n = len(versions)
    if n == 0:
        return None
    pad, height, y = 40, 120, 70
    step = min((width - 2 * pad) / max(n - 1, 1), 140.0)
    xs = [pad + i * step if n > 1 else pad for i in range(n)]
    label_every = max(1, math.ceil(n / max(1, (width - 2 * pad) // 56)))
    dots = []
    for i, (x, v) in enumerate(zip(xs, versions)):
        bump = str(v.get("bump") or "minor")
        r = 9 if bump == "major" else 7 if bump in ("minor", "initial") else 5
        title = f"{v.get('version')} ({bump}) {v.get('commit') or ''} {v.get('subject') or ''}"
        shown = i % label_every == 0 or i == n - 1 or v.get("stages")
        flags = []
        for j, stage in enumerate(v.get("stages") or ()):
            w = 8 + 6.5 * len(str(stage))
            flags.append(
                {"y": y - 22 - j * 18, "rect_x": _px(x - w / 2), "width": _px(w), "stage": stage}
            )
        dots.append(
            {
                "x": _px(x),
                "r": r,
                "color": BUMP_COLORS.get(bump, "#8a8f98"),
                "title": title.strip(),
                "label": _s(v.get("version")) if shown else None,
                "flags": flags,
            }
        )
    return {
        "width": width,
        "height": height,
        "y": y,
        "x1": _px(xs[0]),
        "x2": _px(xs[-1]),
        "dots": dots,
    }


def _axes(
    left: int, width: int, right: int, height: int, fmt: Fmt, ticks: list[tuple[float, float]]
) -> View:
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "empty": False,
        "grid": [
            {"y": _px(gy), "label_y": _px(gy + 4), "label": _fmt(fmt, gv)} for gv, gy in ticks
        ],
    }


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    *,
    y_max: float | None = None,
    fmt: Fmt = "{:.0%}",
    width: int = 340,
    height: int = 200,
) -> View:
    """A line chart; ``None`` values leave gaps. ``y_max`` None: from the data."""
    left, right, top, bottom = 46, 12, 12, 34
    pw, ph = width - left - right, height - top - bottom
    vals = [v for _, _, s in series for v in s if v is not None]
    if not vals:
        return {"empty": True, "width": width}
    top_v = y_max if y_max is not None else _nice_max(max(vals))
    n = len(labels)

    def px(i: int) -> float:
        return left + (pw / 2 if n == 1 else i * pw / (n - 1))

    def py(v: float) -> float:
        return top + ph - (v / top_v) * ph if top_v else top + ph

    chart = _axes(
        left, width, right, height, fmt, [(top_v * k / 4, py(top_v * k / 4)) for k in range(5)]
    )
    every = max(1, math.ceil(n / max(1, pw // 48)))
    chart["x_labels"] = [
        {"x": _px(px(i)), "text": lab}
        for i, lab in enumerate(labels)
        if i % every == 0 or i == n - 1
    ]
    drawn = []
    for name, color, values in series:
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, v in enumerate(values):
            if v is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{px(i):.1f},{py(v):.1f}")
        if segment:
            segments.append(segment)
        dots = [
            {"x": _px(px(i)), "y": _px(py(v)), "title": f"{name} {labels[i]}: {_fmt(fmt, v)}"}
            for i, v in enumerate(values)
            if v is not None
        ]
        lines = [" ".join(seg) for seg in segments if len(seg) > 1]
        drawn.append({"color": color, "lines": lines, "dots": dots})
    chart["series"] = drawn
    return chart


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    color: str,
    *,
    fmt: Fmt = "{:.2f}",
    width: int = 340,
    height: int = 200,
) -> View:
    left, right, top, bottom = 56, 12, 12, 34
    pw, ph = width - left - right, height - top - bottom
    vals = [v for v in values if v is not None]
    if not vals:
        return {"empty": True, "width": width}
    top_v = _nice_max(max(vals))
    if fmt == "usd":
        fmt = usd_axis(top_v)
    n = len(labels)
    slot = pw / max(n, 1)
    bw = max(2.0, min(36.0, slot * 0.6))
    chart = _axes(
        left, width, right, height, fmt, [(top_v * k / 4, top + ph - ph * k / 4) for k in range(5)]
    )
    chart["color"] = color
    every = max(1, math.ceil(n / max(1, pw // 48)))
    bars = []
    for i, (lab, v) in enumerate(zip(labels, values)):
        cx = left + slot * (i + 0.5)
        bar = None
        if v is not None:
            h = (v / top_v) * ph if top_v else 0
            bar = {
                "x": _px(cx - bw / 2),
                "y": _px(top + ph - h),
                "width": _px(bw),
                "height": _px(max(h, 0.5)),
                "title": f"{lab}: {_fmt(fmt, v)}",
            }
        label = lab if i % every == 0 or i == n - 1 else None
        bars.append({"x": _px(cx), "bar": bar, "label": label})
    chart["bars"] = bars
    return chart


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
                "cost": _usd(r.get("cost_usd")),
                "ms": _num(r.get("latency_ms"), "{:.0f}"),
                "models": ", ".join(r.get("models") or ()),
            }
        )
    return {
        "id": str(p.get("id")),
        "latest": _s(versions[-1].get("version")) if versions else "–",
        "stage_versions": [_s(v or "–") for v in stages.values()],
        "stages": [(_s(s), _s(ver) if ver else "–") for s, ver in stages.items()],
        "timeline": timeline(versions),
        "quality": line_chart(
            labels,
            [
                ("pass rate", SERIES["pass rate"], [r.get("pass_rate") for r in runs]),
                ("mean score", SERIES["mean score"], [r.get("mean_score") for r in runs]),
            ],
            y_max=1.0,
        ),
        "cost": bar_chart(
            labels, [_per_thousand(r, "cost_usd") for r in runs], SERIES["cost"], fmt="usd"
        ),
        "latency": bar_chart(
            labels, [r.get("latency_ms") for r in runs], SERIES["latency"], fmt=_plain_number
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
