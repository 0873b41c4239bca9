"""Cohere Chat API v2.

Request: ``POST {base_url}/chat`` (``https://api.cohere.com/v2``) with a bearer key; body
``{"model", "messages": [{"role", "content"}], "stream": false, ...}`` with OpenAI-style
params mapped (``top_p`` → ``p``, ``top_k`` → ``k``, ``stop`` → ``stop_sequences``).
Content parts ``text`` and ``image_url`` go as they are (Cohere has no file parts); an
assistant turn keeps ``tool_calls`` (its text becomes ``tool_plan``), a ``tool`` message
``tool_call_id``. ``tools`` are OpenAI's shape; ``tool_choice`` ``required`` / ``none``
become ``REQUIRED`` / ``NONE`` (one named function: only that tool is sent, with
``REQUIRED``). Structured output is ``response_format: {"type": "json_object",
"json_schema": ...}``; Cohere does not combine it with tools, so with tools the schema goes
into the system prompt as instructions. Answer: ``message.content[]`` text items,
``message.tool_calls[]`` (``function.arguments`` as JSON text), ``finish_reason``,
``usage.billed_units`` (or ``usage.tokens``). Errors: ``{"message": ...}``. Embeddings:
``POST {base_url}/embed``.
"""

from __future__ import annotations

from typing import Any

from loomgit.providers import vocab
from loomgit.providers.base import Completion, Usage
from loomgit.providers.http import OPENAI_ONLY, HTTPProvider, as_int, text_of

_RENAME = {
    "top_p": "p",
    "top_k": "k",
    "stop": "stop_sequences",
    "max_completion_tokens": "max_tokens",
}


def cohere_message(m: dict[str, Any], label: str) -> dict[str, Any]:
    role = m.get("role", "user")
    out: dict[str, Any] = {"role": role}
    content = m.get("content")
    if vocab.has_media(content):
        items: list[dict[str, Any]] = []
        for p in vocab.parts(content):
            if p.kind == "text":
                items.append({"type": "text", "text": p.text})
            elif p.kind == "image":
                items.append({"type": "image_url", "image_url": {"url": p.url}})
            else:
                raise vocab.unsupported(
                    label, f"Cohere takes no file parts ({p.filename or 'a document'})"
                )
        content = items
    if role == "assistant" and m.get("tool_calls"):
        out["tool_calls"] = m["tool_calls"]
        if vocab.text_only(content):
            out["tool_plan"] = vocab.text_only(content)
        return out
    if role == "tool":
        out["tool_call_id"] = m.get("tool_call_id", "")
    out["content"] = "" if content is None else content
    return out


class CohereProvider(HTTPProvider):
    name = "cohere"
    default_base_url = "https://api.cohere.com/v2"
    path = "/chat"

    def request_body(
        self,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        notes: list[str] | None = None,
    ) -> dict[str, Any]:
        notes = [] if notes is None else notes
        out = vocab.output_schema(params)
        if out is not None and params.get("tools"):
            messages = vocab.with_instructions(messages, out.schema)
            notes.append(
                "structured output sent as instructions in the system prompt (Cohere's "
                "response_format does not combine with tools); the answer is validated "
                "against the schema afterwards"
            )
        body: dict[str, Any] = {
            "model": self.model,
            "stream": False,
            "messages": [cohere_message(m, self.label) for m in messages],
        }
        tools = list(params.get("tools") or ())
        choice = vocab.tool_choice(params.get("tool_choice"))
        if choice is not None and choice[0] == "tool":
            tools = [
                t
                for t in tools
                if isinstance(t, dict) and (t.get("function") or {}).get("name") == choice[1]
            ]
            notes.append(f"tool_choice {choice[1]!r} sent as only that tool, REQUIRED")
        if tools:
            body["tools"] = tools
            if choice is not None and choice[0] in ("required", "tool"):
                body["tool_choice"] = "REQUIRED"
            elif choice is not None and choice[0] == "none":
                body["tool_choice"] = "NONE"
        for k, v in params.items():
            if k in vocab.TOOL_PARAMS:
                continue
            if k == "stop":
                body["stop_sequences"] = [v] if isinstance(v, str) else list(v)
            elif k in _RENAME:
                body[_RENAME[k]] = v
            elif k not in OPENAI_ONLY:
                body[k] = v
        if out is not None and not tools:
            body["response_format"] = {"type": "json_object", "json_schema": out.schema}
        elif vocab.wants_json(params) and not tools:
            body["response_format"] = {"type": "json_object"}
        return body

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        notes: list[str] = []
        body = self.request_body(messages, self.merge_params(params), notes)
        self.say(notes)
        data, latency = await self.post(self.path, body)
        try:
            msg = data["message"]
            text = text_of(msg.get("content"))
            calls = tuple(
                vocab.call_from_text(
                    str(c.get("id", "")),
                    str((c.get("function") or {}).get("name", "")),
                    (c.get("function") or {}).get("arguments"),
                )
                for c in msg.get("tool_calls") or ()
                if isinstance(c, dict)
            )
            usage = data.get("usage") or {}
            counts = usage.get("billed_units") or usage.get("tokens") or {}
            return Completion(
                text,
                self.label,
                Usage(as_int(counts.get("input_tokens")), as_int(counts.get("output_tokens"))),
                latency,
                None,
                data.get("finish_reason"),
                raw=data,
                tool_calls=calls,
            )
        except (KeyError, TypeError, AttributeError):
            raise self.shape_error(data, "no message.content") from None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        body = {
            "model": self.model,
            "texts": list(texts),
            "input_type": "search_document",
            "embedding_types": ["float"],
        }
        data, _ = await self.post("/embed", body)
        try:
            emb = data["embeddings"]
            rows = emb["float"] if isinstance(emb, dict) else emb
            vectors = [[float(x) for x in row] for row in rows]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self.shape_error(data, "no embeddings.float") from None
        if len(vectors) != len(texts):
            raise self.shape_error(data, f"{len(vectors)} embeddings for {len(texts)} texts")
        return vectors
