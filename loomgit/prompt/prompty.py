"""Prompty frontmatter (``.prompty`` files), current and legacy specifications, to
loomgit's prompt fields.

Current (Prompty 2): ``model: {id, provider, apiType, connection, options}``, ``inputs`` /
``outputs`` as a list of properties with ``name`` (or a mapping by name) whose type is
``kind``, ``template: {format: {kind}, parser: {kind}}``, ``metadata: {authors, tags}``.
Legacy (Prompty 1): ``model: {api, configuration: {type, azure_deployment | name},
parameters}``, ``inputs`` / ``outputs`` mappings whose type is ``type``, ``sample`` (a
mapping, or a file that is not followed), ``template: jinja2``, ``authors``/``tags`` at the
top. Both specifications forbid keys they do not define, so an unknown top-level key is an
error (with the closest known key). ``${env:...}`` and ``${file:...}`` references are never
resolved: a value that is one is left out (a default given as ``${env:NAME:default}`` is
used), so nothing from the environment reaches loomgit's output. ``docs/formats.md``
lists every field and what loomgit does with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import loomgit._yaml as _yaml
from loomgit.config import closest
from loomgit.errors import PromptError
from loomgit.prompt.parts import MessageTemplate, OutputSpec, Variable

# Keys of the current, intermediate and legacy specifications, and loomgit's own.
PROMPTY_KEYS = frozenset(
    {
        "$schema",
        "name",
        "displayName",
        "description",
        "version",
        "authors",
        "tags",
        "metadata",
        "kind",
        "id",
        "model",
        "inputs",
        "outputs",
        "inputSchema",
        "outputSchema",
        "sample",
        "template",
        "tools",
        "instructions",
        "additional_instructions",
        "base",
        # loomgit's own frontmatter keys, allowed in a .prompty file too
        "variables",
        "params",
        "output",
    }
)
# kind (current) / type (legacy) -> loomgit variable type
_KINDS = {
    "string": "string",
    "str": "string",
    "integer": "integer",
    "int": "integer",
    "float": "number",
    "number": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "object": "object",
    "dict": "object",
}
# Prompty 2's SimpleTypes
PROMPTY_KINDS = (
    "string",
    "integer",
    "float",
    "boolean",
    "array",
    "object",
    "union",
    "thread",
    "image",
    "audio",
    "file",
)
_ANY_KINDS = {"union", "thread", "image", "audio", "file", "any"}
_JSON_TYPES = {"string", "integer", "number", "boolean", "array", "object"}
# Prompty 2 ``model.options`` (camelCase) -> loomgit params (the OpenAI names)
_OPTIONS = {
    "maxOutputTokens": "max_tokens",
    "maxTokens": "max_tokens",
    "topP": "top_p",
    "topK": "top_k",
    "frequencyPenalty": "frequency_penalty",
    "presencePenalty": "presence_penalty",
    "stopSequences": "stop",
    "temperature": "temperature",
    "seed": "seed",
}
_IGNORED_OPTIONS = {"allowMultipleToolCalls", "type", "kind", "tools", "tool_choice"}
_REF = re.compile(r"^\s*\$\{(env|file|param):([^:}]*)(?::([^}]*))?\}\s*$")
_EMPTY: dict[str, Any] = {"string": "", "array": [], "object": {}}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and _REF.match(value) is not None


def _value(value: Any) -> Any:
    """A frontmatter value with ``${env:X:default}`` replaced by its default and any other
    reference by None (never resolved: the environment stays out of the output)."""
    if not isinstance(value, str):
        return value
    m = _REF.match(value)
    if m is None:
        return value
    return m.group(3) if m.group(1) == "env" and m.group(3) else None


def check_keys(meta: Mapping[str, Any], path: str, lines: Mapping[str, int]) -> None:
    for key in meta:
        if key not in PROMPTY_KEYS:
            close = closest(key, sorted(PROMPTY_KEYS))
            hint = f"; did you mean {close!r}?" if close else ""
            raise PromptError(
                f"unknown Prompty key {key!r}{hint} (see docs/formats.md)",
                path=path,
                line=lines.get(str(key)),
            )


def model_and_params(raw: Any) -> tuple[str | None, dict[str, Any]]:
    """``provider/model`` and params from a current or legacy ``model:``."""
    if raw is None:
        return None, {}
    if isinstance(raw, str):
        return _value(raw), {}  # as loomgit reads a model string
    if not isinstance(raw, dict):
        return None, {}
    conf: dict[str, Any] = (
        raw["configuration"] if isinstance(raw.get("configuration"), dict) else {}
    )
    conn: dict[str, Any] = raw["connection"] if isinstance(raw.get("connection"), dict) else {}
    mid = _value(raw.get("id"))
    for key in ("azure_deployment", "name", "model"):
        if not mid:
            mid = _value(conf.get(key))
    if not mid:  # an intermediate shape kept the deployment under connection
        mid = _value(conn.get("azure_deployment"))
    provider = _value(raw.get("provider")) or _value(conn.get("provider"))
    provider = provider or _value(conf.get("type")) or "openai"
    provider = str(provider).replace("azure_openai", "openai")
    if provider == "azure":
        provider = "openai"  # an Azure OpenAI deployment speaks the OpenAI API
    params: dict[str, Any] = {}
    legacy = raw.get("parameters")
    if isinstance(legacy, dict):
        params.update({str(k): v for k, v in legacy.items() if k not in ("tools",)})
    options = raw.get("options")
    if isinstance(options, dict):
        for key, value in options.items():
            if key == "additionalProperties" and isinstance(value, dict):
                params.update({str(k): v for k, v in value.items()})
            elif key not in _IGNORED_OPTIONS:
                params[_OPTIONS.get(str(key), str(key))] = value
    params = {k: v for k, v in params.items() if not is_reference(v)}
    name = f"{provider}/{mid}" if mid and "/" not in str(mid) else mid
    return (str(name) if name else None), _yaml.plain(params)


def _properties(raw: Any, path: str, line: int | None, key: str) -> list[tuple[str, Any, int]]:
    """(name, spec, line) of each property of a list-form or mapping-form block."""
    out: list[tuple[str, Any, int]] = []
    if raw is None:
        return out
    if isinstance(raw, dict):
        for name, spec in raw.items():
            doc_line = _yaml.line_of(raw, name)
            out.append((name, spec, doc_line + 1 if doc_line else (line or 1)))
        return out
    if isinstance(raw, list):
        for i, item in enumerate(raw):
            doc_line = _yaml.line_of(raw, i)
            iline = doc_line + 1 if doc_line else (line or 1)
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise PromptError(
                    f"{key}: item {i + 1} must be a mapping with a 'name'", path=path, line=iline
                )
            out.append((item["name"], {k: v for k, v in item.items() if k != "name"}, iline))
        return out
    raise PromptError(
        f"'{key}' must be a list of properties (each with a name) or a mapping by name",
        path=path,
        line=line,
    )


def _kind(spec: Mapping[str, Any], name: str, path: str, line: int, key: str) -> str:
    raw = spec.get("kind", spec.get("type"))
    if raw is None:
        return "string"
    kind = str(raw)
    if kind in _KINDS:
        return _KINDS[kind]
    if kind in _ANY_KINDS or "kind" not in spec:
        return "any"  # the legacy specification leaves an input's type open
    raise PromptError(
        f"{key} {name!r}: unknown kind {kind!r} (one of {', '.join(PROMPTY_KINDS)})",
        path=path,
        line=line,
    )


def _scalar_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def inputs(
    raw: Any, path: str, line: int | None, key: str = "inputs"
) -> tuple[dict[str, Variable], dict[str, Any]]:
    """Variables and the sample values (``sample``/``example``/a shorthand value) of a
    Prompty ``inputs`` block, current or legacy."""
    if isinstance(raw, dict) and key == "inputSchema":
        raw = raw.get("properties")
    variables: dict[str, Variable] = {}
    samples: dict[str, Any] = {}
    for name, spec, vline in _properties(raw, path, line, key):
        if not isinstance(name, str) or not _NAME.match(name):
            raise PromptError(
                f"input name {name!r} is not a valid identifier", path=path, line=vline
            )
        if not isinstance(spec, dict):  # shorthand `name: World`: a string with that value
            value = _yaml.plain(_value(spec))
            vtype = _scalar_type(value) if value is not None else "string"
            variables[name] = Variable(name, vtype, False, value, None, "", vline)
            if value is not None:
                samples[name] = value
            continue
        vtype = _kind(spec, name, path, vline, "input")
        required = spec.get("required", False)
        if not isinstance(required, bool):
            raise PromptError(
                f"input {name!r}: required must be true or false", path=path, line=vline
            )
        enum = spec.get("enumValues", spec.get("enum"))
        if enum is not None and not isinstance(enum, list):
            raise PromptError(f"input {name!r}: enumValues must be a list", path=path, line=vline)
        default = _yaml.plain(_value(spec["default"])) if "default" in spec else None
        if default is None:
            default = _EMPTY.get(vtype, "" if vtype == "any" else None)
        for skey in ("sample", "example"):
            if skey in spec and not is_reference(spec[skey]):
                samples[name] = _yaml.plain(spec[skey])
        variables[name] = Variable(
            name=name,
            type=vtype,
            required=required,
            default=None if required else default,
            enum=tuple(_yaml.plain(enum)) if enum else None,
            description=str(spec.get("description") or ""),
            line=vline,
        )
    return variables, samples


def _json_schema(spec: Any, path: str, line: int, name: str) -> dict[str, Any]:
    if not isinstance(spec, dict):
        return {"type": _scalar_type(spec)} if spec is not None else {}
    kind = _kind(spec, name, path, line, "output")
    schema: dict[str, Any] = {"type": kind} if kind in _JSON_TYPES else {}
    if spec.get("description"):
        schema["description"] = str(spec["description"])
    enum = spec.get("enumValues", spec.get("enum"))
    if isinstance(enum, list) and enum:
        schema["enum"] = _yaml.plain(enum)
    if kind == "array" and "items" in spec:
        schema["items"] = _json_schema(spec["items"], path, line, name)
    if kind == "object" and spec.get("properties"):
        schema.update(_object(spec["properties"], path, line, name))
    return schema


def _object(raw: Any, path: str, line: int | None, key: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required: list[str] = []
    for name, spec, pline in _properties(raw, path, line, key):
        props[str(name)] = _json_schema(spec, path, pline, str(name))
        if isinstance(spec, dict) and spec.get("required") is True:
            required.append(str(name))
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


def outputs(raw: Any, path: str, line: int | None, key: str = "outputs") -> OutputSpec | None:
    """A JSON output with a schema built from Prompty ``outputs`` (None when empty)."""
    if isinstance(raw, dict) and key == "outputSchema":
        raw = raw.get("properties")
    if not raw:
        return None
    return OutputSpec("json", _object(raw, path, line, key))


def template_format(raw: Any, path: str, line: int | None) -> str:
    """``jinja2`` or ``mustache`` from a current or legacy ``template:``."""
    if raw is None:
        return "jinja2"
    fmt: Any = raw
    if isinstance(raw, dict):
        fmt = raw.get("format", raw.get("type", "jinja2"))
        if isinstance(fmt, dict):
            fmt = fmt.get("kind", "jinja2")
    fmt = str(fmt).lower()
    if fmt in ("jinja2", "jinja", "*"):
        return "jinja2"
    if fmt in ("mustache", "handlebars"):
        return "mustache"
    raise PromptError(
        f"template format {fmt!r} is not supported (jinja2 or mustache)", path=path, line=line
    )


_ROLE_LINE = re.compile(
    r"^[ \t]*#?[ \t]*(system|user|assistant)[ \t]*(?:\[[^\]\n]*\])?[ \t]*:[ \t]*$", re.IGNORECASE
)
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


def _blank(text: str) -> bool:
    return not _JINJA_COMMENT.sub("", text).strip()


def split_body(body: str, body_line: int, path: str) -> tuple[MessageTemplate, ...]:
    """Messages of a Prompty body, as Prompty's chat parser splits it: at role lines
    (``system:``, also written ``# system:`` or with attributes ``system[key=value]:``,
    which are ignored); text before the first role line, or a body
    without any, is a ``system`` message."""
    lines = body.split("\n")
    starts = [(i, m.group(1).lower()) for i, ln in enumerate(lines) if (m := _ROLE_LINE.match(ln))]
    bounds = [(i + 1, role) for i, role in starts]
    first = starts[0][0] if starts else len(lines)
    if not _blank("\n".join(lines[:first])):
        bounds.insert(0, (0, "system"))
    out = []
    for n, (begin, role) in enumerate(bounds):
        end = bounds[n + 1][0] - 1 if n + 1 < len(bounds) else len(lines)
        chunk = lines[begin:end]
        src = "\n".join(chunk).strip("\n")
        if _blank(src):
            raise PromptError(
                f"role line '{role}:' has no message after it",
                path=path,
                line=body_line + begin - 1,
            )
        lead = 0
        while lead < len(chunk) and not chunk[lead].strip():
            lead += 1
        out.append(MessageTemplate(role, src, body_line + begin + lead))
    return tuple(out)


def tags_of(meta: Mapping[str, Any]) -> Any:
    tags = meta.get("tags")
    if tags is None and isinstance(meta.get("metadata"), dict):
        tags = meta["metadata"].get("tags")
    return tags or []


__all__ = [
    "PROMPTY_KEYS",
    "check_keys",
    "inputs",
    "is_reference",
    "model_and_params",
    "outputs",
    "split_body",
    "tags_of",
    "template_format",
]
