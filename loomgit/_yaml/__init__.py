"""The one YAML module: every YAML document loomgit reads or writes goes through here.

Documents are read by YAML 1.2's core schema (``yes``/``no``/``on``/``off`` are strings,
``0o17`` is 15, ``017`` is 17), the way ruamel.yaml reads by default, on both paths:

- a fast path: libyaml's parser (PyYAML's ``CSafeLoader`` events, some 20 times faster
  than ruamel) builds plain dicts and lists with line numbers. It only accelerates: when
  it is unsure (no libyaml, a syntax error, a duplicate key, a tag, a merge key) it steps
  aside and ruamel reads the text, so every error message and line is ruamel's;
- ruamel's round-trip loader, which keeps comments (for :func:`dump`) and positions.

:data:`LIMITS` bounds what a document may cost (size, nesting, nodes with aliases
expanded), checked while it is parsed on both paths (on libyaml's events; in ruamel's
composer, before construction), so a bomb is never built. The YAML 1.2 scalar rules live
in :mod:`loomgit._yaml.scalars`. ruamel and PyYAML are imported on first use.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from typing import Any

from loomgit._yaml.marks import where_opened
from loomgit._yaml.scalars import DATETIME, FALSES, NULLS, STR_TAG, TRUES, plain_scalar
from loomgit.errors import LoomgitError

__all__ = ["FALSES", "NULLS", "TRUES", "plain_scalar"]  # read by YAML 1.2 everywhere


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
    return _roundtrip(text, path, line_offset)


def fast_load(text: str, path: str | None = None, line_offset: int = 0) -> Any:
    """The fast path alone: the document, or None when ruamel must read it."""
    _check_size(text, path, line_offset)
    return _fast_load(text, path, line_offset)


def load_roundtrip(text: str, path: str | None = None, line_offset: int = 0) -> Any:
    """:func:`load` with ruamel only: comments are kept for :func:`dump`."""
    _check_size(text, path, line_offset)
    _fast_load(text, path, line_offset)  # limits on libyaml's events first: ruamel is slow
    return _roundtrip(text, path, line_offset)  # on deep nesting before it stops


def _roundtrip(text: str, path: str | None, line_offset: int) -> Any:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        data = _ruamel(path, line_offset).load(text)
    except YamlError:
        raise
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = (mark.line + 1 + line_offset) if mark is not None else None
        if "maximum depth" in str(e.problem):
            raise _too_deep(path, line) from None
        problem, line, col = where_opened(e, line, line_offset)  # an unclosed '{': where it opens
        raise YamlError(f"invalid YAML: {problem}", path=path, line=line, col=col) from None
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
    what = f"expands to more than {LIMITS.max_nodes:,} values (aliases repeat anchored "
    return YamlError(f"YAML {what}values; is this a YAML bomb?)", path=path, line=line)


def _recursive(path: str | None, line: int | None) -> YamlError:
    what = "alias refers to a value that contains it (a recursive structure)"
    return YamlError(f"YAML {what}", path=path, line=line)


class _Budget:
    """Counts the nodes of a document with every alias expanded, while it is parsed (on
    events, before anything is built): an alias costs what its anchored value cost."""

    __slots__ = ("path", "offset", "total", "sizes")

    def __init__(self, path: str | None, line_offset: int) -> None:
        self.path, self.offset = path, line_offset
        self.total = 0
        self.sizes: dict[str, int] = {}  # anchor -> expanded node count of its value

    def add(self, n: int, line0: int) -> None:
        self.total += n
        if self.total > LIMITS.max_nodes:
            raise _too_many(self.path, line0 + 1 + self.offset)

    def alias(self, anchor: str, line0: int) -> None:
        self.add(self.sizes.get(anchor, 1), line0)


# --- the fast path: libyaml events -------------------------------------------------------


class _Unsure(Exception):
    """Leave this document to ruamel."""


class _LC:
    """What :func:`line_of` reads: 0-based lines of the node, its keys, its items."""

    __slots__ = ("line", "keys", "items")
    line: int
    keys: dict[Any, int]
    items: list[int]

    def __init__(self, line: int) -> None:
        self.line, self.keys, self.items = line, {}, []

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
            if ":" in value and DATETIME.match(value):
                raise _Unsure("timestamp")
            return plain_scalar(value)
        return ev.value
    if tag == STR_TAG:
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
        return _build(yaml, yaml.parse(text, Loader=yaml.CSafeLoader), path, line_offset)
    except YamlError:
        raise
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        if "maximum nesting depth" in str(getattr(e, "problem", "")) and mark is not None:
            raise _too_deep(path, mark.line + 1 + line_offset) from None  # libyaml's cap
        return None
    except (_Unsure, RecursionError, ValueError, KeyError, IndexError):
        return None


def _build(yaml: Any, events: Any, path: str | None, line_offset: int) -> Any:
    """The document from libyaml's events, within :data:`LIMITS`."""
    anchors: dict[str, Any] = {}
    stack: list[Any] = []  # containers being filled
    starts: list[tuple[str | None, int]] = []  # per open container: (anchor, budget total)
    pending_key: list[Any] = []  # per mapping: the key waiting for its value (or a marker)
    root: list[Any] = []
    documents = 0
    no_key = object()
    max_depth = LIMITS.max_depth
    budget = _Budget(path, line_offset)

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
        line = ev.start_mark.line
        if len(stack) >= max_depth:
            raise _too_deep(path, line + 1 + line_offset)
        budget.add(1, line)
        node.lc = _LC(line)
        if ev.anchor:
            anchors[ev.anchor] = node
        add(node, line)
        stack.append(node)
        starts.append((ev.anchor, budget.total - 1))
        pending_key.append(marker)

    for ev in events:
        if isinstance(ev, yaml.ScalarEvent):
            budget.add(1, ev.start_mark.line)
            value = _scalar(ev)
            if ev.anchor:
                anchors[ev.anchor] = value
                budget.sizes[ev.anchor] = 1
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
            anchor, start = starts.pop()
            if anchor:
                budget.sizes[anchor] = budget.total - start
            if isinstance(done, LineDict) and "<<" in done:
                raise _Unsure("merge key")  # ruamel merges; leave it to ruamel
        elif isinstance(ev, yaml.AliasEvent):
            if ev.anchor not in anchors:
                raise _Unsure("unknown alias")
            value = anchors[ev.anchor]
            if any(value is open_node for open_node in stack):
                raise _recursive(path, ev.start_mark.line + 1 + line_offset)
            budget.alias(ev.anchor, ev.start_mark.line)
            add(value, ev.start_mark.line)
        elif isinstance(ev, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _Unsure("several documents")
    return root[0] if root else None


@functools.cache
def _composer_class() -> Any:
    """ruamel's composer, counting expanded nodes as it composes (before construction)."""
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.events import AliasEvent, ScalarEvent

    class _Composer(Composer):
        budget: _Budget
        open_anchors: set[str]
        level: int

        def compose_node(self, parent: Any, index: Any) -> Any:
            ev = self.parser.peek_event()
            b, line, anchor = self.budget, ev.start_mark.line, ev.anchor
            if isinstance(ev, AliasEvent):
                if anchor in self.open_anchors:
                    raise _recursive(b.path, line + 1 + b.offset)
                b.alias(anchor, line)
                return super().compose_node(parent, index)
            container = not isinstance(ev, ScalarEvent)
            self.level += container
            if self.level > LIMITS.max_depth:
                raise _too_deep(b.path, line + 1 + b.offset)
            start = b.total
            b.add(1, line)
            self.open_anchors.add(anchor)
            node = super().compose_node(parent, index)
            self.open_anchors.discard(anchor)
            if anchor:
                b.sizes[anchor] = b.total - start
            self.level -= container
            return node

    return _Composer


def _ruamel(path: str | None = None, line_offset: int = 0) -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    y.max_depth = LIMITS.max_depth + 1  # ruamel counts scalars too; ours fires first
    y.Composer = _composer_class()
    composer = y.composer
    composer.budget, composer.open_anchors, composer.level = _Budget(path, line_offset), set(), 0
    return y
