"""Layout of the inline SVG charts of the HTML overview: axes with nice ticks, bars,
lines, the version timeline. Plain data out (coordinates as strings, labels); the
template ``templates/report.html.j2`` draws them.

Rules that keep the charts honest and legible:

- ticks are multiples of 1, 2 or 5 times a power of ten, labelled with as many decimals
  as the step needs (``0, 0.002, 0.004``, never ``0, 0, 0, 0.01``);
- an axis has a floor for its top (``min_top``: 1 ms for latency), so a value of 0.004 ms
  is a sliver, not a bar as tall as a slow model's;
- the left margin is as wide as the longest tick label, so no label is cut;
- x labels are shortened (``…``, full text in a tooltip), thinned so none overlaps
  another, and kept inside the chart;
- in the line chart the first series is drawn as rings and the second as dots inside
  them, so two series with the same value are both seen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

View = dict[str, Any]
Fmt = Callable[[float], str]

CHAR_PX = 6.2  # width of one character at font-size 10 (a generous average)
LABEL_CHARS = 12  # x labels longer than this are shortened


def _px(v: float) -> str:
    return f"{v:.1f}"


def text_px(s: str, size: float = 10.0) -> float:
    return len(s) * CHAR_PX * size / 10.0


def shorten(s: str, limit: int = LABEL_CHARS) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


# --------------------------------------------------------------------------- ticks


def nice_ticks(v_max: float, *, min_top: float = 0.0, count: int = 4) -> tuple[list[float], int]:
    """Ticks from 0 to a nice top >= ``v_max`` (and >= ``min_top``), and the decimals
    their labels need."""
    top = max(v_max, min_top)
    if not top > 0 or not math.isfinite(top):
        top = 1.0
    raw = top / count
    exp = 10.0 ** math.floor(math.log10(raw))
    step = 10 * exp
    for m in (1, 2, 5, 10):
        if raw <= m * exp * (1 + 1e-9):
            step = m * exp
            break
    n = max(1, math.ceil(top / step - 1e-9))
    decimals = 0
    while decimals < 12 and abs(round(step, decimals) - step) > step * 1e-6:
        decimals += 1
    return [round(i * step, decimals + 2) for i in range(n + 1)], decimals


def number_axis(decimals: int, prefix: str = "") -> Fmt:
    return lambda v: f"{prefix}{v:,.{decimals}f}"


def percent_axis(v: float) -> str:
    return f"{v:.0%}"


def _axes(
    width: int, height: int, top: int, bottom: int, ticks: Sequence[float], fmt: Fmt
) -> tuple[View, Callable[[float], float], int]:
    labels = [fmt(t) for t in ticks]
    left = int(max(36.0, 10 + max(text_px(s) for s in labels)))
    ph = height - top - bottom
    t_max = ticks[-1] or 1.0

    def py(v: float) -> float:
        return top + ph - (max(0.0, min(v, t_max)) / t_max) * ph

    chart: View = {
        "width": width,
        "height": height,
        "left": left,
        "right": width - 12,
        "base_y": _px(top + ph),
        "empty": False,
        "grid": [
            {"y": _px(py(t)), "label_y": _px(py(t) + 3.5), "label": lab}
            for t, lab in zip(ticks, labels)
        ],
    }
    return chart, py, left


def _x_labels(
    labels: Sequence[str], xs: Sequence[float], width: int, y: float
) -> list[dict[str, str]]:
    """Shortened labels, every k-th one so that none overlaps the next, kept inside
    ``0..width``."""
    n = len(labels)
    if n == 0:
        return []
    short = [shorten(s) for s in labels]
    widest = max(text_px(s) for s in short) + 8
    spacing = (xs[-1] - xs[0]) / (n - 1) if n > 1 else float(width)
    every = max(1, math.ceil(widest / spacing)) if spacing > 0 else n
    out = []
    shown = [i for i in range(n) if i % every == 0]
    if n - 1 not in shown and (n - 1) - shown[-1] >= every:
        shown.append(n - 1)
    for i in shown:
        w = text_px(short[i])
        x = min(max(xs[i], w / 2 + 2), width - w / 2 - 2)
        out.append({"x": _px(x), "y": _px(y), "text": short[i], "title": labels[i]})
    return out


# --------------------------------------------------------------------------- charts


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    *,
    y_max: float | None = None,
    width: int = 340,
    height: int = 200,
) -> View:
    """A line chart of fractions (0..``y_max``); ``None`` values leave gaps."""
    vals = [v for _, _, s in series for v in s if v is not None]
    if not vals:
        return {"empty": True, "width": width}
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0] if y_max == 1.0 else nice_ticks(max(vals))[0]
    chart, py, left = _axes(width, height, 12, 34, ticks, percent_axis)
    pw = width - left - 12
    n = len(labels)
    xs = [left + (pw / 2 if n == 1 else i * pw / (n - 1)) for i in range(n)]
    chart["x_labels"] = _x_labels(labels, xs, width, height - 12)
    drawn = []
    for k, (name, color, values) in enumerate(series):
        segments: list[list[str]] = [[]]
        for i, v in enumerate(values):
            if v is None:
                segments.append([])
            else:
                segments[-1].append(f"{xs[i]:.1f},{py(v):.1f}")
        dots = [
            {"x": _px(xs[i]), "y": _px(py(v)), "title": f"{name} {labels[i]}: {v:.0%}"}
            for i, v in enumerate(values)
            if v is not None
        ]
        drawn.append(
            {
                "color": color,
                "ring": k == 0,  # the first series as rings, later ones as dots inside
                "lines": [" ".join(s) for s in segments if len(s) > 1],
                "dots": dots,
            }
        )
    chart["series"] = drawn
    return chart


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    color: str,
    *,
    prefix: str = "",
    min_top: float = 0.0,
    value_fmt: Fmt | None = None,
    width: int = 340,
    height: int = 200,
) -> View:
    """Bars from 0; the axis top is a nice number >= the largest value and >= ``min_top``."""
    vals = [v for v in values if v is not None]
    if not vals:
        return {"empty": True, "width": width}
    ticks, decimals = nice_ticks(max(vals), min_top=min_top)
    fmt = number_axis(max(decimals, 2) if prefix == "$" else decimals, prefix)  # $0.50
    show = value_fmt or (lambda v: f"{prefix}{v:.3g}")
    chart, py, left = _axes(width, height, 12, 34, ticks, fmt)
    pw = width - left - 12
    n = len(labels)
    slot = pw / max(n, 1)
    bw = max(2.0, min(36.0, slot * 0.6))
    xs = [left + slot * (i + 0.5) for i in range(n)]
    chart["color"] = color
    chart["x_labels"] = _x_labels(labels, xs, width, height - 12)
    bars = []
    for x, lab, v in zip(xs, labels, values):
        if v is None:
            continue
        y = py(v)
        h = py(0.0) - y
        bars.append(
            {
                "x": _px(x - bw / 2),
                "y": _px(y if h >= 1 else py(0.0) - 1),
                "width": _px(bw),
                "height": _px(max(h, 1.0)),  # a zero or tiny value: a 1 px sliver
                "title": f"{lab}: {show(v)}",
            }
        )
    chart["bars"] = bars
    return chart


def timeline(
    versions: Sequence[Mapping[str, Any]], colors: Mapping[str, str], max_width: int = 1080
) -> View | None:
    """Versions left to right, coloured by bump kind, with stage flags above (None: no
    versions). As wide as the versions need (a scroll box holds it on a narrow screen)."""
    n = len(versions)
    if n == 0:
        return None
    pad, height, y = 48, 120, 70
    step = max(28.0, min(120.0, (max_width - 2 * pad) / max(n - 1, 1)))
    width = int(2 * pad + step * (n - 1))
    xs = [pad + i * step for i in range(n)]
    # stage flags: each on the lowest row where it does not touch a flag placed before
    rows_right: list[float] = []
    placed: list[list[tuple[float, float, str, int]]] = []
    for x, v in zip(xs, versions):
        mine: list[tuple[float, float, str, int]] = []
        for stage in v.get("stages") or ():
            w = 8 + text_px(str(stage))
            cx = min(max(x, w / 2 + 1), width - w / 2 - 1)
            row = next((k for k, right in enumerate(rows_right) if cx - w / 2 > right + 4), None)
            if row is None:
                rows_right.append(0.0)
                row = len(rows_right) - 1
            rows_right[row] = cx + w / 2
            mine.append((cx, w, str(stage), row))
        placed.append(mine)
    lift = 18 * max(0, len(rows_right) - 3)  # more rows than fit above the line: move it down
    y += lift
    height += lift
    labels = _x_labels([str(v.get("version")) for v in versions], xs, width, y + 28)
    by_x = {lab["title"]: lab for lab in labels}
    dots = []
    for x, v, mine in zip(xs, versions, placed):
        bump = str(v.get("bump") or "minor")
        r = 9 if bump == "major" else 7 if bump in ("minor", "initial") else 5
        title = f"{v.get('version')} ({bump}) {v.get('commit') or ''} {v.get('subject') or ''}"
        flags = [
            {
                "y": y - 22 - row * 18,
                "x": _px(cx),
                "rect_x": _px(cx - w / 2),
                "width": _px(w),
                "stage": stage,
            }
            for cx, w, stage, row in mine
        ]
        dots.append(
            {
                "x": _px(x),
                "r": r,
                "color": colors.get(bump, "#6b7280"),
                "title": title.strip(),
                "label": by_x.get(str(v.get("version"))),
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
