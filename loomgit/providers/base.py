"""The provider interface every backend implements, and the result it returns."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from loomgit.errors import ProviderError

Message = dict[
    str, Any
]  # OpenAI chat vocabulary: role, content (str or parts), tool_calls, tool_call_id


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class ToolCall:
    """One tool call in an answer. ``arguments`` is the parsed JSON object; when the
    provider sent arguments that do not parse, it is ``None`` and ``error`` says why
    (``arguments_text`` keeps what was sent, for reports)."""

    id: str
    name: str
    arguments: Any = None
    arguments_text: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments}
        if self.error is not None:
            d["arguments_text"] = self.arguments_text
            d["error"] = self.error
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ToolCall:
        args = d.get("arguments")
        text = d.get("arguments_text")
        if text is None:  # stored only for arguments that did not parse
            text = json.dumps(args, ensure_ascii=False) if args is not None else ""
        return cls(str(d.get("id", "")), str(d.get("name", "")), args, str(text), d.get("error"))


@dataclass(frozen=True)
class Completion:
    """One model answer: text, usage, latency, cost, and the raw response for debugging.

    ``latency_ms`` is the time of the attempt that answered (retries and waits are not
    counted); ``attempts`` says how many tries it took. ``cached`` answers (from the
    response cache or a recording) keep the latency and cost of the call that made them.
    """

    text: str
    model: str  # "provider/model" as asked for
    usage: Usage = field(default_factory=Usage)
    latency_ms: float = 0.0
    cost_usd: float | None = None
    finish_reason: str | None = None
    cached: bool = False
    raw: Any = None
    attempts: int = 1
    tool_calls: tuple[ToolCall, ...] = ()
    refusal: str | None = None  # the model declined; ``text`` is then empty

    def as_message(self) -> Message:
        """The answer as the assistant turn of a conversation (OpenAI chat vocabulary)."""
        msg: Message = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            msg["tool_calls"] = [
                {
                    "id": t.id,
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "arguments": t.arguments_text
                        if t.error is not None
                        else json.dumps(t.arguments, ensure_ascii=False),
                    },
                }
                for t in self.tool_calls
            ]
        return msg

    def to_dict(self, *, raw: bool = False) -> dict[str, Any]:
        """The JSON shape used by ``--json`` output, the cache and recordings."""
        d: dict[str, Any] = {
            "text": self.text,
            "model": self.model,
            "usage": {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
                "total_tokens": self.usage.total_tokens,
            },
            "latency_ms": round(self.latency_ms, 3),
            "cost_usd": self.cost_usd,
            "finish_reason": self.finish_reason,
            "cached": self.cached,
            "attempts": self.attempts,
        }
        if self.tool_calls:
            d["tool_calls"] = [t.to_dict() for t in self.tool_calls]
        if self.refusal is not None:
            d["refusal"] = self.refusal
        if raw:
            d["raw"] = self.raw
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], **changes: Any) -> Completion:
        u = d.get("usage") or {}
        cost = d.get("cost_usd")
        values: dict[str, Any] = {
            "text": str(d.get("text", "")),
            "model": str(d.get("model", "")),
            "usage": Usage(int(u.get("input_tokens") or 0), int(u.get("output_tokens") or 0)),
            "latency_ms": float(d.get("latency_ms") or 0.0),
            "cost_usd": float(cost) if isinstance(cost, (int, float)) else None,
            "finish_reason": d.get("finish_reason"),
            "cached": bool(d.get("cached", False)),
            "raw": d.get("raw"),
            "attempts": int(d.get("attempts") or 1),
            "tool_calls": tuple(
                ToolCall.from_dict(t) for t in d.get("tool_calls") or () if isinstance(t, Mapping)
            ),
            "refusal": d.get("refusal") if isinstance(d.get("refusal"), str) else None,
        }
        values.update(changes)
        return cls(**values)


class Provider:
    """Base class: ``await provider.complete(messages, params)``.

    ``messages`` is a list of ``{"role": "system"|"user"|"assistant", "content": str}``;
    ``params`` holds generation settings (temperature, max_tokens, ...), in OpenAI's
    vocabulary; each backend maps them to its API. ``defaults`` are the params of the
    ``providers:`` entry, under the call's own params.
    """

    name: str = "base"
    local: bool = False  # runs on this machine: free, and not worth caching if offline

    def __init__(
        self, model: str, *, label: str | None = None, defaults: Mapping[str, Any] | None = None
    ) -> None:
        self.model = model  # the part after "provider/"
        self.label = label or f"{self.name}/{model}"
        self.defaults: dict[str, Any] = dict(defaults or {})

    def merge_params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """The params actually sent: the entry's defaults, then the call's own."""
        return {**self.defaults, **(params or {})}

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        raise NotImplementedError

    # whether ``stream`` sends text as the model writes it (False: one chunk at the end)
    streams: bool = False

    async def stream(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> AsyncIterator[str | Completion]:
        """The answer as it is written: text deltas (``str``), then the whole
        :class:`Completion` (its ``text`` is every delta joined). The default is one chunk
        from :meth:`complete`; providers that can stream (``streams = True``) override it."""
        c = await self.complete(messages, params)
        if c.text:
            yield c.text
        yield c

    async def embed(self, texts: list[str]) -> list[list[float]]:
        raise ProviderError(
            f"{self.label}: {self.name} provides no embeddings; "
            "use an OpenAI-compatible, Gemini or Cohere embedding model"
        )

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> Provider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}>"
