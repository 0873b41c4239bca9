"""Matching JSON values: the subset rule ``tool_called`` and ``json_subset`` use, the path
syntax of ``json_path``, and how a place in a value is written in messages (``$.a[0]``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

_SEGMENT = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def where(path: Sequence[str | int]) -> str:
    """``["items", 0, "sku"]`` -> ``$.items[0].sku``."""
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def same(a: Any, b: Any) -> bool:
    """JSON equality: 1 equals 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(type(a) is type(b) or (_num(a) and _num(b))) and a == b


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def shown(v: Any, n: int = 40) -> str:
    s = json.dumps(v, ensure_ascii=False, default=str)
    return s if len(s) <= n else s[: n - 1] + "…"


def subset_problem(expected: Any, actual: Any, path: tuple[str | int, ...] = ()) -> str | None:
    """Why ``actual`` does not hold ``expected``, or None. A mapping matches when every key
    it names is present and matches (other keys may be there too); a list matches a list
    of the same length whose items match in order; anything else must be equal."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"{where(path)}: expected an object, got {shown(actual)}"
        for k, v in expected.items():
            if k not in actual:
                return f"{where((*path, k))}: missing"
            problem = subset_problem(v, actual[k], (*path, k))
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{where(path)}: expected {shown(expected)}, got {shown(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            problem = subset_problem(e, a, (*path, i))
            if problem:
                return problem
        return None
    if not same(expected, actual):
        return f"{where(path)}: expected {shown(expected)}, got {shown(actual)}"
    return None


def parse_path(text: str) -> list[str | int] | None:
    """``$.items[0].sku`` or ``items[0].sku`` -> ``["items", 0, "sku"]``; None when the
    text is not a path."""
    body = text.strip()
    if body.startswith("$"):
        body = body[1:]
    out: list[str | int] = []
    pos = 0
    while pos < len(body):
        m = _SEGMENT.match(body, pos)
        if m is None:
            return None
        out.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    return out


def lookup(value: Any, path: Sequence[str | int]) -> tuple[bool, Any]:
    """(found, the value at ``path``)."""
    cur = value
    for p in path:
        if isinstance(p, int) and isinstance(cur, list) and -len(cur) <= p < len(cur):
            cur = cur[p]
        elif isinstance(p, str) and isinstance(cur, Mapping) and p in cur:
            cur = cur[p]
        else:
            return False, None
    return True, cur
