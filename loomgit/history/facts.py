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

from loomgit.errors import LoomgitError
from loomgit.prompt.model import MessageTemplate, Prompt, Variable, content_hash

TextLoader = Callable[[str], "str | None"]
_INCLUDE = re.compile(r"""\{%-?\s*(?:include|import|extends|from)\s+(["'])([^"'\n]+)\1""")
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
}
_MAX_INCLUDES = 64
_BLANKS = tuple(" \t\x0b\x0c\r\x1c\x1d\x1e\x1f")  # what str.rstrip() strips in ASCII
_BLANK_EOL = re.compile("[ \t\x0b\x0c\r\x1c-\x1f]\n")


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


def include_names(source: str) -> list[str]:
    """Literal template names a source includes/imports (dynamic names cannot be known)."""
    return [m.group(2) for m in _INCLUDE.finditer(source)]


def collect_includes(
    sources: list[str], load: TextLoader | None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Transitive includes: (path -> text, names that could not be loaded)."""
    if not any("{%" in s for s in sources):
        return {}, ()
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
    if (
        "{#" not in source
        and source.isascii()
        and source[-1:] not in _BLANKS
        and not _BLANK_EOL.search(source)
    ):
        return source.strip("\n")  # nothing to strip inside: the usual case
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
    from loomgit import yamlio

    return yamlio.plain(yamlio.load(fm_text))


def _plainify(obj: Any) -> Any:
    """PyYAML gives dates and the like; make them what the round-trip loader's ``plain``
    gives (strings), so that values compare the same way everywhere."""
    if isinstance(obj, dict):
        return {
            k if isinstance(k, (str, int, float, bool)) else str(k): _plainify(v)
            for k, v in obj.items()
        }
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


_TOP_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*:(?:[ \t]|$)")


_BLOCK = re.compile(
    r"^([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*:(?:[ \t][^\n]*)?"
    r"(?:\n(?=[ \t#\n-]|\Z)[^\n]*)*",
    re.MULTILINE,
)
_LEAD = re.compile(r"(?:(?:[ \t#][^\n]*)?\n)*")


def split_blocks(fm_text: str) -> list[tuple[str, str]] | None:
    """Top-level ``key: ...`` blocks of a frontmatter, as text; None when the YAML is not
    plainly laid out that way (the whole document is parsed then). A block is its key
    line and the blank, indented, comment and flush ``- item`` lines after it."""
    out = []
    pos = -1
    for m in _BLOCK.finditer(fm_text):
        if pos < 0:
            lead = fm_text[: m.start()]
            if lead and not _LEAD.fullmatch(lead):
                return None  # something before the first key that is not a comment
        elif m.start() != pos + 1:
            return None  # a line between blocks that is not part of one
        out.append((m.group(1), m.group()))
        pos = m.end()
    if pos < 0:
        return None if fm_text.strip(" \t\n") and not _LEAD.fullmatch(fm_text + "\n") else []
    return out if pos == len(fm_text) else None


def _meta_from(
    meta: Any,
    path: str,
    var_cache: dict[str, dict[str, Variable]] | None = None,
    var_text: str | None = None,
) -> _Meta:
    from loomgit.errors import PromptError
    from loomgit.prompt.parse import parse_variables, prompty_model

    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise PromptError("frontmatter must be a mapping of keys", path=path)
    var_key = "variables" if "variables" in meta else ("inputs" if "inputs" in meta else None)
    variables = None
    if var_key:
        ck = f"{var_key}\0{var_text if var_text is not None else repr(meta[var_key])}"
        variables = var_cache.get(ck) if var_cache is not None else None
        if variables is None:
            variables = parse_variables(meta[var_key], path, None, var_key)
            if var_cache is not None:
                if len(var_cache) > 20_000:
                    var_cache.clear()
                var_cache[ck] = variables
    if isinstance(meta.get("model"), dict):
        model, params = prompty_model(meta["model"])
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
    sample = meta.get("sample")
    if isinstance(sample, str) and (
        path.endswith(".prompty") or isinstance(meta.get("model"), dict)
    ):
        sample = None  # Prompty allows a file name here; the parser does not follow it
    if sample is None and var_key == "inputs" and variables:
        picked = {
            k: v["sample"]
            for k, v in meta["inputs"].items()
            if isinstance(v, dict) and "sample" in v
        }
        sample = picked or None
    return _Meta(
        model=model,
        params=params,
        variables=variables,
        output=output,
        description=str(desc),
        tags=tuple(str(t) for t in tags),
        sample=sample,
        other=other,
        meta=meta,
    )


# Most frontmatter blocks have a plain shape: ``description: words``, ``model: a/b``,
# ``params: {temperature: 0.2, max_tokens: 300}``, ``tags: [a, b]``, or ``variables:``
# over indented ``name: {type: string, enum: [a, b], default: a}`` lines. They are read
# here without a YAML parser; anything else, or any value YAML might read as other than
# a plain string or a decimal number, goes to YAML. (Tested equal to PyYAML.)
_FLOW_WORD = re.compile(r"[A-Za-z][A-Za-z0-9 _./()'!?;-]*")
_TOP_WORD = re.compile(r"[A-Za-z][A-Za-z0-9 _./()'!?;,-]*")
_NUM = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_STR = frozenset(("y", "Y", "n", "N"))  # left to YAML (readings differ between versions)


class _NotPlain(Exception):
    pass


_WORDS: dict[str, Any] = {
    **{w: True for w in ("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")},
    **{w: False for w in ("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")},
    "null": None,
    "Null": None,
    "NULL": None,
}


def _word(text: str) -> Any:
    text = text.rstrip(" ")
    if text in _WORDS:
        return _WORDS[text]  # YAML 1.1's booleans and null, as PyYAML reads them
    if text in _NOT_STR or text.endswith(":"):
        raise _NotPlain
    return text


def _flow(s: str, i: int, top: bool) -> tuple[Any, int]:
    """One value at ``s[i]``: a flow mapping or list, a quoted or plain scalar."""
    n = len(s)
    while i < n and s[i] == " ":
        i += 1
    if i >= n:
        raise _NotPlain
    c = s[i]
    if c == "{" or c == "[":
        close = "}" if c == "{" else "]"
        out_map: dict[str, Any] = {}
        out_seq: list[Any] = []
        i += 1
        while True:
            while i < n and s[i] == " ":
                i += 1
            if i < n and s[i] == close and not (out_map or out_seq):
                return (out_map if c == "{" else out_seq), i + 1
            if c == "{":
                m = _KEY.match(s, i)
                if m is None or s[m.end() : m.end() + 2] != ": " or m.group() in out_map:
                    raise _NotPlain
                out_map[m.group()], i = _flow(s, m.end() + 2, False)
            else:
                value, i = _flow(s, i, False)
                out_seq.append(value)
            while i < n and s[i] == " ":
                i += 1
            if i < n and s[i] == ",":
                i += 1
                continue
            if i < n and s[i] == close:
                return (out_map if c == "{" else out_seq), i + 1
            raise _NotPlain
    if c == '"' or c == "'":
        j = s.find(c, i + 1)
        if j < 0 or (c == '"' and "\\" in s[i:j]) or s[j + 1 : j + 2] == c:
            raise _NotPlain
        return s[i + 1 : j], j + 1
    m = _NUM.match(s, i)
    if m is not None:
        end = m.end()
        rest = s[end:].lstrip(" ")
        if rest == "" or (not top and rest[0] in ",}]"):
            text = m.group()
            return (float(text) if "." in text else int(text)), end
        raise _NotPlain
    m = (_TOP_WORD if top else _FLOW_WORD).match(s, i)
    if m is None:
        raise _NotPlain
    return _word(m.group()), m.end()


def _line_value(s: str) -> Any:
    value, end = _flow(s, 0, True)
    if s[end:].strip(" "):
        raise _NotPlain
    return value


def simple_block(text: str) -> dict[str, Any] | None:
    """``{key: value}`` for a block of a plain shape, else None (YAML reads it then)."""
    first, _, rest = text.partition("\n")
    m = _KEY.match(first)
    if m is None or first[m.end() : m.end() + 1] != ":":
        return None
    key, after = m.group(), first[m.end() + 1 :]
    try:
        if not rest:
            if not after.startswith(" ") or not after.strip(" "):
                return None
            return {key: _line_value(after[1:])}
        if after.strip(" "):
            return None
        lines = rest.split("\n")
        if lines[-1] == "":
            lines.pop()
        if not lines:
            return None
        indent = len(lines[0]) - len(lines[0].lstrip(" "))
        if lines[0][indent : indent + 2] == "- ":  # a list: "  - a" or "- a"
            items = []
            for ln in lines:
                if (
                    ln[:indent] != " " * indent
                    or ln[indent : indent + 2] != "- "
                    or ln[indent + 2 : indent + 3] == " "
                ):
                    return None
                items.append(_line_value(ln[indent + 2 :]))
            return {key: items}
        if indent == 0:
            return None
        out: dict[str, Any] = {}
        for ln in lines:
            if ln[:indent] != " " * indent or ln[indent : indent + 1] == " ":
                return None
            km = _KEY.match(ln, indent)
            if km is None or ln[km.end() : km.end() + 2] != ": " or km.group() in out:
                return None
            out[km.group()] = _line_value(ln[km.end() + 2 :])
        return {key: out}
    except (_NotPlain, ValueError):
        return None


class FactsBuilder:
    """Builds :class:`Facts` from file text, caching per frontmatter and per template set."""

    def __init__(self) -> None:
        self._meta: dict[str, _Meta | LoomgitError] = {}
        self._used: dict[tuple[str, ...], frozenset[str]] = {}
        self._blocks: dict[str, Any] = {}
        self._vars: dict[str, dict[str, Variable]] = {}
        self._msgs: dict[str, tuple[tuple[str, str], ...]] = {}

    def _block(self, text: str) -> Any:
        """One top-level block parsed on its own (None when it does not parse alone)."""
        if text in self._blocks:
            return self._blocks[text]
        got = simple_block(text)
        if got is None:
            try:
                got = load_meta(text)
            except LoomgitError:
                got = None
        if len(self._blocks) > 50_000:
            self._blocks.clear()
        self._blocks[text] = got
        return got

    def _load(self, fm_text: str) -> tuple[Any, str | None]:
        """The frontmatter as data: block by block (each distinct block is parsed once in
        a history pass), or as a whole when its layout is unusual. Also gives the text
        of the variables block (a cache key)."""
        blocks = split_blocks(fm_text)
        if blocks is not None:
            meta: dict[str, Any] = {}
            var_text = None
            for key, text in blocks:
                got = self._block(text)
                if not isinstance(got, dict) or len(got) != 1 or key not in got or key in meta:
                    break
                meta[key] = got[key]
                if key in ("variables", "inputs"):
                    var_text = text
            else:
                return meta, var_text
        return load_meta(fm_text), None

    def meta(self, fm_text: str | None, path: str) -> _Meta:
        key = fm_text or ""
        got = self._meta.get(key)
        if got is None:
            try:
                data, var_text = self._load(fm_text) if fm_text else ({}, None)
                got = _meta_from(data, path, self._vars, var_text)
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
            from loomgit.prompt.render import used_variables

            stub = Prompt(
                id="x",
                path=path,
                text="",
                messages=tuple(MessageTemplate("user", s, 1) for s in sources),
            )
            got = frozenset(used_variables(stub, includes.get))
            if len(self._used) > 20_000:
                self._used.clear()
            self._used[key] = got
        return got

    def messages(self, body: str, body_line: int, path: str) -> tuple[tuple[str, str], ...]:
        """(role, source) of each message, as :func:`split_messages` finds them."""
        got = self._msgs.get(body)
        if got is None:
            got = _fast_messages(body)
            if got is None:  # unusual layout or an error: the parser decides and explains
                from loomgit.prompt.parse import split_messages

                got = tuple((m.role, m.source) for m in split_messages(body, body_line, path))
            if len(self._msgs) > 20_000:
                self._msgs.clear()
            self._msgs[body] = got
        return got

    def from_text(self, text: str, path: str, load: TextLoader | None = None) -> Facts:
        """Facts of a file's text; ``load(name)`` gives included files."""
        try:
            norm = text.replace("\r\n", "\n") if "\r" in text else text
            if norm.startswith("\ufeff"):
                norm = norm[1:]
            fm_text, body, body_line = split_front(norm, path)
            m = self.meta(fm_text, path)
            if not body or body.isspace():
                raise LoomgitError("prompt has frontmatter but no body")
            msgs = self.messages(body, body_line, path)
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
        includes, missing = collect_includes(sources, load) if "{%" in body else ({}, ())
        if m.variables is not None:
            iface = m.variables  # shared, never changed: equal frontmatter, same object
        else:
            iface = {n: Variable(n) for n in sorted(self.used(sources, includes, path))}
        fmt, schema = m.output if m.output else ("text", None)
        return Facts(
            ok=True,
            content_hash=fast_hash(text, includes),
            model=m.model,
            params=m.params,
            interface=iface,
            output_format=fmt,
            output_schema=schema,
            description=m.description,
            tags=m.tags,
            sample=m.sample,
            other=m.other,
            messages=msgs,
            includes=includes,
            missing_includes=missing,
            meta_key=m,
        )


def fast_hash(text: str, includes: Mapping[str, str]) -> str:
    """:func:`loomgit.prompt.model.content_hash`, without its line-by-line work when the
    text is already normalized (ASCII, LF, no trailing blanks: the usual case)."""
    if (
        includes
        or not text.isascii()
        or text[-1:] in _BLANKS
        or "\r" in text
        or _BLANK_EOL.search(text)
    ):
        return content_hash(text, includes)
    import hashlib

    return hashlib.sha256((text.strip("\n") + "\n").encode()).hexdigest()


def split_front(text: str, path: str) -> tuple[str | None, str, int]:
    """:func:`loomgit.prompt.parse.split_frontmatter` with a regex instead of a line loop."""
    if not text.startswith("---"):
        return None, text, 1
    nl = text.find("\n")
    first = text if nl < 0 else text[:nl]
    if first.rstrip() != "---" or nl < 0:
        from loomgit.prompt.parse import split_frontmatter

        return split_frontmatter(text, path)
    start = end = -1
    i = nl
    while True:  # the first line after the opening one that is --- or ... (and blanks)
        j, k = text.find("\n---", i), text.find("\n...", i)
        cand = j if k < 0 or 0 <= j < k else k
        if cand < 0:
            break
        eol = text.find("\n", cand + 4)
        eol = len(text) if eol < 0 else eol
        rest = text[cand + 4 : eol]
        if not rest or rest.isspace():
            start, end = cand + 1, eol
            break
        i = cand + 1
    if start < 0:
        from loomgit.prompt.parse import split_frontmatter

        return split_frontmatter(text, path)  # raises the parser's own error
    fm = text[nl + 1 : start - 1] if start > nl + 1 else ""
    body = text[end + 1 :] if end < len(text) else ""
    return fm, body, (fm.count("\n") + 4) if start > nl + 1 else 3


_ROLE_LINE = re.compile(r"^[ \t]*((?i:system|user|assistant))[ \t]*:[ \t]*$", re.MULTILINE)


def _fast_messages(body: str) -> tuple[tuple[str, str], ...] | None:
    """The common case of :func:`loomgit.prompt.parse.split_messages` in one regex pass;
    None when the parser must look (no role line, text before the first, empty message)."""
    found = list(_ROLE_LINE.finditer(body))
    if not found or "\r" in body:
        return None
    lead = body[: found[0].start()]
    if lead and not lead.isspace() and _JINJA_COMMENT.sub("", lead).strip():
        return None
    out = []
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(body)
        src = body[m.end() + 1 : end].strip("\n") if m.end() < len(body) else ""
        if not src or src.isspace() or ("{#" in src and not _JINJA_COMMENT.sub("", src).strip()):
            return None
        out.append((m.group(1).lower(), src))
    return tuple(out)


def facts_from_prompt(prompt: Prompt, load: TextLoader | None = None) -> Facts:
    """Facts of an already parsed prompt (the full parser's view)."""
    from loomgit.prompt.render import interface

    sources = [m.source for m in prompt.messages]
    includes, missing = collect_includes(sources, load)
    iface = interface(prompt, includes.get if load is not None else None)
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
    )
