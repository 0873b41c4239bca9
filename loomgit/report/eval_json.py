"""The JSON report of an eval (``--json``, ``-o FILE``), written in pieces.

The text is exactly ``json.dumps(report.to_dict(), indent=2, ensure_ascii=False)``, but
the document is never built whole: the head (schema, summary, suites) and the tail are
one small document, and the results come one at a time from the report's cases (read
back from the spool), each dumped on its own and indented to its place. ``fix`` is
applied to every piece of data before it is dumped (the redactor's ``data``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from json.encoder import encode_basestring as _quote  # C, as json.dumps uses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loomgit.evals.comparison import Comparison
    from loomgit.evals.results import EvalReport

__all__ = ["batched", "compare_json", "report_json"]

_RESULTS = '\n  "results": []'  # the key as a top-level one (two spaces) with no results
_CASES = '\n  "cases": []'
_BEFORE, _AFTER = "@@loomgit:before@@", "@@loomgit:after@@"  # a top-level key's placeholder


def _dumps(data: Any) -> str:
    """``json.dumps(data, indent=2, ensure_ascii=False, default=str)``, the same text at
    about half the cost: json's indenting encoder is pure Python generators (the C one
    does not indent), and it was the larger half of writing a report."""
    out: list[str] = []
    _encode(data, "\n", out)
    return "".join(out)


_INF = float("inf")


def _float(o: float) -> str:
    if o != o:
        return "NaN"
    if o == _INF:
        return "Infinity"
    if o == -_INF:
        return "-Infinity"
    return float.__repr__(o)


def _key(k: Any) -> str:
    if isinstance(k, str):
        return _quote(k)
    if isinstance(k, float):
        return _quote(_float(k))
    if k is True or k is False or k is None:
        return '"' + {True: "true", False: "false", None: "null"}[k] + '"'
    if isinstance(k, int):
        return _quote(int.__repr__(k))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(k).__name__}")


def _encode(o: Any, pad: str, out: list[str]) -> None:
    """``o`` as json writes it at indent 2, ``pad`` being its line's newline and indent."""
    if isinstance(o, str):
        out.append(_quote(o))
    elif o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif isinstance(o, int):
        out.append(int.__repr__(o))
    elif isinstance(o, float):
        out.append(_float(o))
    elif isinstance(o, dict):
        if not o:
            out.append("{}")
            return
        inner = pad + "  "
        sep = "{" + inner
        for k, v in o.items():
            out.append(sep + _key(k) + ": ")
            sep = "," + inner
            _encode(v, inner, out)
        out.append(pad + "}")
    elif isinstance(o, (list, tuple)):
        if not o:
            out.append("[]")
            return
        inner = pad + "  "
        sep = "[" + inner
        for v in o:
            out.append(sep)
            sep = "," + inner
            _encode(v, inner, out)
        out.append(pad + "]")
    else:
        _encode(str(o), pad, out)  # default=str


def _fix(d: Any) -> Any:
    return d


def _items(key: str, items: Iterable[Any], fix: Callable[[Any], Any]) -> Iterator[str]:
    """A top-level ``"key": [...]`` (replacing ``"key": []``), one item at a time."""
    first = True
    for x in items:
        item = _dumps(fix(x.to_dict())).replace("\n", "\n    ")
        yield (f'\n  "{key}": [\n    ' if first else ",\n    ") + item
        first = False
    yield f'\n  "{key}": []' if first else "\n  ]"


def report_json(
    report: EvalReport, fix: Callable[[Any], Any] = _fix, level: int = 0
) -> Iterator[str]:
    """The pieces of the report's JSON text (no newline at the end), indented as the
    value of a key ``level`` deep."""
    pad = "\n" + "  " * level
    head = _dumps(fix(report.to_dict(results=False)))
    cut = head.index(_RESULTS)  # a string's newlines are escaped: only the key can match
    yield head[:cut].replace("\n", pad)
    for piece in _items("results", report.results, fix):
        yield piece.replace("\n", pad)
    yield head[cut + len(_RESULTS) :].replace("\n", pad)


def compare_json(cmp: Comparison, fix: Callable[[Any], Any] = _fix) -> Iterator[str]:
    """The pieces of a comparison's JSON text: its own keys, its cases one at a time,
    then the base's and the head's reports (``before``, ``after``) streamed as
    :func:`report_json` does."""
    d = cmp.to_dict(reports=False)
    d["cases"], d["before"], d["after"] = [], _BEFORE, _AFTER
    head = _dumps(fix(d))
    c = head.index(_CASES)
    b = head.index(f'\n  "before": "{_BEFORE}"')
    a = head.index(f'\n  "after": "{_AFTER}"')
    yield head[:c]
    yield from _items("cases", cmp.cases, fix)
    yield head[c + len(_CASES) : b] + '\n  "before": '
    yield from report_json(cmp.base, fix, 1)
    yield head[b + len(_BEFORE) + 15 : a] + '\n  "after": '
    yield from report_json(cmp.head, fix, 1)
    yield head[a + len(_AFTER) + 14 :]


def batched(pieces: Iterable[str], size: int = 1 << 16) -> Iterator[str]:
    """The same text in pieces of about ``size`` characters (fewer writes)."""
    buf: list[str] = []
    n = 0
    for p in pieces:
        buf.append(p)
        n += len(p)
        if n >= size:
            yield "".join(buf)
            buf, n = [], 0
    if buf:
        yield "".join(buf)
