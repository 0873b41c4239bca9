"""Frontmatter keys to prompt fields: variables (``variables:`` or Prompty's ``inputs:``),
model and params (plain or Prompty's ``model:`` mapping), output, sample, tags. One set of
rules for the parser and for history's fast reader, so both read a file the same way."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import loomgit._yaml as _yaml
from loomgit.errors import PromptError
from loomgit.prompt import prompty as _prompty
from loomgit.prompt.parts import VARIABLE_TYPES, OutputSpec, Variable
from loomgit.prompt.prompty_tools import openai_tools, prompty_tools
from loomgit.prompt.tools import Tool
from loomgit.prompt.toolspec import parse_tools

_EMPTY_DEFAULTS: dict[str, Any] = {"string": "", "array": [], "object": {}}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VARIABLE_KEYS = {"type", "required", "default", "enum", "description", "sample"}


def parse_variables(raw: Any, path: str, line: int | None, meta_key: str) -> dict[str, Variable]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PromptError(f"'{meta_key}' must be a mapping of variable names", path=path, line=line)
    out: dict[str, Variable] = {}
    for name, spec in raw.items():
        doc_line = _yaml.line_of(raw, name)
        vline = doc_line + 1 if doc_line else line  # frontmatter starts on line 2
        if not isinstance(name, str) or not _NAME.match(name):
            raise PromptError(
                f"variable name {name!r} is not a valid identifier", path=path, line=vline
            )
        if spec is None:
            spec = {}
        elif isinstance(spec, str):
            spec = {"type": spec}
        if not isinstance(spec, dict):
            raise PromptError(
                f"variable {name!r}: expected a mapping like {{type: string}}",
                path=path,
                line=vline,
            )
        unknown = set(spec) - VARIABLE_KEYS
        if unknown:
            raise PromptError(
                f"variable {name!r}: unknown key(s) {', '.join(sorted(map(str, unknown)))}"
                " (known: type, required, default, enum, description)",
                path=path,
                line=vline,
            )
        vtype = spec.get("type", "string" if "enum" not in spec else "any")
        if vtype not in VARIABLE_TYPES:
            raise PromptError(
                f"variable {name!r}: unknown type {vtype!r} (one of {', '.join(VARIABLE_TYPES)})",
                path=path,
                line=vline,
            )
        enum = spec.get("enum")
        if enum is not None and not isinstance(enum, list):
            raise PromptError(f"variable {name!r}: enum must be a list", path=path, line=vline)
        has_default = "default" in spec
        required = spec.get("required", not has_default)
        if not isinstance(required, bool):
            raise PromptError(
                f"variable {name!r}: required must be true or false", path=path, line=vline
            )
        default = _yaml.plain(spec["default"]) if has_default else _EMPTY_DEFAULTS.get(vtype)
        desc = spec.get("description", "")
        out[name] = Variable(
            name=name,
            type=vtype,
            required=required,
            default=default if not required else None,
            enum=tuple(_yaml.plain(enum)) if enum is not None else None,
            description=str(desc or ""),
            line=vline,
        )
    return out


def prompty_model(raw: Any) -> tuple[str | None, dict[str, Any]]:
    """Prompty's ``model: {api, configuration: {type, name}, parameters}``."""
    if isinstance(raw, str) or raw is None:
        return raw, {}
    if not isinstance(raw, dict):
        return None, {}
    conf = raw.get("configuration") or {}
    name = conf.get("name") or conf.get("azure_deployment") or conf.get("model")
    ptype = str(conf.get("type") or "openai").replace("azure_openai", "openai")
    params = raw.get("parameters") or {}
    return (f"{ptype}/{name}" if name else None), dict(params) if isinstance(params, dict) else {}


@dataclass(frozen=True)
class Fields:
    """What the frontmatter says, checked."""

    model: str | None
    params: dict[str, Any]
    variables: dict[str, Variable] | None
    output: OutputSpec | None
    sample: dict[str, Any] | None
    tags: tuple[str, ...]
    description: str
    prompty: bool  # a Prompty ``model:`` mapping
    template: str = "jinja2"  # jinja2 | mustache (Prompty's ``template:``)
    tools: tuple[Tool, ...] = ()  # ``$ref`` entries pending (prompt.toolspec)


def variables_key(meta: Mapping[str, Any]) -> str | None:
    return "variables" if "variables" in meta else ("inputs" if "inputs" in meta else None)


def read_fields(
    meta: Mapping[str, Any],
    path: str,
    lines: Mapping[str, int] | None = None,
    *,
    prompty: bool = False,
    variables: dict[str, Variable] | None = None,
) -> Fields:
    """The fields of a frontmatter mapping; raises :class:`PromptError` at the key's line.
    ``prompty``: the file is a ``.prompty`` one; ``variables``: already parsed ones."""
    if prompty:
        return read_prompty(meta, path, lines or {})
    at = (lines or {}).get
    var_key = variables_key(meta)
    if var_key and variables is None:
        variables = parse_variables(meta[var_key], path, at(var_key), var_key)
    model: str | None
    params: dict[str, Any]
    if isinstance(meta.get("model"), dict):
        model, params = prompty_model(meta["model"])
        prompty = True
    else:
        model = meta.get("model")
        if model is not None and not isinstance(model, str):
            raise PromptError(
                "model must be a string like openai/gpt-4o-mini", path=path, line=at("model")
            )
        params = {}
    if "params" in meta:
        if not isinstance(meta["params"], dict):
            raise PromptError(
                "params must be a mapping such as {temperature: 0.2}", path=path, line=at("params")
            )
        params = {**params, **_yaml.plain(meta["params"])}
    output = _output(meta, path, at("output")) if "output" in meta else None
    sample = meta.get("sample")
    if isinstance(sample, str) and prompty:
        sample = None  # Prompty allows a file name here; not followed
    if sample is not None and not isinstance(sample, dict):
        raise PromptError(
            "sample must be a mapping of variable values", path=path, line=at("sample")
        )
    if sample is None and var_key == "inputs" and variables:
        raw_inputs = meta["inputs"]
        picked = {
            k: v["sample"] for k, v in raw_inputs.items() if isinstance(v, dict) and "sample" in v
        }
        sample = picked or None
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list):
        raise PromptError("tags must be a list", path=path, line=at("tags"))
    desc = meta.get("description") or meta.get("name") or ""
    tools = parse_tools(meta.get("tools"), path, at("tools")) if "tools" in meta else ()
    return Fields(
        model=model,
        params=params,
        variables=variables if var_key else None,
        output=output,
        sample=_yaml.plain(sample) if sample is not None else None,
        tags=tuple(str(t) for t in tags),
        description=str(desc),
        prompty=prompty,
        tools=tools,
    )


def read_prompty(meta: Mapping[str, Any], path: str, lines: Mapping[str, int]) -> Fields:
    """The fields of a ``.prompty`` file's frontmatter (:mod:`loomgit.prompt.prompty`);
    loomgit's own keys (``variables``, ``params``, ``output``, ``sample``) win over
    Prompty's."""
    at = lines.get
    _prompty.check_keys(meta, path, lines)
    model, params = _prompty.model_and_params(meta.get("model"))
    if "params" in meta:
        if not isinstance(meta["params"], dict):
            raise PromptError(
                "params must be a mapping such as {temperature: 0.2}", path=path, line=at("params")
            )
        params = {**params, **_yaml.plain(meta["params"])}
    variables: dict[str, Variable] | None = None
    samples: dict[str, Any] = {}
    if "variables" in meta:
        variables = parse_variables(meta["variables"], path, at("variables"), "variables")
    else:
        for key in ("inputs", "inputSchema"):
            if key in meta:
                variables, samples = _prompty.inputs(meta[key], path, at(key), key)
                break
    output = None
    if "output" in meta:
        output = _output(meta, path, at("output"))
    else:
        for key in ("outputs", "outputSchema"):
            if key in meta:
                output = _prompty.outputs(meta[key], path, at(key), key)
                break
    sample = meta.get("sample")
    if isinstance(sample, str):
        sample = None  # a file name or ${file:...}: not followed
    if sample is not None and not isinstance(sample, dict):
        raise PromptError(
            "sample must be a mapping of variable values (or a file name, which loomgit "
            "does not read)",
            path=path,
            line=at("sample"),
        )
    if sample is not None or samples:
        sample = {**samples, **_yaml.plain(sample or {})}
    tags = _prompty.tags_of(meta)
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list):
        raise PromptError("tags must be a list", path=path, line=at("tags") or at("metadata"))
    desc = meta.get("description") or meta.get("name") or meta.get("displayName") or ""
    tools: tuple[Tool, ...] = ()
    if "tools" in meta:
        tools = prompty_tools(meta["tools"], path, at("tools"))
    elif isinstance(meta.get("model"), dict) and isinstance(meta["model"].get("parameters"), dict):
        tools = openai_tools(meta["model"]["parameters"].get("tools"), path, at("model"))
    return Fields(
        model=model,
        params=params,
        variables=variables,
        output=output,
        sample=sample,
        tags=tuple(str(t) for t in tags),
        description=str(desc),
        prompty=True,
        template=_prompty.template_format(meta.get("template"), path, at("template")),
        tools=tools,
    )


def _output(meta: Mapping[str, Any], path: str, line: int | None) -> OutputSpec:
    out = meta["output"]
    if isinstance(out, str):
        out = {"format": out}
    if not isinstance(out, dict):
        raise PromptError("output must be a mapping {format, schema}", path=path, line=line)
    fmt = out.get("format", "json" if "schema" in out else "text")
    if fmt not in ("text", "json"):
        raise PromptError(f"output format must be text or json, got {fmt!r}", path=path, line=line)
    schema = out.get("schema")
    if schema is not None and not isinstance(schema, dict):
        raise PromptError("output schema must be a JSON Schema mapping", path=path, line=line)
    return OutputSpec(fmt, _yaml.plain(schema) if schema is not None else None)
