"""What a prompt version is made of, in the form version bumps are decided on.

History passes read tens of thousands of versions, so :class:`FactsBuilder` reads them
with the prompt format's fast paths (:mod:`loomgit.prompt.frontmatter`, message splitting
and content hashes in :mod:`loomgit.prompt`) and caches what equal texts share: each
distinct frontmatter is read once, and templates are parsed by Jinja only when a prompt
declares no variables and uses some, once per template shape (:mod:`loomgit.prompt.names`). Every rule is the parser's own, so history, ``loomgit
check`` and rendering read a file the same way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from loomgit.config import GlobSpec
from loomgit.errors import IncludeRefused, LoomgitError
from loomgit.history.memo import content_hash, includes_of
from loomgit.prompt.conversation import placeholder_names
from loomgit.prompt.fields import Fields, parse_variables, read_fields, variables_key
from loomgit.prompt.frontmatter import FrontmatterReader, split_frontmatter
from loomgit.prompt.ghmodels import is_ghmodels
from loomgit.prompt.media import has_media, with_media
from loomgit.prompt.model import Prompt, Variable
from loomgit.prompt.names import used_names
from loomgit.prompt.parse import (
    as_mapping,
    check_body,
    message_sources,
    parse_prompt,
    plain_options,
)
from loomgit.prompt.parts import OutputSpec, unblanked
from loomgit.prompt.prompty import split_body as prompty_body
from loomgit.prompt.render import interface
from loomgit.prompt.tools import Tool
from loomgit.prompt.toolspec import load_ref, ref_names, resolve

TextLoader = Callable[[str], "str | None"]
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_KNOWN_META = {
    "model",
    "params",
    "variables",
    "inputs",
    "output",
    "description",
    "name",
    "tags",
    "sample",
    "id",
    "tools",
}
_MAX_INCLUDES = 64
_CACHE_MAX = 50_000


@dataclass(slots=True)
class Facts:
    """Everything about one version that can change its number."""

    ok: bool
    content_hash: str
    error: str = ""
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    interface: dict[str, Variable] = field(default_factory=dict)
    output_format: str = "text"
    output_schema: dict[str, Any] | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    sample: Any = None
    other: dict[str, Any] = field(default_factory=dict)
    messages: tuple[tuple[str, str], ...] = ()  # (role, template source)
    includes: dict[str, str] = field(default_factory=dict)  # path -> text, transitive
    missing_includes: tuple[str, ...] = ()
    meta_key: object = None  # the same object for the same frontmatter (a fast path)
    tools: tuple[Tool, ...] = ()  # resolved: each ``$ref`` file read
    tool_files: tuple[str, ...] = ()  # the ``$ref`` files, also in ``includes``


def tool_facts(
    tools: tuple[Tool, ...], load: TextLoader | None, path: str
) -> tuple[tuple[Tool, ...], dict[str, str]]:
    """(resolved tools, ``$ref`` file -> text) of a version; raises :class:`LoomgitError`
    when a file cannot be read (the version does not parse, like a broken frontmatter).
    Without ``load`` (text outside a repository) the ``$ref`` entries stay pending."""
    names = ref_names(tools)
    if not names or load is None:  # no repository to read them from: left pending
        return tools, {}
    resolved, texts = resolve(tools, load, path)
    line = next((t.line for t in tools if t.ref), None)
    for name in names:  # already resolved (a parsed prompt): read for the content hash
        if name not in texts:
            texts[name] = load_ref(name, load, path, line)
    return resolved, texts


def collect_includes(
    sources: list[str], load: TextLoader | None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Transitive includes: (path -> text, names that could not be loaded); content
    parts a template names (``image("...")``) count, as the digest of their bytes."""
    if any(has_media(s) for s in sources):
        return with_media(*_includes(sources, load), sources, load)
    return _includes(sources, load)


def meet_includes(builder: FactsBuilder, text: str | None, path: str, load: TextLoader) -> None:
    """Ask ``load`` for every file ``text`` may include (a superset: each literal include
    name in the file, and its tool files), without building its facts."""
    if text is None:
        return
    if "$ref" in text:  # tool files: read as the facts read them
        builder.from_text(text, path, load)
    else:
        collect_includes([text], load)


def _includes(
    sources: list[str], load: TextLoader | None
) -> tuple[dict[str, str], tuple[str, ...]]:
    if not any("{%" in s for s in sources):
        return {}, ()
    found: dict[str, str] = {}
    missing: list[str] = []
    todo = [n for s in sources for n in includes_of(s)]
    while todo and len(found) + len(missing) < _MAX_INCLUDES:
        name = todo.pop(0)
        if name in found or name in missing:
            continue
        bad = name.startswith("/") or any(p in ("", ".", "..") for p in name.split("/"))
        try:
            text = None if bad or load is None else load(name)
        except IncludeRefused:
            text = None  # rendering names the refusal, with its line
        if text is None:
            missing.append(name)
            continue
        found[name] = text
        todo.extend(includes_of(text))
    return found, tuple(missing)


def strip_source(source: str) -> str:
    """A template without Jinja comments, trailing blanks and surrounding blank lines
    (kept for the last few thousand sources: each version is compared twice, with the
    one before it and the one after)."""
    got = _STRIPPED.get(source)
    if got is None:
        if "{#" not in source and unblanked(source):
            got = source.strip("\n")  # nothing to strip inside: the usual case
        else:
            src = _JINJA_COMMENT.sub("", source)
            got = "\n".join(ln.rstrip() for ln in src.split("\n")).strip("\n")
        _bounded(_STRIPPED, source, got, 4096)
    return got


_STRIPPED: dict[str, str] = {}


@dataclass(frozen=True)
class _Meta:
    """The frontmatter-derived part of a prompt, cached per frontmatter text."""

    fields: Fields
    other: dict[str, Any]
    meta: dict[str, Any]
    turns: frozenset[str] = frozenset()  # the messages variables (placeholders)


def _bounded(cache: dict[Any, Any], key: Any, value: Any, size: int = _CACHE_MAX) -> None:
    if len(cache) > size:
        cache.clear()
    cache[key] = value


class FactsBuilder:
    """Builds :class:`Facts` from file text, caching per frontmatter and per template set."""

    def __init__(self, globs: Callable[[str], GlobSpec | None] | None = None) -> None:
        self._globs = globs  # a path's glob entry: its options for plain files
        self._specs: dict[str, GlobSpec | None] = {}
        self._reader = FrontmatterReader()
        self._meta: dict[Any, _Meta | LoomgitError] = {}
        self._used: dict[tuple[Any, ...], frozenset[str]] = {}
        self._vars: dict[str, dict[str, Variable]] = {}
        self._msgs: dict[Any, tuple[tuple[str, str], ...]] = {}
        self._outputs: dict[str, OutputSpec | None] = {}
        self._ifaces: dict[frozenset[str], dict[str, Variable]] = {}

    def _variables(self, meta: dict[str, Any], block: str | None, path: str) -> Any:
        """The parsed variables block, shared by versions with the same block text."""
        key = variables_key(meta)
        if key is None or block is None:
            return None
        got = self._vars.get(block)
        if got is None:
            got = parse_variables(meta[key], path, None, key)
            _bounded(self._vars, block, got, 20_000)
        return got

    def meta(self, fm_text: str | None, path: str) -> _Meta:
        # a .prompty file reads the same frontmatter by Prompty's rules
        key: Any = (fm_text or "", True) if path.endswith(".prompty") else fm_text or ""
        got = self._meta.get(key)
        if got is None:
            try:
                data, blocks = self._reader.read(fm_text, path) if fm_text else ({}, {})
                meta = as_mapping(data, path)
                var_block = blocks.get(variables_key(meta) or "")
                prompty = path.endswith(".prompty")  # Prompty's inputs: read_fields reads them
                variables = None if prompty else self._variables(meta, var_block, path)
                fields = self._fields(meta, path, prompty, variables, blocks.get("output"))
                other = {str(k): v for k, v in meta.items() if k not in _KNOWN_META}
                got = _Meta(fields, other, meta, placeholder_names(meta))
            except LoomgitError as e:
                got = e
            _bounded(self._meta, key, got)
        if isinstance(got, LoomgitError):
            raise got
        return got

    def _fields(
        self,
        meta: dict[str, Any],
        path: str,
        prompty: bool,
        variables: dict[str, Variable] | None,
        out_block: str | None,
    ) -> Fields:
        """``read_fields`` of ``meta``, the output spec read once per ``output:`` block
        text (its schema's conversion to plain data is most of the work)."""
        if prompty or out_block is None:
            return read_fields(meta, path, prompty=prompty, variables=variables)
        out = self._outputs.get(out_block)
        if out is None:
            try:
                out = read_fields({"output": meta["output"]}, path).output
            except LoomgitError:  # the whole reading says which error comes first
                return read_fields(meta, path, variables=variables)
            _bounded(self._outputs, out_block, out, 20_000)
        rest = {k: v for k, v in meta.items() if k != "output"}
        return replace(read_fields(rest, path, variables=variables), output=out)

    def used(self, sources: list[str], includes: Mapping[str, str], path: str) -> frozenset[str]:
        if not any("{{" in s or "{%" in s for s in (*sources, *includes.values())):
            return frozenset()
        key = (*sources, "\0", *sorted(includes.items()))  # texts: the same objects
        got = self._used.get(key)
        if got is None:
            got = used_names(sources, includes.get)
            _bounded(self._used, key, got, 20_000)
        return got

    def options(self, fm_text: str | None, path: str) -> tuple[str, bool]:
        """(default role, verbatim) of a file, from its glob entry (:func:`plain_options`)."""
        if self._globs is None:
            return "user", False
        if path not in self._specs:
            _bounded(self._specs, path, self._globs(path))
        return plain_options(fm_text, path, self._specs[path])

    def messages(
        self, meta: _Meta, body: str, body_line: int, path: str, opts: tuple[str, bool]
    ) -> tuple[tuple[str, str], ...]:
        """(role, source) of each message, after the parser's checks of the body."""
        prompty = path.endswith(".prompty")
        key: Any = (body, True) if prompty else body
        if opts != ("user", False):
            key = f"{opts}\0{body}"
        turns = meta.turns
        if turns:
            key = (key, turns)
        got = self._msgs.get(key)
        if got is None:
            if not opts[1]:
                check_body(meta.meta, body, body_line, path, {})
            if prompty:  # Prompty's own role-line rules
                got = tuple((m.role, m.source) for m in prompty_body(body, body_line, path))
            else:
                got = message_sources(body, body_line, path, *opts, turns)
            _bounded(self._msgs, key, got, 20_000)
        elif "input" in meta.meta:
            check_body(meta.meta, body, body_line, path, {})
        return got

    def from_text(self, text: str, path: str, load: TextLoader | None = None) -> Facts:
        """Facts of a file's text; ``load(name)`` gives included files."""
        try:
            if not text or text.isspace():
                raise LoomgitError("empty prompt file")
            norm = text.replace("\r\n", "\n") if "\r" in text else text
            if norm.startswith("\ufeff"):
                norm = norm[1:]
            if is_ghmodels(path):  # a YAML format: the parser's own reading
                return facts_from_prompt(parse_prompt(norm, path), load)
            fm_text, body, body_line = split_frontmatter(norm, path)
            opts = self.options(fm_text, path)
            m = self.meta(fm_text, path)
            if m.fields.template != "jinja2":  # Mustache bodies are rewritten by the parser
                return facts_from_prompt(parse_prompt(norm, path), load)
            msgs = self.messages(m, body, body_line, path, opts)
            tools, tool_texts = tool_facts(m.fields.tools, load, path)
        except LoomgitError as e:
            includes, missing = collect_includes([text], load)
            return Facts(
                ok=False,
                error=e.message,
                content_hash=content_hash(text, includes),
                includes=includes,
                missing_includes=missing,
            )
        sources = [src for _, src in msgs]
        verbatim = opts[1]  # text, not templates: no includes, no variables
        includes, missing = (
            collect_includes(sources, load)
            if ("{%" in body or has_media(body)) and not verbatim
            else ({}, ())
        )
        f = m.fields
        if f.variables is not None:
            iface = f.variables  # shared, never changed: equal frontmatter, same object
        elif verbatim:
            iface = {}
        else:
            used = self.used(sources, includes, path)
            known = self._ifaces.get(used)  # shared like a declared block: never changed
            if known is None:
                known = {n: Variable(n) for n in sorted(used)}
                _bounded(self._ifaces, used, known, 20_000)
            iface = known
        if tool_texts:
            includes = {**includes, **tool_texts}
        return Facts(
            ok=True,
            content_hash=content_hash(text, includes),
            model=f.model,
            params=f.params,
            interface=iface,
            output_format=f.output.format if f.output else "text",
            output_schema=f.output.schema if f.output else None,
            description=f.description,
            tags=f.tags,
            sample=f.sample,
            other=m.other,
            messages=msgs,
            includes=includes,
            missing_includes=missing,
            meta_key=m,
            tools=tools,
            tool_files=tuple(tool_texts),
        )


def not_text(raw: bytes) -> Facts:
    """Facts of a blob that is not a prompt's text."""
    error = "not a UTF-8 text file (binary, or over 1 MB)"
    return Facts(ok=False, error=error, content_hash=hashlib.sha256(raw).hexdigest())


def facts_from_prompt(prompt: Prompt, load: TextLoader | None = None) -> Facts:
    """Facts of an already parsed prompt (the full parser's view)."""
    sources = [m.source for m in prompt.messages if not m.verbatim]
    includes, missing = collect_includes(sources, load)
    iface = interface(prompt, includes.get if load is not None else None)
    tools, tool_texts = tool_facts(prompt.tools, load, prompt.path)
    includes = {**includes, **tool_texts}
    out = prompt.output
    meta = prompt.meta or {}
    return Facts(
        ok=True,
        content_hash=content_hash(prompt.text, includes),
        model=prompt.model,
        params=dict(prompt.params),
        interface=iface,
        output_format=out.format if out else "text",
        output_schema=out.schema if out else None,
        description=prompt.description,
        tags=tuple(prompt.tags),
        sample=prompt.sample,
        other={str(k): v for k, v in meta.items() if k not in _KNOWN_META},
        messages=tuple((m.role, m.source) for m in prompt.messages),
        includes=includes,
        missing_includes=missing,
        tools=tools,
        tool_files=tuple(tool_texts),
    )
