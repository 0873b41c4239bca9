"""What a prompt version is made of, in the form version bumps are decided on.

History passes read tens of thousands of versions, so :func:`facts_from_text` is built for
speed: the frontmatter is parsed with PyYAML's C loader when it is installed (25x faster
than the round-trip loader, which keeps line numbers nobody needs here), each distinct
frontmatter is parsed once, and templates are parsed by Jinja only when a prompt declares
no variables and uses some. The field rules (variables, Prompty models) are the parser's
own (:mod:`loomgit.prompt.parse`), so history and ``loomgit check`` agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import LoomgitError
from ..prompt.model import MessageTemplate, Prompt, Variable, content_hash

TextLoader = Callable[[str], "str | None"]
_INCLUDE = re.compile(
    r"""\{%-?\s*(?:include|import|extends|from)\s+(["'])([^"'\n]+)\1""")
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_KNOWN_META = {"model", "params", "variables", "inputs", "output", "description", "name",
               "tags", "sample", "id"}
_MAX_INCLUDES = 64


@dataclass
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


def include_names(source: str) -> list[str]:
    """Literal template names a source includes/imports (dynamic names cannot be known)."""
    return [m.group(2) for m in _INCLUDE.finditer(source)]


def collect_includes(sources: list[str], load: TextLoader | None) -> tuple[dict[str, str], tuple[str, ...]]:
    """Transitive includes: (path -> text, names that could not be loaded)."""
    found: dict[str, str] = {}
    missing: list[str] = []
    todo = [n for s in sources for n in include_names(s)]
    while todo and len(found) + len(missing) < _MAX_INCLUDES:
        name = todo.pop(0)
        if name in found or name in missing:
            continue
        bad = name.startswith("/") or any(p in ("", ".", "..") for p in name.split("/"))
        text = None if bad or load is None else load(name)
        if text is None:
            missing.append(name)
            continue
        found[name] = text
        todo.extend(include_names(text))
    return found, tuple(missing)


def strip_source(source: str) -> str:
    """A template without Jinja comments, trailing blanks and surrounding blank lines."""
    src = _JINJA_COMMENT.sub("", source)
    return "\n".join(ln.rstrip() for ln in src.split("\n")).strip("\n")


# --- fast frontmatter -------------------------------------------------------------------

def _fast_yaml() -> Callable[[str], Any] | None:
    try:
        import yaml
    except ImportError:
        return None
    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader

    def load(text: str) -> Any:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader

    return load


_YAML_LOAD: Callable[[str], Any] | None = None
_YAML_READY = False


def load_meta(fm_text: str) -> Any:
    global _YAML_LOAD, _YAML_READY
    if not _YAML_READY:
        _YAML_LOAD, _YAML_READY = _fast_yaml(), True
    if _YAML_LOAD is not None:
        try:
            return _plainify(_YAML_LOAD(fm_text))
        except Exception as e:  # any YAML problem: the version does not parse
            raise LoomgitError(f"invalid YAML in frontmatter: {str(e).splitlines()[0]}") from None
    from .. import yamlio

    return yamlio.plain(yamlio.load(fm_text))


def _plainify(obj: Any) -> Any:
    """PyYAML gives dates and the like; make them what the round-trip loader's ``plain``
    gives (strings), so that values compare the same way everywhere."""
    if isinstance(obj, dict):
        return {k if isinstance(k, (str, int, float, bool)) else str(k): _plainify(v)
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plainify(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


@dataclass
class _Meta:
    """The frontmatter-derived part of a prompt, cached per frontmatter text."""

    model: str | None
    params: dict[str, Any]
    variables: dict[str, Variable] | None
    output: tuple[str, dict[str, Any] | None] | None
    description: str
    tags: tuple[str, ...]
    sample: Any
    other: dict[str, Any]
    meta: dict[str, Any]


def _meta_from(meta: Any, path: str) -> _Meta:
    from ..errors import PromptError
    from ..prompt.parse import _parse_variables, _prompty_model

    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise PromptError("frontmatter must be a mapping of keys", path=path)
    var_key = "variables" if "variables" in meta else ("inputs" if "inputs" in meta else None)
    variables = _parse_variables(meta[var_key], path, None, var_key) if var_key else None
    if isinstance(meta.get("model"), dict):
        model, params = _prompty_model(meta["model"])
    else:
        model = meta.get("model")
        if model is not None and not isinstance(model, str):
            raise PromptError("model must be a string", path=path)
        params = {}
    if "params" in meta:
        if not isinstance(meta["params"], dict):
            raise PromptError("params must be a mapping", path=path)
        params = {**params, **meta["params"]}
    output = None
    if "output" in meta:
        out = meta["output"]
        if isinstance(out, str):
            out = {"format": out}
        if not isinstance(out, dict):
            raise PromptError("output must be a mapping {format, schema}", path=path)
        fmt = out.get("format", "json" if "schema" in out else "text")
        schema = out.get("schema")
        output = (str(fmt), schema if isinstance(schema, dict) else None)
    tags = meta.get("tags") or []
    tags = [tags] if isinstance(tags, str) else (tags if isinstance(tags, list) else [tags])
    desc = meta.get("description") or meta.get("name") or ""
    other = {str(k): v for k, v in meta.items() if k not in _KNOWN_META}
    return _Meta(model=model, params=params, variables=variables, output=output,
                 description=str(desc), tags=tuple(str(t) for t in tags),
                 sample=meta.get("sample"), other=other, meta=meta)


class FactsBuilder:
    """Builds :class:`Facts` from file text, caching per frontmatter and per template set."""

    def __init__(self) -> None:
        self._meta: dict[str, _Meta | LoomgitError] = {}
        self._used: dict[tuple[str, ...], frozenset[str]] = {}

    def meta(self, fm_text: str | None, path: str) -> _Meta:
        key = fm_text or ""
        got = self._meta.get(key)
        if got is None:
            try:
                got = _meta_from(load_meta(fm_text) if fm_text else {}, path)
            except LoomgitError as e:
                got = e
            if len(self._meta) > 50_000:
                self._meta.clear()
            self._meta[key] = got
        if isinstance(got, LoomgitError):
            raise got
        return got

    def used(self, sources: list[str], includes: Mapping[str, str], path: str) -> frozenset[str]:
        if not any("{{" in s or "{%" in s for s in (*sources, *includes.values())):
            return frozenset()
        key = (*sources, "\0", *(f"{k}\0{v}" for k, v in sorted(includes.items())))
        got = self._used.get(key)
        if got is None:
            from ..prompt.render import used_variables

            stub = Prompt(id="x", path=path, text="",
                          messages=tuple(MessageTemplate("user", s, 1) for s in sources))
            got = frozenset(used_variables(stub, includes.get))
            if len(self._used) > 20_000:
                self._used.clear()
            self._used[key] = got
        return got

    def from_text(self, text: str, path: str, load: TextLoader | None = None) -> Facts:
        """Facts of a file's text; ``load(name)`` gives included files."""
        from ..prompt.parse import split_frontmatter, split_messages

        try:
            norm = text.replace("\r\n", "\n")
            if norm.startswith("\ufeff"):
                norm = norm[1:]
            fm_text, body, body_line = split_frontmatter(norm, path)
            m = self.meta(fm_text, path)
            if not body.strip():
                raise LoomgitError("prompt has frontmatter but no body")
            msgs = split_messages(body, body_line, path)
        except LoomgitError as e:
            includes, missing = collect_includes([text], load)
            return Facts(ok=False, error=e.message, content_hash=content_hash(text, includes),
                         includes=includes, missing_includes=missing)
        sources = [mt.source for mt in msgs]
        includes, missing = collect_includes(sources, load)
        if m.variables is not None:
            iface = dict(m.variables)
        else:
            iface = {n: Variable(n) for n in sorted(self.used(sources, includes, path))}
        fmt, schema = m.output if m.output else ("text", None)
        return Facts(ok=True, content_hash=content_hash(text, includes), model=m.model,
                     params=m.params, interface=iface, output_format=fmt, output_schema=schema,
                     description=m.description, tags=m.tags, sample=m.sample, other=m.other,
                     messages=tuple((mt.role, mt.source) for mt in msgs), includes=includes,
                     missing_includes=missing)


def facts_from_prompt(prompt: Prompt, load: TextLoader | None = None) -> Facts:
    """Facts of an already parsed prompt (the full parser's view)."""
    from ..prompt.render import interface

    sources = [m.source for m in prompt.messages]
    includes, missing = collect_includes(sources, load)
    iface = interface(prompt, includes.get if load is not None else None)
    out = prompt.output
    meta = prompt.meta or {}
    return Facts(ok=True, content_hash=content_hash(prompt.text, includes), model=prompt.model,
                 params=dict(prompt.params), interface=iface,
                 output_format=out.format if out else "text",
                 output_schema=out.schema if out else None, description=prompt.description,
                 tags=tuple(prompt.tags), sample=prompt.sample,
                 other={str(k): v for k, v in meta.items() if k not in _KNOWN_META},
                 messages=tuple((m.role, m.source) for m in prompt.messages),
                 includes=includes, missing_includes=missing)
