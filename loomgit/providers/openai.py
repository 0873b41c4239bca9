"""OpenAI chat completions and embeddings, and so every OpenAI-compatible server
(vLLM, LM Studio, Groq, Cerebras, Together, OpenRouter, Mistral...; Ollama has its own
module, :mod:`loomgit.providers.ollama`).

Request: ``POST {base_url}/chat/completions`` with ``{"model", "messages", ...params}``:
the request vocabulary is OpenAI's own, so messages (content parts, ``tool_calls``,
``tool`` turns), ``tools`` and ``tool_choice`` go as they are. Structured output is
``response_format: {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``
with ``strict: true`` only when the schema meets strict mode's rules (every object closed
and all its properties required; see :func:`loomgit.providers.vocab.strict_allowed`).
Answer: ``choices[0].message`` (``content``, ``tool_calls[]`` with
``function.arguments`` as JSON text, ``refusal``), ``choices[0].finish_reason`` and
``usage.prompt_tokens`` / ``usage.completion_tokens``. Embeddings: ``POST
{base_url}/embeddings`` with ``{"model", "input": [...]}``; answer ``data[i].embedding``. Streaming (:meth:`stream`):
the same request with ``stream: true``, answered with ``chat.completion.chunk`` events.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from loomgit.providers import vocab
from loomgit.providers.base import Completion, Usage
from loomgit.providers.http import HTTPProvider, as_int, text_of
from loomgit.providers.sse import post_events

_MESSAGE_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name")


class OpenAIProvider(HTTPProvider):
    name = "openai"
    default_base_url = "https://api.openai.com/v1"
    path = "/chat/completions"

    def request_body(
        self,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        notes: list[str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            k: v for k, v in params.items() if k not in ("stream", "stream_options")
        }
        if not body.get("tools"):  # OpenAI refuses these without tools (HTTP 400)
            body.pop("tool_choice", None)
            body.pop("parallel_tool_calls", None)
        body["model"] = self.model
        body["messages"] = [{k: m[k] for k in _MESSAGE_KEYS if k in m} for m in messages]
        out = vocab.output_schema(params)
        if out is not None:
            strict = vocab.strict_allowed(out.schema)
            if out.strict and not strict and notes is not None:
                notes.append(
                    "response_format sent with strict: false: strict mode needs every object "
                    "closed (additionalProperties: false) with all its properties required"
                )
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {**params["response_format"]["json_schema"], "strict": strict},
            }
        return body

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        notes: list[str] = []
        body = self.request_body(messages, self.merge_params(params), notes)
        self.say(notes)
        data, latency = await self.post(self.path, body)
        try:
            choice = data["choices"][0]
            msg = choice.get("message") or {}
            text = text_of(msg.get("content"))
            refusal = msg.get("refusal") if isinstance(msg.get("refusal"), str) else None
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
            return Completion(
                "" if refusal and not text else text,
                self.label,
                Usage(as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens"))),
                latency,
                None,
                choice.get("finish_reason"),
                raw=data,
                tool_calls=calls,
                refusal=refusal,
            )
        except (KeyError, IndexError, TypeError, AttributeError):
            raise self.shape_error(data, "no choices[0].message") from None

    streams = True

    async def stream(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> AsyncIterator[str | Completion]:
        """``stream: true`` with ``stream_options.include_usage``: each ``delta.content`` as
        it arrives; tool calls are put together from their ``index``-ed fragments."""
        notes: list[str] = []
        body = self.request_body(messages, self.merge_params(params), notes)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        self.say(notes)
        t0 = time.perf_counter()
        text: list[str] = []
        refusal: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish: str | None = None
        usage: dict[str, Any] = {}
        async for data in post_events(self, self.path, body):
            if data.strip() == "[DONE]":
                break
            try:
                chunk = json.loads(data)
            except (ValueError, RecursionError):
                raise self.shape_error({}, f"an event that is not JSON: {data[:80]!r}") from None
            if not isinstance(chunk, dict):
                continue
            if isinstance(chunk.get("error"), dict):
                raise self.shape_error(chunk, "an error event")
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or ():
                if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                    continue
                finish = choice.get("finish_reason") or finish
                delta = choice.get("delta") or {}
                if isinstance(delta.get("refusal"), str):
                    refusal.append(delta["refusal"])
                piece = delta.get("content")
                if isinstance(piece, str) and piece:
                    text.append(piece)
                    yield piece
                for tc in delta.get("tool_calls") or ():
                    if not isinstance(tc, dict):
                        continue
                    slot = calls.setdefault(int(tc.get("index") or 0), {"args": []})
                    fn = tc.get("function") or {}
                    slot["id"] = tc.get("id") or slot.get("id", "")
                    slot["name"] = fn.get("name") or slot.get("name", "")
                    slot["args"].append(fn.get("arguments") or "")
        said = "".join(refusal) or None
        yield Completion(
            "" if said and not text else "".join(text),
            self.label,
            Usage(as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens"))),
            (time.perf_counter() - t0) * 1000,
            None,
            finish,
            tool_calls=tuple(
                vocab.call_from_text(
                    str(c.get("id", "")), str(c.get("name", "")), "".join(c["args"])
                )
                for _, c in sorted(calls.items())
            ),
            refusal=said,
        )

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        data, _ = await self.post("/embeddings", {"model": self.model, "input": list(texts)})
        try:
            items = sorted(data["data"], key=lambda d: d.get("index", 0))
            vectors = [[float(x) for x in item["embedding"]] for item in items]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self.shape_error(data, "no data[].embedding") from None
        if len(vectors) != len(texts):
            raise self.shape_error(data, f"{len(vectors)} embeddings for {len(texts)} texts")
        return vectors
