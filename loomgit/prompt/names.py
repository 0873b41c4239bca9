"""Which variables templates use, learnt from a parse once per template *shape*, and
looked up without lexing for sources whose *skeleton* was seen.

History passes ask this of tens of thousands of versions whose templates differ only in
their prose. The parser's result (:func:`loomgit.prompt.jinja.parse_names`: undeclared
names and literal references, from ``Environment.parse`` and ``jinja2.meta``, whose
name tracking walks the tree with Jinja's code generator) depends only on the tokens it reads, not on the text between tags
(``data``), whitespace or comments, which the parser skips. So a source is lexed, the
digest of those tokens (its shape) is looked up, and only a shape never seen is parsed:
rewording a sentence never parses again. Before that, a source's :func:`skeleton` (its
runs of plain lines collapsed) is looked up: a reworded sentence is not even lexed
again, and a new skeleton that lexes gives the shape (the source is not lexed). Results
are memoised per text as well, and shapes and skeletons (by a SHA-256 of the skeleton)
are kept across runs by the history cache (:func:`shape_store`): after a commit that
only rewords a prompt, the next command neither lexes nor imports Jinja.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from loomgit.errors import IncludeRefused
from loomgit.prompt.jinja import cached_env, parse_names

Names = tuple[frozenset[str], tuple[str, ...]]  # (used names, referenced templates)

_SKIP = frozenset(
    ("data", "whitespace", "comment", "comment_begin", "comment_end")
    + ("linecomment", "linecomment_begin", "linecomment_end")
)
_UNSEEN: Any = object()
_UNSAFE: Any = object()
# a run of whole lines with no brace, quote or backslash: text between tags, in the
# usual template, and collapsed to one NUL line in a source's *skeleton*
_RUN = re.compile(r"^[^{}'\"\\\n]*(?:\n[^{}'\"\\\n]*)*$", re.MULTILINE)
_BY_SKELETON: dict[str, Any] = {}
_BY_TEXT: dict[str, Names | None] = {}
_BY_SHAPE: dict[str, Names | None] = {}
_NEW: dict[str, Names | None] = {}
_LOADER: list[Callable[[], Mapping[str, Any]]] = []
_MAX_TEXTS = 20_000
_MAX_SHAPES = 50_000


def shape(source: str, env: Any = None) -> str | None:
    """The digest of the tokens of ``source`` the parser reads; None when it does not lex
    (the parse then says why)."""
    h = hashlib.sha1(usedforsecurity=False)
    try:
        for _, token, value in (env or cached_env()).lexer.tokeniter(source, None):
            if token not in _SKIP:
                h.update(f"{token}\x01{value}\x00".encode("utf-8", "surrogatepass"))
    except Exception:  # the lexer's TemplateSyntaxError; parse_names treats it as before
        return None
    return h.hexdigest()


def jinja_version() -> str:
    """The Jinja release the shapes were learnt with (a store is kept per release), read
    from its package without importing it (40-60 ms) when it is not imported yet: a
    history pass that meets only known skeletons never needs Jinja."""
    mod = sys.modules.get("jinja2")
    if mod is None:
        import importlib.util

        spec = importlib.util.find_spec("jinja2")
        found = None
        if spec is not None and spec.origin:
            try:
                with open(spec.origin, encoding="utf-8") as f:
                    found = _VERSION.search(f.read())
            except OSError:
                pass
        if found:
            return found.group(1)
        cached_env()
        mod = sys.modules.get("jinja2")
    return str(getattr(mod, "__version__", ""))


_VERSION = re.compile(r"""^__version__ = ["']([^"'\n]+)["']""", re.MULTILINE)


def shape_store(load: Callable[[], Mapping[str, Any]] | None) -> None:
    """Say where known shapes come from: ``load()`` is called at the first shape not in
    memory, and gives ``{shape: [names, references] or None}``."""
    _LOADER[:] = [load] if load is not None else []


def learnt() -> dict[str, Names | None]:
    """The shapes parsed since the last call, for the caller to keep."""
    new = dict(_NEW)
    _NEW.clear()
    return new


def keep(shapes: Mapping[str, Names | None]) -> None:
    """Shapes another process learnt: known here, and kept as if learnt here."""
    for key, value in shapes.items():
        _keep(key, value)


def _load() -> None:
    while _LOADER:
        for key, value in _LOADER.pop()().items():
            if value is None:
                _BY_SHAPE.setdefault(key, None)
            elif (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, list) and all(isinstance(n, str) for n in v) for v in value)
            ):
                _BY_SHAPE.setdefault(key, (frozenset(value[0]), tuple(value[1])))


def skeleton(source: str) -> str:
    """``source`` with each run of lines free of ``{}'"\\`` collapsed to one NUL line.

    When the skeleton itself lexes, every collapsed run of ``source`` is text between
    tags, a comment, or inside a string literal (NUL anywhere else in a tag is a lexing
    error, and a run holds no brace to start or end a tag, no quote to end a string and
    no backslash to escape one): the parser then reads the same tokens from any source
    of that skeleton, the values of such strings aside. Those strings can only matter as
    names of referenced templates, and then contain a newline, so a skeleton vouches
    for its sources only when it lexes and no reference name has a newline."""
    return _RUN.sub("\x00", source)


def template_names(source: str) -> Names | None:
    """:func:`~loomgit.prompt.jinja.parse_names` of ``source`` (plain sandboxed
    environment), None when it does not compile; lexes only a skeleton not seen before
    (whose shape then stands for the source's), and parses only a shape not seen before."""
    got = _BY_TEXT.get(source, _UNSEEN)
    if got is not _UNSEEN:
        return got  # type: ignore[no-any-return]
    skel = skeleton(source)
    got = _BY_SKELETON.get(skel, _UNSEEN)
    if got is _UNSEEN:  # one another process learnt (the history cache keeps them)
        got = _stored(_skeleton_key(skel))
        if got is not _UNSEEN:
            _BY_SKELETON[skel] = got
    if got is _UNSAFE:
        got = _from_shape(source, shape(source, cached_env()))
    elif got is _UNSEEN:
        got = _new_skeleton(source, skel)
    if len(_BY_TEXT) > _MAX_TEXTS:
        _BY_TEXT.clear()
    _BY_TEXT[source] = got
    return got  # type: ignore[no-any-return]


def _new_skeleton(source: str, skel: str) -> Names | None:
    """The names of a source whose skeleton is new. A skeleton that lexes gives every
    source of it the parser's tokens (see :func:`skeleton`), so its shape is the shape
    looked up: the source itself is not lexed. Not when a referenced name holds a
    newline (a string with collapsed lines): then the source's own shape is."""
    env = cached_env()
    if len(_BY_SKELETON) > _MAX_TEXTS:
        _BY_SKELETON.clear()
    key = shape(skel, env)
    if key is None:
        _BY_SKELETON[skel] = _UNSAFE
        return _from_shape(source, shape(source, env))
    got = _from_shape(source, key, keep=False)
    if got is not None and any("\n" in r for r in got[1]):  # parsed from this source
        _BY_SKELETON[skel] = _UNSAFE
        own = shape(source, env)
        if own is not None:
            _keep(own, got)
        return got
    _keep(key, got)
    _keep(_skeleton_key(skel), got)
    _BY_SKELETON[skel] = got
    return got


def _skeleton_key(skel: str) -> str:
    """A skeleton's key among the stored shapes (which are SHA-1 digests of tokens)."""
    return "skeleton:" + hashlib.sha256(skel.encode("utf-8", "surrogatepass")).hexdigest()


def _stored(key: str) -> Any:
    """What the store knows of ``key`` (read at the first key not in memory)."""
    got = _BY_SHAPE.get(key, _UNSEEN)
    if got is _UNSEEN and _LOADER:
        _load()
        got = _BY_SHAPE.get(key, _UNSEEN)
    return got


def _keep(key: str, got: Names | None) -> None:
    """A shape learnt: looked up from now on, and saved by the history cache."""
    if key not in _BY_SHAPE:
        if len(_BY_SHAPE) > _MAX_SHAPES:
            _BY_SHAPE.clear()
        _BY_SHAPE[key] = _NEW[key] = got


def _from_shape(source: str, key: str | None, keep: bool = True) -> Names | None:
    """The names of the shape ``key`` (None: the source does not lex), parsing
    ``source`` when the shape is new (and keeping them unless not ``keep``)."""
    got = _UNSEEN if key is None else _stored(key)
    if got is _UNSEEN:
        parsed = parse_names(source, cached_env())
        got = None if parsed is None else (frozenset(parsed[0]), tuple(parsed[1]))
        if key is not None and keep:
            _keep(key, got)
    return got  # type: ignore[no-any-return]


def used_names(sources: Iterable[str], load: Callable[[str], str | None]) -> frozenset[str]:
    """Names the ``sources`` and the templates they reference (``load(name)``: its text or
    None) read from the context: what :func:`loomgit.prompt.render.used_variables` gives
    for a prompt with these messages and that include loader."""
    names: set[str] = set()
    seen: set[str] = set()
    todo = list(sources)
    while todo:
        got = template_names(todo.pop())
        if got is None:
            continue
        names.update(got[0])
        for ref in got[1]:
            if ref not in seen:
                seen.add(ref)
                try:
                    text = load(ref)
                except IncludeRefused:
                    text = None
                if text is not None:
                    todo.append(text)
    return frozenset(names)  # the environment's globals are left out by the parse


__all__ = [
    "Names",
    "jinja_version",
    "learnt",
    "shape",
    "shape_store",
    "template_names",
    "used_names",
]
