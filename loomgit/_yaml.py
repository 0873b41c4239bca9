"""The one YAML module: every YAML document loomgit reads or writes goes through here.

Documents are read by YAML 1.2's core schema (``yes``/``no``/``on``/``off`` are strings,
``0o17`` is 15, ``017`` is 17), the way ruamel.yaml reads by default, on both paths:

- a fast path: libyaml's parser (PyYAML's ``CSafeLoader`` events, some 20 times faster
  than ruamel) builds plain dicts and lists with line numbers. It only accelerates: when
  it is unsure (no libyaml, a syntax error, a duplicate key, a tag, a merge key) it steps
  aside and ruamel reads the text, so every error message and line is ruamel's;
- ruamel's round-trip loader, which keeps comments (for :func:`dump`) and positions.

:data:`LIMITS` bounds what a document may cost (size, nesting, alias expansion) on both
paths. ruamel and PyYAML are imported on first use, for start-up time.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import Any

from loomgit.errors import LoomgitError


class YamlError(LoomgitError, ValueError):
    """Malformed YAML, or YAML over a limit; carries the file and line of the problem."""


@dataclass(frozen=True)
class Limits:
    """What one document may cost. ``max_nodes`` counts the nodes of the document with
    every alias expanded (what a consumer walking it would visit)."""

    max_chars: int = 20_000_000
    max_depth: int = 200
    max_nodes: int = 1_000_000


LIMITS = Limits()


# --- public API --------------------------------------------------------------------------


def load(text: str, path: str | None = None, line_offset: int = 0) -> Any:
    """Parse one YAML document. ``line_offset`` is added to reported lines (for
    frontmatter that starts below line 1). libyaml reads it first; when that reader is
    unsure or the text is malformed, ruamel reads it again."""
    _check_size(text, path, line_offset)
    data = _fast_load(text, path, line_offset)
    if data is not None:
        return data
    return load_roundtrip(text, path, line_offset)


def fast_load(text: str, path: str | None = None, line_offset: int = 0) -> Any:
    """The fast path alone: the document, or None when ruamel must read it."""
    _check_size(text, path, line_offset)
    return _fast_load(text, path, line_offset)


def load_roundtrip(text: str, path: str | None = None, line_offset: int = 0) -> Any:
    """:func:`load` with ruamel only: comments are kept for :func:`dump`."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    _check_size(text, path, line_offset)
    try:
        data = _ruamel().load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = (mark.line + 1 + line_offset) if mark is not None else None
        problem = e.problem or e.context or "malformed YAML"
        raise YamlError(f"invalid YAML: {problem}", path=path, line=line) from None
    except YAMLError as e:
        raise YamlError(
            f"invalid YAML: {str(e).splitlines()[0]}",
            path=path,
            line=line_offset + 1 if line_offset else None,
        ) from None
    except RecursionError:
        raise _too_deep(path, line_offset + 1) from None
    except Exception as e:  # ruamel raises assorted errors on odd input
        raise YamlError(f"invalid YAML: {e}", path=path) from None
    _check_graph(data, path, line_offset)
    return data


def line_of(node: Any, key: Any = None, default: int | None = None) -> int | None:
    """1-based line of ``node[key]`` (or of ``node`` itself) in its document."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return default
    try:
        if key is None:
            return int(lc.line) + 1
        if isinstance(key, int):
            return int(lc.item(key)[0]) + 1
        return int(lc.key(key)[0]) + 1
    except Exception:
        return default


def plain(obj: Any) -> Any:
    """Loaded data as plain dicts/lists and JSON-safe scalars (dates become strings)."""
    if isinstance(obj, dict):
        return {
            str(k) if not isinstance(k, (str, int, float, bool)) else k: plain(v)
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    return str(obj)


def dump(obj: Any) -> str:
    """Serialise ``obj`` as YAML, keeping comments of round-trip-loaded data."""
    buf = io.StringIO()
    _ruamel().dump(obj, buf)
    return buf.getvalue()


# --- YAML 1.2 core schema ----------------------------------------------------------------

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
_STR_TAG = "tag:yaml.org,2002:str"
# ruamel reads these as datetimes (their text comes back normalized): left to ruamel
_DATETIME = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}"
    r"(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?$"
)


def _int(text: str) -> int:
    t = text.replace("_", "")
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("+-")
    for prefix, base in (("0o", 8), ("0x", 16), ("0b", 2)):
        if t.startswith(prefix):
            return sign * int(t[2:], base)
    return sign * int(t, 10)


def plain_scalar(text: str) -> Any:
    """A plain (unquoted) scalar by YAML 1.2's core schema, as ruamel resolves it."""
    if text in NULLS:
        return None
    if text in TRUES:
        return True
    if text in FALSES:
        return False
    if text in _SPECIAL:
        return _SPECIAL[text]
    if _INT.match(text):
        return _int(text)
    if _FLOAT.match(text):
        return float(text.replace("_", ""))
    return text


# --- limits ------------------------------------------------------------------------------


def _check_size(text: str, path: str | None, line_offset: int) -> None:
    if len(text) > LIMITS.max_chars:
        raise YamlError(
            f"YAML document is too large ({len(text):,} characters; the limit is "
            f"{LIMITS.max_chars:,})",
            path=path,
            line=line_offset + 1,
        )


def _too_deep(path: str | None, line: int | None) -> YamlError:
    return YamlError(f"YAML nests deeper than {LIMITS.max_depth} levels", path=path, line=line)


def _too_many(path: str | None, line: int | None) -> YamlError:
    return YamlError(
        f"YAML expands to more than {LIMITS.max_nodes:,} values (aliases repeat "
        "anchored values; is this a YAML bomb?)",
        path=path,
        line=line,
    )


def _check_graph(data: Any, path: str | None, line_offset: int) -> None:
    """Depth and expanded node count of loaded data, in one walk that visits each shared
    container once (aliases make a graph; its expansion may be exponential)."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: Any, depth: int) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        got = sizes.get(key)
        if got is not None:
            return got
        line = line_of(node)
        if depth > LIMITS.max_depth:
            raise _too_deep(path, line + line_offset if line else None)
        if key in open_:
            raise YamlError(
                "YAML alias refers to a value that contains it (a recursive structure)",
                path=path,
                line=line + line_offset if line else None,
            )
        open_.add(key)
        n = 1
        for child in node.values() if isinstance(node, dict) else node:
            n += size(child, depth + 1)
            if n > LIMITS.max_nodes:
                raise _too_many(path, line + line_offset if line else None)
        open_.discard(key)
        sizes[key] = n
        return n

    size(data, 0)


# --- the fast path: libyaml events -------------------------------------------------------


class _Unsure(Exception):
    """Leave this document to ruamel."""


class _LC:
    """What :func:`line_of` reads: 0-based lines of the node, its keys, its items."""

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


def _scalar(ev: Any) -> Any:
    tag = ev.tag
    if tag in (None, "!"):
        if tag is None and not ev.style:  # a plain scalar (libyaml gives '' for plain)
            value = ev.value
            if ":" in value and _DATETIME.match(value):
                raise _Unsure("timestamp")
            return plain_scalar(value)
        return ev.value
    if tag == _STR_TAG:
        return ev.value
    raise _Unsure(tag)  # other explicit tags: let ruamel decide


_LIBYAML: Any = None


def _libyaml() -> Any:
    """PyYAML when it has libyaml's C parser, else False."""
    global _LIBYAML
    if _LIBYAML is None:
        try:
            import yaml
        except ImportError:  # pragma: no cover - PyYAML is a dependency
            _LIBYAML = False
        else:
            _LIBYAML = yaml if getattr(yaml, "CSafeLoader", None) is not None else False
    return _LIBYAML


def _fast_load(text: str, path: str | None, line_offset: int) -> Any:
    yaml = _libyaml()
    if not yaml:
        return None
    try:
        data, shared = _build(yaml, yaml.parse(text, Loader=yaml.CSafeLoader), path, line_offset)
    except YamlError:
        raise
    except (_Unsure, yaml.YAMLError, RecursionError, ValueError, KeyError, IndexError):
        return None
    if shared:
        _check_graph(data, path, line_offset)
    return data


def _build(yaml: Any, events: Any, path: str | None, line_offset: int) -> tuple[Any, bool]:
    """(document, whether an alias shares a container) from libyaml's events."""
    anchors: dict[str, Any] = {}
    stack: list[Any] = []  # containers being filled
    pending_key: list[Any] = []  # per mapping: the key waiting for its value (or a marker)
    root: list[Any] = []
    documents = 0
    shared = False
    no_key = object()
    max_depth = LIMITS.max_depth

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
        if key is no_key:
            if isinstance(value, (dict, list)):
                raise _Unsure("complex key")
            if value in top or value in top.lc.keys:
                raise _Unsure("duplicate key")
            pending_key[-1] = value
            top.lc.keys[value] = line
            return
        pending_key[-1] = no_key
        top[key] = value

    def open_(node: LineDict | LineList, ev: Any, marker: Any) -> None:
        if len(stack) >= max_depth:
            raise _too_deep(path, ev.start_mark.line + 1 + line_offset)
        node.lc = _LC(ev.start_mark.line)
        if ev.anchor:
            anchors[ev.anchor] = node
        add(node, ev.start_mark.line)
        stack.append(node)
        pending_key.append(marker)

    for ev in events:
        if isinstance(ev, yaml.ScalarEvent):
            value = _scalar(ev)
            if ev.anchor:
                anchors[ev.anchor] = value
            add(value, ev.start_mark.line)
        elif isinstance(ev, yaml.MappingStartEvent):
            if ev.tag not in (None, "!", "tag:yaml.org,2002:map"):
                raise _Unsure(ev.tag)
            open_(LineDict(), ev, no_key)
        elif isinstance(ev, yaml.SequenceStartEvent):
            if ev.tag not in (None, "!", "tag:yaml.org,2002:seq"):
                raise _Unsure(ev.tag)
            open_(LineList(), ev, None)
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            done = stack.pop()
            pending_key.pop()
            if isinstance(done, LineDict) and "<<" in done:
                raise _Unsure("merge key")  # ruamel merges; leave it to ruamel
        elif isinstance(ev, yaml.AliasEvent):
            if ev.anchor not in anchors:
                raise _Unsure("unknown alias")
            value = anchors[ev.anchor]
            if any(value is open_node for open_node in stack):
                raise _Unsure("recursive alias")
            shared = shared or isinstance(value, (dict, list))
            add(value, ev.start_mark.line)
        elif isinstance(ev, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _Unsure("several documents")
    return (root[0] if root else None), shared


def _ruamel() -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    return y
