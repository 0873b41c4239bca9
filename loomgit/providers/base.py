"""The provider interface every backend implements, and the result it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class Completion:
    """One model answer: text, usage, latency, cost, and the raw response for debugging."""

    text: str
    model: str  # "provider/model" as asked for
    usage: Usage = field(default_factory=Usage)
    latency_ms: float = 0.0
    cost_usd: float | None = None
    finish_reason: str | None = None
    cached: bool = False
    raw: Any = None


class Provider:
    """Base class: ``await provider.complete(messages, params)``.

    ``messages`` is a list of ``{"role": "system"|"user"|"assistant", "content": str}``;
    ``params`` holds generation settings (temperature, max_tokens, ...).
    """

    name: str = "base"

    def __init__(self, model: str) -> None:
        self.model = model  # the part after "provider/"

    async def complete(self, messages: list[dict[str, str]], params: dict[str, Any]) -> Completion:
        raise NotImplementedError

    async def embed(self, texts: list[str]) -> list[list[float]]:
        from ..errors import ProviderError

        raise ProviderError(f"{self.name} provides no embeddings")

    async def aclose(self) -> None:
        return None
