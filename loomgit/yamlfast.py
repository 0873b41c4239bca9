"""A fast YAML reader for large test suites: libyaml's parser (through PyYAML) with
line numbers, read the way ``loomgit.yamlio`` (ruamel, YAML 1.2) reads.

ruamel's round-trip loader, which keeps line numbers, is pure Python: about 1 ms per case
of a suite. libyaml parses the same text some 20 times faster. This module builds plain
dicts and lists from libyaml's events, resolving plain scalars by YAML 1.2's core schema
as ruamel does (``yes`` stays a string, ``0o17`` is 15, ``017`` is 17), and attaches an
``lc`` object so that :func:`loomgit.yamlio.line_of` finds the lines.

It is only an accelerator: :func:`load` returns None whenever it is unsure (no libyaml,
a syntax error, a duplicate key, an unusual tag), and the caller then uses ruamel, whose
error messages are the ones users see.
"""

from __future__ import annotations

import math
import re
from typing import Any

_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_INT = re.compile(r"^[-+]?(?:[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+)$")
_FLOAT = re.compile(
    r"^[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*\.[0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+|"
    r"\.[0-9][0-9_]*[eE][-+]?[0-9]+)$"
)
_SPECIAL = {
    ".inf": math.inf,
    ".Inf": math.inf,
    ".INF": math.inf,
    "+.inf": math.inf,
    "+.Inf": math.inf,
    "+.INF": math.inf,
    "-.inf": -math.inf,
    "-.Inf": -math.inf,
    "-.INF": -math.inf,
    ".nan": math.nan,
    ".NaN": math.nan,
    ".NAN": math.nan,
}
_STR_TAG = "tag:yaml.org,2002:str"


class _Unsure(Exception):
    """Leave this document to ruamel."""


class _LC:
    """What ``yamlio.line_of`` reads: 0-based lines of the node, its keys, its items."""

    __slots__ = ("line", "keys", "items")

    def __init__(self, line: int) -> None:
        self.line = line
        self.keys: dict[Any, int] = {}
        self.items: list[int] = []

    def key(self, k: Any) -> tuple[int, int]:
        return self.keys[k], 0

    def item(self, i: int) -> tuple[int, int]:
        return self.items[i], 0


class LineDict(dict):  # type: ignore[type-arg]
    lc: _LC


class LineList(list):  # type: ignore[type-arg]
    lc: _LC


def _int(text: str) -> int:
    t = text.replace("_", "")
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("+-")
    if t.startswith("0o"):
        return sign * int(t[2:], 8)
    if t.startswith("0x"):
        return sign * int(t[2:], 16)
    if t.startswith("0b"):
        return sign * int(t[2:], 2)
    return sign * int(t, 10)


def plain_scalar(text: str) -> Any:
    """A plain (unquoted) scalar by YAML 1.2's core schema, as ruamel resolves it."""
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if text in _SPECIAL:
        return _SPECIAL[text]
    if _INT.match(text):
        return _int(text)
    if _FLOAT.match(text):
        return float(text.replace("_", ""))
    return text


def _scalar(ev: Any) -> Any:
    tag = ev.tag
    if tag in (None, "!"):
        plain = tag is None and not ev.style  # libyaml gives '' for plain, pure PyYAML None
        return plain_scalar(ev.value) if plain else ev.value
    if tag == _STR_TAG:
        return ev.value
    raise _Unsure(tag)  # other explicit tags: let ruamel decide


def load(text: str) -> Any:
    """The document as plain data with line numbers, or None (use ruamel)."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency
        return None
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:
        return None
    try:
        return _build(yaml.parse(text, Loader=loader))
    except (_Unsure, yaml.YAMLError, RecursionError, ValueError, KeyError, IndexError):
        return None


def _build(events: Any) -> Any:
    import yaml

    anchors: dict[str, Any] = {}
    stack: list[Any] = []  # containers being filled
    pending_key: list[Any] = []  # per mapping: the key waiting for its value (or a marker)
    root: list[Any] = []
    documents = 0
    _NO_KEY = object()

    def add(value: Any, line: int) -> None:
        if not stack:
            root.append(value)
            return
        top = stack[-1]
        if isinstance(top, LineList):
            top.append(value)
            top.lc.items.append(line)
            return
        key = pending_key[-1]
        if key is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise _Unsure("complex key")
            if value in top or value in top.lc.keys:
                raise _Unsure("duplicate key")
            pending_key[-1] = value
            top.lc.keys[value] = line
            return
        pending_key[-1] = _NO_KEY
        top[key] = value

    for ev in events:
        if isinstance(ev, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _Unsure("several documents")
        elif isinstance(ev, yaml.ScalarEvent):
            value = _scalar(ev)
            if ev.anchor:
                anchors[ev.anchor] = value
            add(value, ev.start_mark.line)
        elif isinstance(ev, yaml.AliasEvent):
            if ev.anchor not in anchors:
                raise _Unsure("unknown alias")
            add(anchors[ev.anchor], ev.start_mark.line)
        elif isinstance(ev, yaml.MappingStartEvent):
            if ev.tag not in (None, "!", "tag:yaml.org,2002:map"):
                raise _Unsure(ev.tag)
            d = LineDict()
            d.lc = _LC(ev.start_mark.line)
            if ev.anchor:
                anchors[ev.anchor] = d
            add(d, ev.start_mark.line)
            stack.append(d)
            pending_key.append(_NO_KEY)
        elif isinstance(ev, yaml.SequenceStartEvent):
            if ev.tag not in (None, "!", "tag:yaml.org,2002:seq"):
                raise _Unsure(ev.tag)
            seq = LineList()
            seq.lc = _LC(ev.start_mark.line)
            if ev.anchor:
                anchors[ev.anchor] = seq
            add(seq, ev.start_mark.line)
            stack.append(seq)
            pending_key.append(None)
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            done = stack.pop()
            pending_key.pop()
            if isinstance(done, LineDict) and "<<" in done:
                raise _Unsure("merge key")  # ruamel merges; leave it to ruamel
    return root[0] if root else None
