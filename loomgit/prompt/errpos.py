"""Where a template syntax error is: the line and column of the mistake itself.

Jinja reports a lexer error as a character offset (``unexpected char '$' at 3345``), an
unclosed ``{{`` at the line where it gave up (the next line, or the end of the file)
and an unclosed block at the end of the template. :func:`syntax_place` turns each into
the place a person must look at: the offset's line and column, the ``{{``/``{%``/``{#``
that is never closed, the block tag that has no end. It reads only the source text and
the error's message and line, so it needs no Jinja import.
"""

from __future__ import annotations

import re
from typing import Any

from loomgit.errors import RenderError

Place = tuple[int, "int | None", str]  # (line, column, message)

TEMPLATE_NONE_HINT = (
    "if this file's braces are literal text, set `template: none` on its glob entry in loomgit.yaml"
)
_AT_OFFSET = re.compile(r"^(.*) at (\d+)$", re.DOTALL)
_OPENERS = re.compile(r"\{[{%#]")
_RAW = re.compile(r"\{%[-+]?\s*raw\s*[-+]?%\}")
_ENDRAW = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")
_TAG = re.compile(r"\{%[-+]?\s*(\w+)([^%]*)")
_BLOCKS = {"for", "if", "macro", "call", "filter", "block", "with", "autoescape", "trans"}
_CLOSE = {"{{": "}}", "{%": "%}", "{#": "#}"}
_NAMES = {"{{": "'{{'", "{%": "'{%'", "{#": "comment '{#'"}


def normalize(source: str) -> str:
    """The source as Jinja's lexer counts it: every line break one ``\\n``."""
    return source.replace("\r\n", "\n").replace("\r", "\n")


def _line_col(source: str, pos: int) -> tuple[int, int]:
    return source.count("\n", 0, pos) + 1, pos - source.rfind("\n", 0, pos)


def unclosed_tag(source: str) -> tuple[int, str] | None:
    """(offset, opener) of the first ``{{``, ``{%``, ``{#`` or raw block never closed."""
    pos = 0
    while (m := _OPENERS.search(source, pos)) is not None:
        start, opener = m.start(), m.group()
        if opener == "{%" and (raw := _RAW.match(source, start)) is not None:
            end = _ENDRAW.search(source, raw.end())
            if end is None:
                return start, "raw block"
            pos = end.end()
            continue
        close = source.find(_CLOSE[opener], m.end())
        if close < 0:
            return start, _NAMES[opener]
        pos = close + 2
    return None


def open_blocks(source: str, upto_line: int | None = None) -> list[tuple[str, int]]:
    """The block tags still open (name, offset), outermost first, at the end of the
    source or before line ``upto_line``."""
    stack: list[tuple[str, int]] = []
    text = source
    for raw in _RAW.finditer(source):  # a raw block's content is text
        end = _ENDRAW.search(source, raw.end())
        stop = end.start() if end else len(source)
        text = text[: raw.end()] + " " * (stop - raw.end()) + text[stop:]
    text = re.sub(r"\{#.*?#\}", lambda m: " " * len(m.group()), text, flags=re.DOTALL)
    for m in _TAG.finditer(text):
        if upto_line is not None and text.count("\n", 0, m.start()) + 1 >= upto_line:
            break
        name, rest = m.group(1), m.group(2)
        if name in _BLOCKS or (name == "set" and "=" not in rest):
            stack.append((name, m.start()))
        elif name.startswith("end") and stack and stack[-1][0] == name[3:]:
            stack.pop()
    return stack


def _column(line_text: str, message: str) -> int | None:
    """The column, on the line Jinja names, of what its message is about."""
    pats = []
    if (m := re.search(r"unknown tag '(\w+)'", message)) is not None:
        pats.append(r"\{%[-+]?\s*" + re.escape(m.group(1)) + r"\b")
    if (m := re.search(r"No (filter|test) named '([\w.]+)'", message)) is not None:
        pats.append(
            (r"\|\s*" if m.group(1) == "filter" else r"\bis\s+(?:not\s+)?")
            + re.escape(m.group(2))
            + r"\b"
        )
    for m in re.finditer(r"(?:unexpected|got) '([^']+)'", message):
        pats.append(re.escape(m.group(1)))
    pats.append(r"\{[{%]")
    for pat in pats:
        found = re.search(pat, line_text)
        if found is not None:
            return found.start() + 1
    return None


def syntax_place(source: str, message: str, lineno: int | None, first: int = 1) -> Place:
    """(line, column, message) of a syntax error Jinja reported in ``source``: the place
    of the mistake, counted in ``source`` itself (1-based); a line the message names is
    counted in the file, where ``source`` starts at line ``first``."""
    src = normalize(source)
    line = max(1, min(lineno or 1, src.count("\n") + 1))
    m = _AT_OFFSET.match(message)
    if m is not None and int(m.group(2)) <= len(src):
        ln, col = _line_col(src, int(m.group(2)))
        return ln, col, m.group(1)
    unclosed = unclosed_tag(src)
    if unclosed is not None and _line_col(src, unclosed[0])[0] <= line:
        ln, col = _line_col(src, unclosed[0])
        return ln, col, f"{unclosed[1]} is never closed ({message})"
    if message.startswith("Unexpected end of template") and (blocks := open_blocks(src)):
        name, pos = blocks[-1]
        ln, col = _line_col(src, pos)
        return ln, col, f"'{{% {name} %}}' has no '{{% end{name} %}}' ({message})"
    if "nesting mistake" in message and (blocks := open_blocks(src, line)):
        name, pos = blocks[-1]
        opened = _line_col(src, pos)
        message += f" ('{name}' was opened at line {first + opened[0] - 1}, column {opened[1]})"
    return line, _column(src.split("\n")[line - 1], message), message


def unknown_name(source: str, ast: Any, env: Any, first: int = 1) -> Place | None:
    """The first filter or test a parsed template uses that ``env`` lacks (Jinja finds them
    only when it compiles), as :func:`syntax_place` gives it."""
    found, todo = [], [ast]
    while todo:
        n = todo.pop()
        kind = type(n).__name__
        if kind in ("Filter", "Test") and n.name not in getattr(env, kind.lower() + "s"):
            found.append((n.lineno, f"No {kind.lower()} named {n.name!r}."))
        todo.extend(n.iter_child_nodes())
    if not found:
        return None
    line, message = min(found)
    return syntax_place(source, message, line, first)


def syntax_render_error(
    message: str, lineno: int | None, source: str, path: str, first: int = 1, what: str = ""
) -> RenderError:
    """The error for a syntax error in ``source``, whose first line is line ``first`` of
    ``path``: one line naming file, line and column."""
    ln, col, msg = syntax_place(source, message or "syntax error", lineno, first)
    return RenderError(
        f"{what}template syntax error: {msg}", path=path, line=first + ln - 1, col=col
    )
