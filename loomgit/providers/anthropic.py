"""Anthropic Messages API.

Request: ``POST {base_url}/messages`` with headers ``x-api-key`` and
``anthropic-version: 2023-06-01``; body ``{"model", "max_tokens", "system", "messages",
...}`` — the system prompt goes apart, ``max_tokens`` is required (1024 when the prompt
sets none), consecutive turns of one role are joined. Content parts become ``text``,
``image`` and ``document`` blocks (``source`` ``base64`` for data: URLs, ``url``
otherwise); an assistant turn's ``tool_calls`` become ``tool_use`` blocks and ``tool``
messages ``tool_result`` blocks of a user turn. ``tools`` become ``{"name",
"description", "input_schema"}``; ``tool_choice`` ``auto | required | none | a function``
becomes ``{"type": "auto" | "any" | "none" | "tool"}`` (``parallel_tool_calls: false`` sets
``disable_parallel_tool_use``). Structured output: ``output_config.format`` (``{"type":
"json_schema", "schema"}``) on the models that have it (Claude 4.5 and later) when the
schema fits its rules (every object closed); otherwise a forced tool whose input is the
answer (``tool_choice: {"type": "tool"}``); with tools of the prompt's own and no
``output_config``, the schema goes into the system prompt as instructions. Answer:
``content[]`` ``text`` and ``tool_use`` blocks, ``stop_reason`` (``refusal`` when the
model declined), ``usage.input_tokens`` / ``usage.output_tokens``. Errors: ``{"type":
"error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from loomgit.providers import vocab
from loomgit.providers.base import Completion, Usage
from loomgit.providers.errors import ProviderRejected
from loomgit.providers.http import OPENAI_ONLY, HTTPProvider, as_int

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
_DROP = OPENAI_ONLY | {"seed", "frequency_penalty", "presence_penalty"} | vocab.TOOL_PARAMS
_FAMILY = re.compile(r"claude-(?:opus|sonnet|haiku)-(\d+)(?:-(\d{1,2})(?!\d))?")
# keywords output_config.format does not take (the SDKs strip them and validate afterwards)
_NOT_NATIVE = {
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "maxItems",
}


def has_output_config(model: str) -> bool:
    """Whether the model takes ``output_config.format`` (Claude 4.5 and later)."""
    m = _FAMILY.search(model)
    return m is not None and (int(m.group(1)), int(m.group(2) or 0)) >= (4, 5)


def fits_output_config(schema: Any) -> bool:
    """Every object closed (``additionalProperties: false``), no numeric or length bounds."""
    if not isinstance(schema, dict):
        return True
    if _NOT_NATIVE & schema.keys():
        return False
    if (schema.get("type") == "object" or "properties" in schema) and schema.get(
        "additionalProperties"
    ) is not False:
        return False
    subs: list[Any] = []
    for key in ("properties", "$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            subs.extend(schema[key].values())
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        if isinstance(schema.get(key), list):
            subs.extend(schema[key])
    if isinstance(schema.get("items"), (dict, list)):
        subs.extend(schema["items"] if isinstance(schema["items"], list) else [schema["items"]])
    return all(fits_output_config(x) for x in subs)


def _source(part: vocab.Part) -> dict[str, Any]:
    d = part.data
    if d is None:
        return {"type": "url", "url": part.url}
    if d[0] == "text/plain":
        return {"type": "text", "media_type": "text/plain", "data": vocab.decode_text(d[1])}
    return {"type": "base64", "media_type": d[0], "data": d[1]}


def blocks(m: dict[str, Any]) -> list[dict[str, Any]]:
    """One message as content blocks (text of one message is one block)."""
    if m.get("role") == "tool":
        return [
            {
                "type": "tool_result",
                "tool_use_id": str(m.get("tool_call_id", "")),
                "content": vocab.text_only(m.get("content")),
            }
        ]
    out: list[dict[str, Any]] = []
    text: list[str] = []
    for p in vocab.parts(m.get("content")):
        if p.kind == "text":
            text.append(p.text)
            continue
        if text and "".join(text):
            out.append({"type": "text", "text": "".join(text)})
        text = []
        if p.kind == "image":
            out.append({"type": "image", "source": _source(p)})
        else:
            block: dict[str, Any] = {"type": "document", "source": _source(p)}
            if p.filename:
                block["title"] = p.filename
            out.append(block)
    if "".join(text) or (not out and not m.get("tool_calls")):
        out.append({"type": "text", "text": "".join(text)})
    for c in m.get("tool_calls") or ():
        out.append(
            {
                "type": "tool_use",
                "id": str(c.get("id", "")),
                "name": str((c.get("function") or {}).get("name", "")),
                "input": vocab.call_arguments(c),
            }
        )
    return out


def turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Non-system messages as Anthropic turns; consecutive turns of one role joined (text
    alone stays a string, joined by a blank line)."""
    merged: list[tuple[str, list[dict[str, Any]]]] = []
    for m in messages:
        if m.get("role") == "system":
            continue
        role = "assistant" if m.get("role") == "assistant" else "user"
        if merged and merged[-1][0] == role:
            merged[-1][1].extend(blocks(m))
        else:
            merged.append((role, blocks(m)))
    out: list[dict[str, Any]] = []
    for role, bs in merged:
        if all(b["type"] == "text" for b in bs):
            out.append({"role": role, "content": "\n\n".join(b["text"] for b in bs)})
        else:
            out.append({"role": role, "content": bs})
    return out


def tool_choice(params: dict[str, Any]) -> dict[str, Any] | None:
    choice = vocab.tool_choice(params.get("tool_choice"))
    if choice is None and not isinstance(params.get("tool_choice"), dict):
        out: dict[str, Any] | None = None
    elif choice is None:
        out = dict(params["tool_choice"])  # already Anthropic's shape
    elif choice[0] == "tool":
        out = {"type": "tool", "name": choice[1]}
    else:
        out = {"type": {"auto": "auto", "required": "any", "none": "none"}[choice[0]]}
    if params.get("parallel_tool_calls") is False and (out is None or out["type"] != "none"):
        out = {**(out or {"type": "auto"}), "disable_parallel_tool_use": True}
    return out


class AnthropicProvider(HTTPProvider):
    name = "anthropic"
    default_base_url = "https://api.anthropic.com/v1"
    path = "/messages"

    def auth_headers(self) -> dict[str, str]:
        h = {"anthropic-version": API_VERSION}
        if self._api_key:
            h["x-api-key"] = self._api_key
        return h

    def request_body(
        self,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        notes: list[str] | None = None,
    ) -> dict[str, Any]:
        notes = [] if notes is None else notes
        out = vocab.output_schema(params)
        fns = vocab.functions(params)
        native = (
            out is not None and has_output_config(self.model) and fits_output_config(out.schema)
        )
        if out is not None and not native and fns:
            messages = vocab.with_instructions(messages, out.schema)
            notes.append(
                "structured output sent as instructions in the system prompt (this model has "
                "no output_config.format for this schema, and the prompt's own tools rule "
                "out a forced tool); the answer is validated against the schema afterwards"
            )
        chat = turns(messages)
        if not chat:
            raise ProviderRejected(
                f"{self.label}: Anthropic needs at least one user or "
                "assistant message besides the system prompt"
            )
        p = dict(params)
        max_tokens = p.pop("max_tokens", None) or p.pop("max_completion_tokens", None)
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": int(max_tokens or DEFAULT_MAX_TOKENS),
        }
        system = "\n\n".join(
            vocab.text_only(m.get("content")) for m in messages if m.get("role") == "system"
        )
        if system:
            body["system"] = system
        body["messages"] = chat
        stop = p.pop("stop", None)
        if stop is not None:
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        for k, v in p.items():
            if k not in _DROP:
                body[k] = v
        if fns:
            body["tools"] = [
                {
                    "name": f["name"],
                    **({"description": f["description"]} if f["description"] else {}),
                    "input_schema": f["parameters"],
                }
                for f in fns
            ]
        elif isinstance(params.get("tools"), list) and params["tools"]:
            body["tools"] = params["tools"]  # already Anthropic's shape
        choice = tool_choice(params)
        if choice is not None and "tools" in body:
            body["tool_choice"] = choice
        if out is not None and native:
            body["output_config"] = {
                **(body.get("output_config") or {}),
                "format": {"type": "json_schema", "schema": out.schema},
            }
        elif out is not None and not fns:
            body["tools"] = [
                *(body.get("tools") or []),
                {
                    "name": out.name,
                    "description": "Give the answer: its input is the answer.",
                    "input_schema": out.schema,
                },
            ]
            body["tool_choice"] = {"type": "tool", "name": out.name}
            notes.append(
                f"structured output sent as a forced tool {out.name!r} (its input is the "
                "answer): this model has no output_config.format for this schema"
            )
        return body

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        notes: list[str] = []
        merged = self.merge_params(params)
        body = self.request_body(messages, merged, notes)
        self.say(notes)
        out = vocab.output_schema(merged)
        forced = (
            out.name
            if out is not None
            and body.get("tool_choice") == {"type": "tool", "name": out.name}
            and not vocab.functions(merged)
            else None
        )
        data, latency = await self.post(self.path, body)
        try:
            text = []
            calls = []
            for b in data["content"]:
                if b.get("type") == "text":
                    text.append(b.get("text", ""))
                elif b.get("type") == "tool_use":
                    if forced is not None and b.get("name") == forced:
                        text.append(json.dumps(b.get("input"), ensure_ascii=False))
                    else:
                        calls.append(
                            vocab.call_from_object(
                                str(b.get("id", "")), str(b.get("name", "")), b.get("input")
                            )
                        )
            usage = data.get("usage") or {}
            stop = data.get("stop_reason")
            answer = "".join(text)
            refusal = None
            if stop == "refusal":
                refusal, answer = answer or "the model declined (stop_reason: refusal)", ""
            elif forced is not None and stop == "tool_use" and not calls:
                stop = "end_turn"
            return Completion(
                answer,
                self.label,
                Usage(as_int(usage.get("input_tokens")), as_int(usage.get("output_tokens"))),
                latency,
                None,
                stop,
                raw=data,
                tool_calls=tuple(calls),
                refusal=refusal,
            )
        except (KeyError, TypeError, AttributeError):
            raise self.shape_error(data, "no content[]") from None
