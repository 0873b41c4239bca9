"""Text loomgit did not write (file names, ids, variable names, versions, commit messages,
model output, case names) made harmless for the two media loomgit writes to: a terminal
(:func:`term_text`, :func:`term_lines`) and Markdown (:func:`md_text`, :func:`md_code`,
:func:`md_inline`). Every output of names goes through one of them.

Control characters (C0, DEL, C1), bidi overrides and isolates and zero-width characters
are shown, never passed on: a newline as ``\\n``, a carriage return as ``\\r``, a tab as
``\\t``, anything else as ``\\uXXXX`` (``\\u202e`` for the right-to-left override, ``\\u001b``
for ESC). So a name cannot start a fake line, rewrite the line it is on, send terminal
escape sequences, or display in an order other than the one it is stored in. The
``\\uXXXX`` form is also a JSON escape, so JSON output passed through :func:`term_lines`
still decodes to the same text.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, the Arabic letter mark, zero-width and bidi marks, line and
# paragraph separators, embeddings and overrides, word joiners and isolates, the BOM.
_RANGES: tuple[tuple[int, int], ...] = (
    (0x00, 0x1F),
    (0x7F, 0x9F),
    (0x61C, 0x61C),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2069),
    (0xFEFF, 0xFEFF),
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SHOW = {
    cp: _NAMED.get(chr(cp)) or f"\\u{cp:04x}" for lo, hi in _RANGES for cp in range(lo, hi + 1)
}
_SHOW_IN_LINES = {cp: v for cp, v in _SHOW.items() if chr(cp) not in "\n\t"}
_MD_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>=:\"'$^])")


def visible(text: object) -> str:
    """``text`` on one line with every unsafe character shown as an escape."""
    return ("" if text is None else str(text)).translate(_SHOW)


def term_text(text: object) -> str:
    """A name or a message for the terminal: one line, unsafe characters shown."""
    return visible(text)


def term_lines(text: object) -> str:
    """Text loomgit laid out in lines (a report, JSON): its newlines and tabs kept,
    every other unsafe character shown."""
    return ("" if text is None else str(text)).translate(_SHOW_IN_LINES)


def md_text(text: object, limit: int | None = 300) -> str:
    """Text from outside loomgit (model output, case names, ids) made inert for a
    Markdown table cell or a line: one line, every Markdown character escaped, HTML
    characters as entities, @mentions broken, unsafe characters shown as escapes.

    It cannot open a tag or comment (so it cannot hide what follows), start a table
    row, a heading, a link or an image, close a ``<details>``, or ping anyone.
    """
    s = "" if text is None else str(text)
    s = visible(s.replace("\r\n", "\n"))
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;")
    s = _MD_PUNCT.sub(r"\\\1", s)
    s = s.replace("@", "@&#8203;")  # as Dependabot does: no notification
    return s.replace("://", "&#58;//")


def md_inline(text: object, limit: int | None = 120) -> str:
    """An inline code span of one line (backticks inside cannot close it)."""
    s = visible(("" if text is None else str(text)).replace("\r\n", "\n")).replace("`", "'")
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + "…"
    return f"`{s}`"


def md_code(text: object, limit: int | None = 2000) -> str:
    """Text shown verbatim in a fenced block whose fence is longer than any run of
    backticks in it, so the text cannot close the block early. HTML inside a fenced
    block is not rendered. Line breaks are kept; other unsafe characters are shown."""
    s = "" if text is None else str(text)
    s = term_lines(s.replace("\r\n", "\n"))
    if limit is not None and len(s) > limit:
        s = s[: max(limit - 1, 0)] + "…"
    longest = max((len(m) for m in re.findall(r"`+|~+", s)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{s}\n{fence}"
