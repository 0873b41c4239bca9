"""Where a YAML syntax error is: an unclosed ``{``, ``[`` or quote is named where it opens,
not on the later line where the parser gave up (it reads only the error's marks)."""

from __future__ import annotations

from typing import Any

_OPENERS = (
    ("flow mapping", "this '{'"),
    ("flow sequence", "this '['"),
    ("quoted scalar", "this quoted string"),
)


def where_opened(e: Any, line: int | None, line_offset: int) -> tuple[str, int | None, int | None]:
    """(problem, line, column) of a marked YAML error: at the opening of what the parser
    was reading when it met the problem on a later line, else the problem's own line."""
    problem = e.problem or e.context or "malformed YAML"
    ctx, cm, pm = e.context or "", e.context_mark, e.problem_mark
    if cm is None or pm is None or pm.line <= cm.line:
        return problem, line, None
    for words, what in _OPENERS:
        if words in ctx:
            where = f"{problem} at line {pm.line + 1 + line_offset}"
            return f"{what} is never closed ({where})", cm.line + 1 + line_offset, cm.column + 1
    return problem, line, None
