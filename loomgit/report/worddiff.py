"""Word-level differences between two answers, for the review page.

``word_diff(old, new)`` gives segments ``(op, text)`` with ``op`` one of ``"same"``,
``"del"`` (in ``old`` only) and ``"ins"`` (in ``new`` only), which read in order give
``new`` when the ``del`` ones are skipped and ``old`` when the ``ins`` ones are. Words
and single punctuation marks, each with the white space after it, are the units, so a
changed comma shows as itself. Very long answers (over ``MAX_TOKENS`` units on a side) are
compared line by line instead, which keeps the page fast to build.
"""

from __future__ import annotations

import difflib
import re

MAX_TOKENS = 4000
# a word or a punctuation mark with the white space after it; white space that starts
# the text or stands alone is a unit of its own
_TOKEN = re.compile(r"\w+\s*|[^\w\s]\s*|\s+", re.UNICODE)

Segment = tuple[str, str]


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _keys(toks: list[str]) -> list[str]:
    return [t.rstrip() or t for t in toks]


def _merge(segments: list[Segment]) -> list[Segment]:
    """Each run of changes as one deletion then one insertion; white space alone
    between two changes joins them (``floor three`` -> ``urgently needs`` reads as
    one replacement, not two)."""
    out: list[Segment] = []
    dels: list[str] = []
    ins: list[str] = []

    def flush() -> None:
        d, i = "".join(dels), "".join(ins)
        # white space that ends both sides is in both texts: show it as unchanged
        common = ""
        if d and i:
            sd, si = d[len(d.rstrip()) :], i[len(i.rstrip()) :]
            while common != sd and common != si and sd[-len(common) - 1] == si[-len(common) - 1]:
                common = sd[-len(common) - 1 :]
        if d[: len(d) - len(common)]:
            out.append(("del", d[: len(d) - len(common)]))
        if i[: len(i) - len(common)]:
            out.append(("ins", i[: len(i) - len(common)]))
        if common:
            out.append(("same", common))
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
            if out and out[-1][0] == "same":
                out[-1] = ("same", out[-1][1] + text)
            else:
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
    # the common start and end need no matcher (most edits are small)
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    segments: list[Segment] = [("same", "".join(b[:head]))]
    a_mid, b_mid = a[head : len(a) - tail], b[head : len(b) - tail]
    # words match whatever white space follows them ("ticket:" / "ticket in"), which
    # then shows as its own small change
    matcher = difflib.SequenceMatcher(None, _keys(a_mid), _keys(b_mid), autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for x, y in zip(a_mid[i1:i2], b_mid[j1:j2]):
                if x == y:
                    segments.append(("same", y))
                    continue
                word = y.rstrip() or y
                segments.append(("same", word))
                segments.append(("del", x[len(word) :]))
                segments.append(("ins", y[len(word) :]))
            continue
        if op in ("delete", "replace"):
            segments.append(("del", "".join(a_mid[i1:i2])))
        if op in ("insert", "replace"):
            segments.append(("ins", "".join(b_mid[j1:j2])))
    segments.append(("same", "".join(b[len(b) - tail :])))
    return _merge(segments)
