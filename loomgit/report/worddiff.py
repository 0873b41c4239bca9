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
    out: list[Segment] = []
    for op, text in segments:
        if not text:
            continue
        if out and out[-1][0] == op:
            out[-1] = (op, out[-1][1] + text)
        else:
            out.append((op, text))
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
