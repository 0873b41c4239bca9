"""Memos of the per-version work a history pass repeats for equal inputs: the
normalized text of an included file (the same partial is hashed with every version that
includes it), the literal include names of a template text, and whether an include name
is allowed. Each gives exactly what the function it stands in for gives (tested equal in
``tests/test_history_memo.py``); only the repetition is saved."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from loomgit.prompt.includes import Roots, name_allowed
from loomgit.prompt.parts import include_names, normalize_text, unblanked

_NORMALIZED: dict[str, bytes] = {}
_NAMES: dict[str, tuple[str, ...]] = {}
_ALLOWED: dict[tuple[str, Any], bool] = {}
_MAX = 4096


def _put(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _MAX:
        cache.clear()
    cache[key] = value


def normalized(text: str) -> bytes:
    """``normalize_text(text)`` as UTF-8 (kept for the texts of included files)."""
    got = _NORMALIZED.get(text)
    if got is None:
        got = normalize_text(text).encode("utf-8")
        _put(_NORMALIZED, text, got)
    return got


def content_hash(text: str, includes: Mapping[str, str] | None = None) -> str:
    """:func:`loomgit.prompt.parts.content_hash`, each included file normalized once."""
    if unblanked(text):  # ASCII, no CR, no trailing blanks: normalizing only trims
        h = hashlib.sha256((text.strip("\n") + "\n").encode())
    else:
        h = hashlib.sha256(normalize_text(text).encode("utf-8"))
    if includes:
        for name in sorted(includes):
            h.update(b"\0include\0" + name.encode("utf-8") + b"\0")
            h.update(normalized(includes[name]))
    return h.hexdigest()


def includes_of(text: str) -> tuple[str, ...]:
    """``include_names(text)``, kept per text."""
    if "{%" not in text:
        return ()
    got = _NAMES.get(text)
    if got is None:
        got = tuple(include_names(text))
        _put(_NAMES, text, got)
    return got


def allowed(name: str, roots: Roots) -> bool:
    """``name_allowed(name, roots)``, kept per name and roots."""
    key = (name, roots)
    got = _ALLOWED.get(key)
    if got is None:
        got = name_allowed(name, roots)
        _put(_ALLOWED, key, got)
    return got
