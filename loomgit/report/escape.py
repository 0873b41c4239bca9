"""Text loomgit did not write (model output, case names, prompt ids from a pull request)
made inert for Markdown, so that it cannot hide, fake or restyle results."""

from __future__ import annotations

import re

_MD_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>=:\"'$^])")
_INVISIBLE = re.compile(
    "[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff]"
)


def md_text(text: object, limit: int | None = 300) -> str:
    """Text from outside loomgit (model output, case names, ids) made inert for a
    Markdown table cell or a line: one line, every Markdown character escaped, HTML
    characters as entities, @mentions broken, bidi and zero-width characters dropped.

    It cannot open a tag or comment (so it cannot hide what follows), start a table
    row, a heading, a link or an image, close a ``<details>``, or ping anyone.
    """
    s = "" if text is None else str(text)
    s = _INVISIBLE.sub("", s)
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;")
    s = _MD_PUNCT.sub(r"\\\1", s)
    s = s.replace("@", "@&#8203;")  # as Dependabot does: no notification
    s = s.replace("\n", " ⏎ ")
    return s


def md_code(text: object, limit: int | None = 2000) -> str:
    """Text shown verbatim in a fenced block whose fence is longer than any run of
    backticks in it, so the text cannot close the block early. HTML inside a fenced
    block is not rendered. Zero-width and bidi characters are dropped."""
    s = "" if text is None else str(text)
    s = _INVISIBLE.sub("", s).replace("\r\n", "\n").replace("\r", "\n")
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + "…"
    longest = max((len(m) for m in re.findall(r"`+|~+", s)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{s}\n{fence}"
