"""Anthropic Messages API.

Request: ``POST {base_url}/messages`` with headers ``x-api-key`` and
``anthropic-version: 2023-06-01``; body ``{"model", "max_tokens", "system", "messages",
...}`` — the system prompt goes apart, ``max_tokens`` is required (1024 when the prompt
sets none), consecutive turns of one role are joined. Answer: ``content[]`` text blocks,
``stop_reason``, ``usage.input_tokens`` / ``usage.output_tokens``. Errors:
``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

from typing import Any

from loomgit.providers.base import Completion, Usage
from loomgit.providers.errors import ProviderRejected
from loomgit.providers.http import OPENAI_ONLY, HTTPProvider, as_int, merge_turns, system_text

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
_DROP = OPENAI_ONLY | {"seed", "frequency_penalty", "presence_penalty", "response_format"}


class AnthropicProvider(HTTPProvider):
    name = "anthropic"
    default_base_url = "https://api.anthropic.com/v1"

    def auth_headers(self) -> dict[str, str]:
        h = {"anthropic-version": API_VERSION}
        if self._api_key:
            h["x-api-key"] = self._api_key
        return h

    def request_body(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> dict[str, Any]:
        turns = merge_turns(messages, {"user": "user", "assistant": "assistant"})
        if not turns:
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
        system = system_text(messages)
        if system:
            body["system"] = system
        body["messages"] = [{"role": r, "content": c} for r, c in turns]
        stop = p.pop("stop", None)
        if stop is not None:
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        for k, v in p.items():
            if k not in _DROP:
                body[k] = v
        return body

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        data, latency = await self.post(
            "/messages", self.request_body(messages, self.merge_params(params))
        )
        try:
            blocks = data["content"]
            text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
            usage = data.get("usage") or {}
            return Completion(
                text,
                self.label,
                Usage(as_int(usage.get("input_tokens")), as_int(usage.get("output_tokens"))),
                latency,
                None,
                data.get("stop_reason"),
                raw=data,
            )
        except (KeyError, TypeError, AttributeError):
            raise self.shape_error(data, "no content[]") from None
