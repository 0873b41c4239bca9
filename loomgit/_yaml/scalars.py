"""YAML 1.2's core schema for plain scalars (``yes``/``no``/``on``/``off`` are strings,
``0o17`` is 15, ``017`` is 17), as ruamel.yaml resolves them: the part of
:mod:`loomgit._yaml` that needs no YAML library (read through that module)."""

from __future__ import annotations

import math
import re
from typing import Any

NULLS = frozenset(("", "~", "null", "Null", "NULL"))
TRUES = frozenset(("true", "True", "TRUE"))
FALSES = frozenset(("false", "False", "FALSE"))
_INT = re.compile(r"^[-+]?(?:[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+)$")
_FLOAT = re.compile(
    r"^[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*\.[0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+|"
    r"\.[0-9][0-9_]*[eE][-+]?[0-9]+)$"
)
_SPECIAL = {
    **{s + w: math.inf for s in ("", "+") for w in (".inf", ".Inf", ".INF")},
    **{"-" + w: -math.inf for w in (".inf", ".Inf", ".INF")},
    **{w: math.nan for w in (".nan", ".NaN", ".NAN")},
}
STR_TAG = "tag:yaml.org,2002:str"
# ruamel reads these as datetimes (their text comes back normalized): left to ruamel
DATETIME = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?$"
)


_WORDS: dict[str, Any] = {
    **dict.fromkeys(NULLS),
    **dict.fromkeys(TRUES, True),
    **dict.fromkeys(FALSES, False),
    **_SPECIAL,
}
_BASES = {"0o": 8, "0x": 16, "0b": 2}


def _int(text: str) -> int:
    t = text.replace("_", "")
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("+-")
    base = _BASES.get(t[:2])
    return sign * (int(t[2:], base) if base else int(t, 10))


def plain_scalar(text: str) -> Any:
    """A plain (unquoted) scalar by YAML 1.2's core schema, as ruamel resolves it."""
    if text in _WORDS:
        return _WORDS[text]
    if _INT.match(text):
        return _int(text)
    if _FLOAT.match(text):
        return float(text.replace("_", ""))
    return text
