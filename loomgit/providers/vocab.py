"""The request vocabulary (OpenAI chat completions) taken apart for the providers that
speak another API, and the pieces every provider needs to read an answer.

A request is messages plus params, both in OpenAI's chat vocabulary: content is a string
or a list of parts (``text``, ``image_url``, ``file``), an assistant turn may carry
``tool_calls``, a tool result is a ``tool`` message with ``tool_call_id``; ``tools`` is a
list of ``{"type": "function", "function": {name, description, parameters}}``,
``tool_choice`` is ``auto | required | none | {"type": "function", "function": {"name"}}``
and structured output is ``response_format: {"type": "json_schema", "json_schema":
{"name", "schema", "strict"}}``. Each provider module maps these to its own API with the
helpers here; where an API has no native constraint for a schema, the schema goes into
the system prompt as instructions (:func:`with_instructions`) and the answer is validated
against it afterwards, and the provider says so (:func:`note`).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loomgit.providers.base import ToolCall
from loomgit.providers.errors import ProviderRejected

log = logging.getLogger("loomgit.providers")
_noted: set[str] = set()

TOOL_PARAMS = {"tools", "tool_choice", "parallel_tool_calls", "response_format"}


@dataclass(frozen=True)
class Part:
    """One content part: ``kind`` text | image | file; ``url`` an https or data: URL."""

    kind: str
    text: str = ""
    url: str = ""
    filename: str = ""

    @property
    def data(self) -> tuple[str, str] | None:
        """(media type, base64 data) of a ``data:`` URL, else None."""
        return data_url(self.url)


def data_url(url: str) -> tuple[str, str] | None:
    """``data:image/png;base64,AAAA`` -> ("image/png", "AAAA"); None when not base64 data."""
    if not url.startswith("data:") or "," not in url:
        return None
    head, _, payload = url[5:].partition(",")
    fields = head.split(";")
    if "base64" not in fields[1:]:
        return None
    return (fields[0] or "application/octet-stream"), payload


def decode_text(payload: str) -> str:
    try:
        return base64.b64decode(payload, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return ""


def parts(content: Any) -> list[Part]:
    """A message's content as parts (a string is one text part)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [Part("text", content)]
    out: list[Part] = []
    for p in content if isinstance(content, list) else [content]:
        if isinstance(p, str):
            out.append(Part("text", p))
            continue
        if not isinstance(p, Mapping):
            continue
        kind = p.get("type", "text")
        if kind == "text":
            out.append(Part("text", str(p.get("text", ""))))
        elif kind == "image_url":
            img = p.get("image_url")
            url = img.get("url", "") if isinstance(img, Mapping) else str(img or "")
            out.append(Part("image", url=str(url)))
        elif kind == "file":
            f = p.get("file") or {}
            out.append(
                Part("file", url=str(f.get("file_data", "")), filename=str(f.get("filename", "")))
            )
    return out


def text_only(content: Any) -> str:
    """The text of a content (parts other than text are left out)."""
    return "".join(p.text for p in parts(content) if p.kind == "text")


def has_media(content: Any) -> bool:
    return any(p.kind != "text" for p in parts(content))


def describe(content: Any) -> str:
    """Content as one readable string: text, with ``[image: …]`` / ``[file: …]`` markers."""
    if content is None or isinstance(content, str):
        return content or ""
    out = []
    for p in parts(content):
        if p.kind == "text":
            out.append(p.text)
        elif p.kind == "image":
            out.append("[image]" if p.data else f"[image: {p.url}]")
        else:
            out.append(f"[file: {p.filename or 'document'}]")
    return " ".join(out) if len(out) > 1 else "".join(out)


# -- tools -----------------------------------------------------------------------------------
def functions(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``tools`` param's functions as ``{"name", "description", "parameters"}``."""
    out = []
    for t in params.get("tools") or ():
        if not isinstance(t, Mapping):
            continue
        fn = t.get("function") if t.get("type", "function") == "function" else None
        if isinstance(fn, Mapping) and fn.get("name"):
            out.append(
                {
                    "name": str(fn["name"]),
                    "description": str(fn.get("description") or ""),
                    "parameters": fn.get("parameters") or {"type": "object", "properties": {}},
                }
            )
    return out


def is_openai_tools(value: Any) -> bool:
    """Whether a ``tools`` param is in the vocabulary (not already in a provider's shape)."""
    return isinstance(value, list) and all(
        isinstance(t, Mapping) and t.get("type") == "function" for t in value
    )


def tool_choice(value: Any) -> tuple[str, str | None] | None:
    """``tool_choice`` as (mode, name): ("auto"|"required"|"none", None) or ("tool", name)."""
    if value is None:
        return None
    if isinstance(value, str):
        v = value.lower()
        return (v, None) if v in ("auto", "required", "none") else None
    if isinstance(value, Mapping):
        fn = value.get("function")
        if isinstance(fn, Mapping) and fn.get("name"):
            return "tool", str(fn["name"])
        if value.get("type") in ("auto", "required", "none"):
            return str(value["type"]), None
    return None


def tool_names(messages: list[dict[str, Any]]) -> dict[str, str]:
    """tool_call_id -> function name, from the assistant turns' ``tool_calls``."""
    names: dict[str, str] = {}
    for m in messages:
        for c in m.get("tool_calls") or ():
            fn = c.get("function") or {}
            names[str(c.get("id", ""))] = str(fn.get("name", ""))
    return names


def call_arguments(call: Mapping[str, Any]) -> Any:
    """An assistant turn's tool call arguments as an object (they travel as JSON text)."""
    raw = (call.get("function") or {}).get("arguments")
    if isinstance(raw, Mapping):
        return dict(raw)
    parsed, error = parse_arguments(str(raw or ""))
    return parsed if error is None else {}


def parse_arguments(text: str) -> tuple[Any, str | None]:
    """(parsed object, None), or (None, why) when ``text`` is not a JSON object."""
    if not text.strip():
        return {}, None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        return None, f"arguments are not valid JSON ({e})"
    if not isinstance(value, dict):
        return None, f"arguments are JSON {type(value).__name__}, not an object"
    return value, None


def call_from_text(id: str, name: str, text: Any) -> ToolCall:
    """A tool call whose arguments came as JSON text (OpenAI, Cohere)."""
    if isinstance(text, Mapping):
        return call_from_object(id, name, text)
    s = "" if text is None else str(text)
    value, error = parse_arguments(s)
    return ToolCall(id, name, value, s, error)


def call_from_object(id: str, name: str, value: Any) -> ToolCall:
    """A tool call whose arguments came as a JSON object (Anthropic, Gemini, Ollama)."""
    text = json.dumps(value, ensure_ascii=False)
    if value is None:
        return ToolCall(id, name, {}, "{}")
    if not isinstance(value, Mapping):
        return ToolCall(
            id, name, None, text, f"arguments are {type(value).__name__}, not an object"
        )
    return ToolCall(id, name, dict(value), text)


# -- structured output -----------------------------------------------------------------------
@dataclass(frozen=True)
class OutputSchema:
    name: str
    schema: dict[str, Any]
    strict: bool | None


def output_schema(params: Mapping[str, Any]) -> OutputSchema | None:
    """The JSON Schema a ``response_format: {type: json_schema}`` asks for, if any."""
    rf = params.get("response_format")
    if not isinstance(rf, Mapping) or rf.get("type") != "json_schema":
        return None
    js = rf.get("json_schema")
    if not isinstance(js, Mapping) or not isinstance(js.get("schema"), Mapping):
        return None
    strict = js.get("strict")
    return OutputSchema(
        str(js.get("name") or "output"),
        dict(js["schema"]),
        strict if isinstance(strict, bool) else None,
    )


def wants_json(params: Mapping[str, Any]) -> bool:
    rf = params.get("response_format")
    return isinstance(rf, Mapping) and rf.get("type") in ("json_object", "json_schema")


_NOT_STRICT = {
    "allOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
    "patternProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
    "minProperties",
    "maxProperties",
    "contains",
}


def strict_allowed(schema: Any, *, root: bool = True) -> bool:
    """Whether OpenAI's strict mode takes ``schema``: an object at the root (not ``anyOf``),
    every object closed (``additionalProperties: false``) with all its properties
    required, and none of the keywords strict mode refuses."""
    if not isinstance(schema, Mapping):
        return False
    if root and (schema.get("type") != "object" or "anyOf" in schema):
        return False
    if _NOT_STRICT & schema.keys():
        return False
    types = schema.get("type")
    is_object = types == "object" or (isinstance(types, list) and "object" in types)
    if is_object or "properties" in schema:
        props = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False:
            return False
        if not isinstance(props, Mapping) or set(schema.get("required") or ()) != set(props):
            return False
        if not all(strict_allowed(v, root=False) for v in props.values()):
            return False
    for key in ("items", "$defs", "definitions", "anyOf"):
        sub = schema.get(key)
        subs = (
            list(sub.values())
            if isinstance(sub, Mapping) and key in ("$defs", "definitions")
            else sub
            if isinstance(sub, list)
            else [sub]
            if isinstance(sub, Mapping)
            else []
        )
        if not all(strict_allowed(s, root=False) for s in subs):
            return False
    return True


def instructions(schema: Mapping[str, Any]) -> str:
    return (
        "Answer with one JSON value that matches this JSON Schema, and nothing else "
        "(no prose, no code fence):\n" + json.dumps(schema, ensure_ascii=False, sort_keys=True)
    )


def with_instructions(
    messages: list[dict[str, Any]], schema: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """``messages`` with the schema asked for in a system message (the fallback for an API
    with no native constraint): appended to the first system message, or one in front."""
    text = instructions(schema)
    out = [dict(m) for m in messages]
    for m in out:
        if m.get("role") == "system":
            m["content"] = text_only(m.get("content")) + "\n\n" + text
            return out
    return [{"role": "system", "content": text}, *out]


def note(label: str, message: str) -> None:
    """Say once per process what a provider did instead of what was asked (a warning on
    the ``loomgit.providers`` logger: ``render --run`` and evals show it on stderr)."""
    key = f"{label}: {message}"
    if key not in _noted:
        _noted.add(key)
        log.warning("%s", key)


def unsupported(label: str, what: str) -> ProviderRejected:
    return ProviderRejected(f"{label}: {what}")
