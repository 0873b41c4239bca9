"""Cohere Chat API v2.

Request: ``POST {base_url}/chat`` (``https://api.cohere.com/v2``) with a bearer key; body
``{"model", "messages": [{"role", "content"}], "stream": false, ...}`` with OpenAI-style
params mapped (``top_p`` → ``p``, ``top_k`` → ``k``, ``stop`` → ``stop_sequences``).
Answer: ``message.content[]`` text items, ``finish_reason``, ``usage.billed_units`` (or
``usage.tokens``). Errors: ``{"message": ...}``. Embeddings: ``POST {base_url}/embed``.
"""

from __future__ import annotations

from typing import Any

from loomgit.providers.base import Completion, Usage
from loomgit.providers.http import OPENAI_ONLY, HTTPProvider, as_int, text_of

_RENAME = {
    "top_p": "p",
    "top_k": "k",
    "stop": "stop_sequences",
    "max_completion_tokens": "max_tokens",
}


class CohereProvider(HTTPProvider):
    name = "cohere"
    default_base_url = "https://api.cohere.com/v2"

    def request_body(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "stream": False,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
        }
        for k, v in params.items():
            if k == "stop":
                body["stop_sequences"] = [v] if isinstance(v, str) else list(v)
            elif k in _RENAME:
                body[_RENAME[k]] = v
            elif k not in OPENAI_ONLY:
                body[k] = v
        return body

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        data, latency = await self.post(
            "/chat", self.request_body(messages, self.merge_params(params))
        )
        try:
            text = text_of(data["message"].get("content"))
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
