"""Prompty's ``tools:`` (Prompty 2) and ``model.parameters.tools`` (Prompty 1) as tools.

Prompty 2 declares ``tools:`` as a list of tools with a ``kind``; ``kind: function`` is a
function the model calls, whose ``parameters`` are a list (or a mapping by name) of
Prompty parameters (``name``, ``kind``, ``description``, ``required``, ``enum``;
``properties`` of an object, ``items`` of an array). Those become JSON Schema. The other
kinds (MCP, search, OpenAPI and other server tools) run at their host, not in a request
loomgit sends, so they are left out. Prompty 1 kept OpenAI's request shape under
``model.parameters.tools``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import loomgit._yaml as _yaml
from loomgit.errors import PromptError
from loomgit.prompt.tools import Tool
from loomgit.prompt.toolspec import check_unique, item_line, parse_tools, tool_from

# Prompty 2's parameter kinds -> JSON Schema types
_PROMPTY_KINDS = {
    "string": "string",
    "integer": "integer",
    "int": "integer",
    "float": "number",
    "number": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "object": "object",
}


def _err(msg: str, path: str, line: int | None) -> PromptError:
    return PromptError(msg, path=path, line=line)


def prompty_tools(raw: Any, path: str, line: int | None) -> tuple[Tool, ...]:
    """Prompty's ``tools:``: ``kind: function`` entries become tools (their ``parameters``
    a list or mapping of Prompty parameters), other kinds (server tools: MCP, search,
    OpenAPI...) are left out; an entry without ``kind`` is read as loomgit's own."""
    if not isinstance(raw, list):
        raise _err("tools must be a list", path, line)
    out: list[Tool] = []
    plain: list[Any] = []
    for i, item in enumerate(raw):
        at = item_line(raw, i, line, 1)
        if not isinstance(item, dict) or "kind" not in item:
            plain.append(item)
            continue
        if item.get("kind") != "function":
            continue  # a server tool: run by its host, never part of a request here
        name = item.get("name")
        params = _prompty_params(item.get("parameters"), path, at)
        desc = item.get("description")
        out.append(
            tool_from({"name": name, "description": desc or "", "parameters": params}, path, at)
        )
    if plain:
        out.extend(parse_tools(_yaml.plain(plain), path, line))  # lines of the block
    check_unique(out, path)
    return tuple(out)


def _prompty_params(raw: Any, path: str, line: int | None) -> dict[str, Any]:
    props, required = _prompty_props(raw, path, line)
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


def _prompty_props(raw: Any, path: str, line: int | None) -> tuple[dict[str, Any], list[str]]:
    if raw is None:
        return {}, []
    items: list[tuple[Any, Any]]
    if isinstance(raw, Mapping):
        items = list(raw.items())
    elif isinstance(raw, list):
        items = [(p.get("name") if isinstance(p, Mapping) else None, p) for p in raw]
    else:
        raise _err("tool parameters must be a list or a mapping of parameters", path, line)
    props: dict[str, Any] = {}
    required: list[str] = []
    for name, spec in items:
        if not isinstance(name, str) or not isinstance(spec, Mapping):
            raise _err("each tool parameter needs a name and a mapping", path, line)
        props[name] = _prompty_schema(spec, path, line)
        if spec.get("required") is True:
            required.append(name)
    return props, required


def _prompty_schema(spec: Mapping[str, Any], path: str, line: int | None) -> dict[str, Any]:
    kind = spec.get("kind", "string")
    if kind not in _PROMPTY_KINDS:
        raise _err(
            f"tool parameter kind {kind!r} is not one of {', '.join(_PROMPTY_KINDS)}", path, line
        )
    out: dict[str, Any] = {"type": _PROMPTY_KINDS[kind]}
    if spec.get("description"):
        out["description"] = str(spec["description"])
    if isinstance(spec.get("enum"), list):
        out["enum"] = _yaml.plain(spec["enum"])
    if out["type"] == "object":
        props, required = _prompty_props(spec.get("properties"), path, line)
        out["properties"] = props
        if required:
            out["required"] = required
    elif out["type"] == "array" and isinstance(spec.get("items"), Mapping):
        out["items"] = _prompty_schema(spec["items"], path, line)
    return out


def openai_tools(raw: Any, path: str, line: int | None) -> tuple[Tool, ...]:
    """Tools written in OpenAI's request shape (Prompty 1's ``model.parameters.tools``); a
    file reference such as ``${file:functions.json}`` is not followed."""
    if not isinstance(raw, list):
        return ()
    return tuple(tool_from(item, path, line) for item in raw)
