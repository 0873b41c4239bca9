"""A self-contained HTML overview: one file, no server, no CDN, no JavaScript.

``render_html(data)`` takes plain data (as built by :func:`loomgit.batch.lineage.overview`)
and returns the page. Charts are inline SVG drawn here. Every text that comes from the
repository (ids, commit subjects, model names) is HTML-escaped.

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

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

BUMP_COLORS = {
    "major": "#d7263d",
    "minor": "#2e5eaa",
    "patch": "#8a8f98",
    "initial": "#1b998b",
    "dev": "#c98b00",
}
SERIES = {"pass rate": "#1b998b", "mean score": "#2e5eaa", "cost": "#c98b00", "latency": "#7d3c98"}

_CSS = """
:root { --fg:#1d2330; --muted:#667085; --line:#e3e6ea; --bg:#ffffff; --card:#f7f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: var(--bg); margin: 0 auto; padding: 24px 32px;
       max-width: 1240px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 2px; font-family: ui-monospace, Menlo, monospace; }
h3 { font-size: 13px; margin: 14px 0 6px; color: var(--muted); text-transform: uppercase;
     letter-spacing: .04em; }
.meta { color: var(--muted); margin-bottom: 20px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
        padding: 16px 20px; margin: 0 0 20px; }
.stages span { display: inline-block; margin: 4px 6px 0 0; padding: 2px 8px; border-radius: 12px;
               background: #fff; border: 1px solid var(--line); font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.charts figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 8px;
                 padding: 8px; }
figcaption { font-size: 12px; color: var(--muted); margin: 0 0 4px 4px; }
table { border-collapse: collapse; width: 100%; margin-top: 8px; background: #fff; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
         font-size: 12.5px; vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, Menlo, monospace; font-size: 12px; }
.bump { display: inline-block; padding: 0 6px; border-radius: 8px; color: #fff; font-size: 11px; }
.legend span { margin-right: 12px; font-size: 12px; color: var(--muted); }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
            margin-right: 4px; vertical-align: -1px; }
.empty { color: var(--muted); font-style: italic; }
svg { max-width: 100%; height: auto; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
"""


def _e(v: Any) -> str:
    return escape("" if v is None else str(v), quote=True)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.0f}%"


def _num(v: float | None, fmt: str = "{:.2f}") -> str:
    return "–" if v is None else fmt.format(v)


def _usd(v: float | None) -> str:
    if v is None:
        return "–"
    return f"${v:.4f}" if v < 1 else f"${v:,.2f}"


Fmt = str | Callable[[float], str]


def _plain_number(v: float) -> str:
    """1,250 / 3.75 / 2.5: no decimals that are zero, and no rounding of axis ticks."""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}".rstrip("0").rstrip(".")


def _fmt(fmt: Fmt, v: float) -> str:
    return fmt(v) if callable(fmt) else fmt.format(v)


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
            return m * exp
    return 10 * exp


def timeline_svg(versions: Sequence[Mapping[str, Any]], width: int = 1080) -> str:
    """Versions left to right, coloured by bump kind, with stage flags above."""
    n = len(versions)
    if n == 0:
        return '<p class="empty">no versions</p>'
    pad, height, y = 40, 120, 70
    step = min((width - 2 * pad) / max(n - 1, 1), 140.0)
    xs = [pad + i * step if n > 1 else pad for i in range(n)]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="version timeline">',
        f'<line x1="{xs[0]:.1f}" y1="{y}" x2="{xs[-1]:.1f}" y2="{y}" stroke="#c5cad3" '
        'stroke-width="2"/>',
    ]

    label_every = max(1, math.ceil(n / max(1, (width - 2 * pad) // 56)))
    for i, (x, v) in enumerate(zip(xs, versions)):
        bump = str(v.get("bump") or "minor")
        color = BUMP_COLORS.get(bump, "#8a8f98")
        r = 9 if bump == "major" else 7 if bump in ("minor", "initial") else 5
        title = f"{v.get('version')} ({bump}) {v.get('commit') or ''} {v.get('subject') or ''}"
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y}" r="{r}" fill="{color}" stroke="#fff" '
            f'stroke-width="2"><title>{_e(title.strip())}</title></circle>'
        )
        if i % label_every == 0 or i == n - 1 or v.get("stages"):
            parts.append(
                f'<text x="{x:.1f}" y="{y + 28}" font-size="11" text-anchor="middle" '
                f'fill="#1d2330">{_e(v.get("version"))}</text>'
            )
        for j, stage in enumerate(v.get("stages") or ()):
            sy = y - 22 - j * 18
            w = 8 + 6.5 * len(str(stage))
            parts.append(
                f'<line x1="{x:.1f}" y1="{y - r}" x2="{x:.1f}" y2="{sy + 7}" '
                'stroke="#1d2330" stroke-width="1"/>'
            )
            parts.append(
                f'<rect x="{x - w / 2:.1f}" y="{sy - 7}" width="{w:.1f}" height="15" '
                'rx="7" fill="#1d2330"/>'
            )
            parts.append(
                f'<text x="{x:.1f}" y="{sy + 4}" font-size="10" text-anchor="middle" '
                f'fill="#fff">{_e(stage)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def line_chart_svg(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    *,
    y_max: float | None = None,
    fmt: Fmt = "{:.0%}",
    width: int = 340,
    height: int = 200,
) -> str:
    """A line chart; ``None`` values leave gaps. ``y_max`` None: from the data."""
    left, right, top, bottom = 46, 12, 12, 34
    pw, ph = width - left - right, height - top - bottom
    vals = [v for _, _, s in series for v in s if v is not None]
    if not vals:
        return f'<p class="empty" style="width:{width}px">no recorded runs</p>'
    top_v = y_max if y_max is not None else _nice_max(max(vals))
    n = len(labels)

    def px(i: int) -> float:
        return left + (pw / 2 if n == 1 else i * pw / (n - 1))

    def py(v: float) -> float:
        return top + ph - (v / top_v) * ph if top_v else top + ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    for k in range(5):
        gv = top_v * k / 4
        gy = py(gv)
        out.append(
            f'<line x1="{left}" y1="{gy:.1f}" x2="{width - right}" y2="{gy:.1f}" stroke="#eceef1"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{gy + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#667085">{_e(_fmt(fmt, gv))}</text>'
        )
    every = max(1, math.ceil(n / max(1, pw // 48)))
    for i, lab in enumerate(labels):
        if i % every == 0 or i == n - 1:
            out.append(
                f'<text x="{px(i):.1f}" y="{height - 12}" font-size="10" '
                f'text-anchor="middle" fill="#667085">{_e(lab)}</text>'
            )
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
        for seg in segments:
            if len(seg) > 1:
                out.append(
                    f'<polyline points="{" ".join(seg)}" fill="none" stroke="{color}" '
                    'stroke-width="2"/>'
                )
        for i, v in enumerate(values):
            if v is not None:
                out.append(
                    f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="3.5" fill="{color}">'
                    f"<title>{_e(name)} {_e(labels[i])}: {_e(_fmt(fmt, v))}</title>"
                    "</circle>"
                )
    out.append("</svg>")
    return "".join(out)


def bar_chart_svg(
    labels: Sequence[str],
    values: Sequence[float | None],
    color: str,
    *,
    fmt: Fmt = "{:.2f}",
    width: int = 340,
    height: int = 200,
) -> str:
    left, right, top, bottom = 56, 12, 12, 34
    pw, ph = width - left - right, height - top - bottom
    vals = [v for v in values if v is not None]
    if not vals:
        return f'<p class="empty" style="width:{width}px">no recorded runs</p>'
    top_v = _nice_max(max(vals))
    if fmt == "usd":
        fmt = usd_axis(top_v)
    n = len(labels)
    slot = pw / max(n, 1)
    bw = max(2.0, min(36.0, slot * 0.6))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    for k in range(5):
        gv = top_v * k / 4
        gy = top + ph - ph * k / 4
        out.append(
            f'<line x1="{left}" y1="{gy:.1f}" x2="{width - right}" y2="{gy:.1f}" stroke="#eceef1"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{gy + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#667085">{_e(_fmt(fmt, gv))}</text>'
        )
    every = max(1, math.ceil(n / max(1, pw // 48)))
    for i, (lab, v) in enumerate(zip(labels, values)):
        cx = left + slot * (i + 0.5)
        if v is not None:
            h = (v / top_v) * ph if top_v else 0
            out.append(
                f'<rect x="{cx - bw / 2:.1f}" y="{top + ph - h:.1f}" width="{bw:.1f}" '
                f'height="{max(h, 0.5):.1f}" fill="{color}" rx="2">'
                f"<title>{_e(lab)}: {_e(_fmt(fmt, v))}</title></rect>"
            )
        if i % every == 0 or i == n - 1:
            out.append(
                f'<text x="{cx:.1f}" y="{height - 12}" font-size="10" '
                f'text-anchor="middle" fill="#667085">{_e(lab)}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def _legend(items: Sequence[tuple[str, str]]) -> str:
    return (
        '<div class="legend">'
        + "".join(f'<span><i style="background:{c}"></i>{_e(n)}</span>' for n, c in items)
        + "</div>"
    )


def _prompt_section(p: Mapping[str, Any]) -> str:
    versions = list(p.get("versions") or [])
    labels = [str(v.get("version")) for v in versions]
    runs = [v.get("runs") or {} for v in versions]
    stages = p.get("stages") or {}
    stage_html = (
        "".join(
            f"<span><b>{_e(s)}</b> {_e(ver) if ver else '–'}</span>" for s, ver in stages.items()
        )
        or '<span class="empty">no stages</span>'
    )
    pid = str(p.get("id"))
    out = [
        f'<section class="card" id="{_e(pid)}"><h2>{_e(pid)}</h2>',
        f'<div class="stages">{stage_html}</div>',
        "<h3>Versions</h3>",
        timeline_svg(versions),
        _legend([(k, c) for k, c in BUMP_COLORS.items() if k != "dev"]),
    ]
    out.append('<h3>Quality, cost and latency per version</h3><div class="charts">')
    out.append(
        "<figure><figcaption>pass rate and mean score</figcaption>"
        + line_chart_svg(
            labels,
            [
                ("pass rate", SERIES["pass rate"], [r.get("pass_rate") for r in runs]),
                ("mean score", SERIES["mean score"], [r.get("mean_score") for r in runs]),
            ],
            y_max=1.0,
        )
        + _legend([("pass rate", SERIES["pass rate"]), ("mean score", SERIES["mean score"])])
        + "</figure>"
    )
    out.append(
        "<figure><figcaption>cost per 1,000 records (USD)</figcaption>"
        + bar_chart_svg(
            labels, [_per_thousand(r, "cost_usd") for r in runs], SERIES["cost"], fmt="usd"
        )
        + "</figure>"
    )
    out.append(
        "<figure><figcaption>mean latency (ms)</figcaption>"
        + bar_chart_svg(
            labels, [r.get("latency_ms") for r in runs], SERIES["latency"], fmt=_plain_number
        )
        + "</figure>"
    )
    out.append("</div>")
    rows = []
    for v, r in zip(reversed(versions), reversed(runs)):
        bump = str(v.get("bump") or "")
        color = BUMP_COLORS.get(bump, "#8a8f98")
        stage_list = ", ".join(map(str, v.get("stages") or ()))
        rows.append(
            "<tr>"
            f"<td><code>{_e(v.get('version'))}</code></td>"
            f'<td><span class="bump" style="background:{color}">{_e(bump)}</span></td>'
            f"<td>{_e(stage_list)}</td>"
            f"<td><code>{_e((v.get('commit') or '')[:7])}</code> {_e(v.get('subject'))}</td>"
            f"<td>{_e((v.get('date') or '')[:10])}</td>"
            f'<td class="num">{_e(r.get("runs", 0) or 0)}</td>'
            f'<td class="num">{_e(r.get("records", 0) or 0)}</td>'
            f'<td class="num">{_pct(r.get("pass_rate"))}</td>'
            f'<td class="num">{_num(r.get("mean_score"))}</td>'
            f'<td class="num">{_usd(r.get("cost_usd"))}</td>'
            f'<td class="num">{_num(r.get("latency_ms"), "{:.0f}")}</td>'
            f"<td>{_e(', '.join(r.get('models') or ()))}</td>"
            "</tr>"
        )
    out.append(
        "<table><thead><tr><th>version</th><th>bump</th><th>stages</th><th>commit</th>"
        "<th>date</th><th>runs</th><th>records</th><th>pass</th><th>score</th>"
        "<th>cost</th><th>ms</th><th>models</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )
    return "".join(out)


def _per_thousand(r: Mapping[str, Any], key: str) -> float | None:
    total, n = r.get(key), r.get("records")
    if total is None or not n:
        return None
    return 1000 * float(total) / float(n)


def render_html(data: Mapping[str, Any]) -> str:
    """The whole page as one string."""
    prompts = list(data.get("prompts") or [])
    title = str(data.get("title") or "loomgit report")
    index = "".join(
        f'<tr><td><a href="#{_e(p.get("id"))}"><code>{_e(p.get("id"))}</code></a></td>'
        f"<td>{_e((p.get('versions') or [{}])[-1].get('version') if p.get('versions') else '–')}</td>"
        + "".join(f"<td>{_e(v or '–')}</td>" for v in (p.get("stages") or {}).values())
        + "</tr>"
        for p in prompts
    )
    stage_names = list((prompts[0].get("stages") or {}).keys()) if prompts else []
    head = "".join(f"<th>{_e(s)}</th>" for s in stage_names)
    body = "".join(_prompt_section(p) for p in prompts) or '<p class="empty">no prompts found</p>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<div class="meta">{_e(data.get("root") or "")} · generated {_e(data.get("generated_at"))}'
        f" · {len(prompts)} prompt(s)</div>"
        f'<section class="card"><table><thead><tr><th>prompt</th><th>latest</th>{head}</tr>'
        f"</thead><tbody>{index}</tbody></table></section>"
        f"{body}</body></html>\n"
    )
