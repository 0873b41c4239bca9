"""OpenAI chat completions and embeddings, and so every OpenAI-compatible server
(Ollama, vLLM, LM Studio, Groq, Cerebras, Together, OpenRouter, Mistral...).

Request: ``POST {base_url}/chat/completions`` with ``{"model", "messages", ...params}``;
answer: ``choices[0].message.content``, ``choices[0].finish_reason`` and
``usage.prompt_tokens`` / ``usage.completion_tokens``. Embeddings: ``POST
{base_url}/embeddings`` with ``{"model", "input": [...]}``; answer ``data[i].embedding``.
"""

from __future__ import annotations

import json
from typing import Any

from loomgit.providers.base import Completion, ToolCall, Usage
from loomgit.providers.http import HTTPProvider, as_int, text_of


class OpenAIProvider(HTTPProvider):
    name = "openai"
    default_base_url = "https://api.openai.com/v1"

    def request_body(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            k: v for k, v in params.items() if k not in ("stream", "stream_options")
        }
        body["model"] = self.model
        body["messages"] = [
            {k: m[k] for k in ("role", "content", "tool_calls", "tool_call_id") if k in m}
            for m in messages
        ]
        return body

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        data, latency = await self.post(
            "/chat/completions", self.request_body(messages, self.merge_params(params))
        )
        try:
            choice = data["choices"][0]
            msg = choice.get("message") or {}
            text = text_of(msg.get("content"))
            if not text and isinstance(msg.get("refusal"), str):
                text = msg["refusal"]
            usage = data.get("usage") or {}
            return Completion(
                text,
                self.label,
                Usage(as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens"))),
                latency,
                None,
                choice.get("finish_reason"),
                raw=data,
                tool_calls=tool_calls_of(msg.get("tool_calls")),
            )
        except (KeyError, IndexError, TypeError, AttributeError):
            raise self.shape_error(data, "no choices[0].message") from None

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


def tool_calls_of(raw: Any) -> tuple[ToolCall, ...]:
    """``message.tool_calls``: arguments that are not a JSON object keep their text and an
    ``error`` (a model can send broken JSON)."""
    calls = []
    for i, c in enumerate(raw if isinstance(raw, list) else ()):
        fn = c.get("function") if isinstance(c, dict) else None
        if not isinstance(fn, dict):
            continue
        text = fn.get("arguments")
        text = text if isinstance(text, str) else json.dumps(text)
        try:
            args, error = json.loads(text or "{}"), None
        except (ValueError, RecursionError) as e:
            args, error = None, f"arguments are not valid JSON ({e})"
        if error is None and not isinstance(args, dict):
            args, error = None, "arguments are not a JSON object"
        calls.append(
            ToolCall(str(c.get("id") or f"call_{i}"), str(fn.get("name", "")), args, text, error)
        )
    return tuple(calls)
