"""Word-level differences between two answers, for the review page.

``word_diff(old, new)`` gives segments ``(op, text)`` with ``op`` one of ``"same"``,
``"del"`` (in ``old`` only) and ``"ins"`` (in ``new`` only), which read in order give
``new`` when the ``del`` ones are skipped and ``old`` when the ``ins`` ones are. Words,
runs of white space and single punctuation marks are the units, so a changed comma or
line break shows as itself. Very long answers (over ``MAX_TOKENS`` units on a side) are
compared line by line instead, which keeps the page fast to build.
"""

from __future__ import annotations

import difflib
import re

MAX_TOKENS = 4000
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)

Segment = tuple[str, str]


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _merge(segments: list[Segment]) -> list[Segment]:
    """Each run of changes as one deletion then one insertion; white space alone
    between two changes joins them (``floor three`` -> ``urgently needs`` reads as
    one replacement, not two)."""
    out: list[Segment] = []
    dels: list[str] = []
    ins: list[str] = []

    def flush() -> None:
        if dels:
            out.append(("del", "".join(dels)))
        if ins:
            out.append(("ins", "".join(ins)))
        dels.clear()
        ins.clear()

    for k, (op, text) in enumerate(segments):
        if not text:
            continue
        if op == "same":
            between = (dels or ins) and k + 1 < len(segments) and segments[k + 1][0] != "same"
            if between and not text.strip():
                dels.append(text)
                ins.append(text)
                continue
            flush()
            out.append((op, text))
        else:
            (dels if op == "del" else ins).append(text)
    flush()
    return out


def word_diff(old: str, new: str) -> list[Segment]:
    """The segments that turn ``old`` into ``new`` (see the module docstring)."""
    if old == new:
        return [("same", new)] if new else []
    a, b = tokens(old), tokens(new)
    if len(a) > MAX_TOKENS or len(b) > MAX_TOKENS:
        a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    segments: list[Segment] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(("same", "".join(b[j1:j2])))
            continue
        if op in ("delete", "replace"):
            segments.append(("del", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            segments.append(("ins", "".join(b[j1:j2])))
    return _merge(segments)
