"""Google Gemini ``generateContent`` (Gemini API, v1beta).

Request: ``POST {base_url}/models/{model}:generateContent`` with header
``x-goog-api-key``; body ``{"contents": [{"role": "user"|"model", "parts": [{"text"}]}],
"systemInstruction": {"parts": [{"text"}]}, "generationConfig": {...}}``. OpenAI-style
params are mapped (``max_tokens`` → ``maxOutputTokens``, ``top_p`` → ``topP``, ``stop`` →
``stopSequences``, ``response_format: {type: json_object}`` → ``responseMimeType``).
Answer: ``candidates[0].content.parts[].text``, ``finishReason``, ``usageMetadata``.
Embeddings: ``models/{model}:batchEmbedContents``.
"""

from __future__ import annotations

from typing import Any

from loomgit.providers.base import Completion, Usage
from loomgit.providers.errors import ProviderRejected
from loomgit.providers.http import OPENAI_ONLY, HTTPProvider, as_int, merge_turns, system_text

_RENAME = {
    "max_tokens": "maxOutputTokens",
    "max_completion_tokens": "maxOutputTokens",
    "top_p": "topP",
    "top_k": "topK",
    "stop": "stopSequences",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}
_TOP_LEVEL = {"safetySettings", "tools", "toolConfig", "cachedContent", "labels"}


class GeminiProvider(HTTPProvider):
    name = "gemini"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta"

    def auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._api_key} if self._api_key else {}

    @property
    def model_path(self) -> str:
        return (
            self.model
            if self.model.startswith(("models/", "tunedModels/"))
            else f"models/{self.model}"
        )

    def request_body(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> dict[str, Any]:
        turns = merge_turns(messages, {"user": "user", "assistant": "model"})
        if not turns:
            raise ProviderRejected(
                f"{self.label}: Gemini needs at least one user message "
                "besides the system instruction"
            )
        body: dict[str, Any] = {"contents": [{"role": r, "parts": [{"text": c}]} for r, c in turns]}
        system = system_text(messages)
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        config: dict[str, Any] = {}
        for k, v in params.items():
            if k in _TOP_LEVEL:
                body[k] = v
            elif k == "stop":
                config["stopSequences"] = [v] if isinstance(v, str) else list(v)
            elif k == "response_format":
                if isinstance(v, dict) and v.get("type") in ("json_object", "json_schema"):
                    config["responseMimeType"] = "application/json"
            elif k in _RENAME:
                config[_RENAME[k]] = v
            elif k == "n":
                config["candidateCount"] = v
            elif k not in OPENAI_ONLY:
                config[k] = v
        if config:
            body["generationConfig"] = config
        return body

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        data, latency = await self.post(
            f"/{self.model_path}:generateContent",
            self.request_body(messages, self.merge_params(params)),
        )
        try:
            candidates = data.get("candidates") or []
            if not candidates:
                block = (data.get("promptFeedback") or {}).get("blockReason")
                if block:
                    raise ProviderRejected(
                        f"{self.label}: Gemini blocked the prompt "
                        f"(blockReason {block}); change the prompt or "
                        "its safetySettings"
                    )
                raise self.shape_error(data, "no candidates")
            cand = candidates[0]
            parts = (cand.get("content") or {}).get("parts") or []
            text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
            meta = data.get("usageMetadata") or {}
            out = as_int(meta.get("candidatesTokenCount")) + as_int(meta.get("thoughtsTokenCount"))
            return Completion(
                text,
                self.label,
                Usage(as_int(meta.get("promptTokenCount")), out),
                latency,
                None,
                cand.get("finishReason"),
                raw=data,
            )
        except (KeyError, TypeError, AttributeError):
            raise self.shape_error(data, "no candidates[0].content") from None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        body = {
            "requests": [
                {"model": self.model_path, "content": {"parts": [{"text": t}]}} for t in texts
            ]
        }
        data, _ = await self.post(f"/{self.model_path}:batchEmbedContents", body)
        try:
            vectors = [[float(x) for x in e["values"]] for e in data["embeddings"]]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self.shape_error(data, "no embeddings[].values") from None
        if len(vectors) != len(texts):
            raise self.shape_error(data, f"{len(vectors)} embeddings for {len(texts)} texts")
        return vectors
