"""The runner's access to models, through loomgit's provider layer.

:func:`make_caller` adapts the provider layer to the runner's small
:class:`~loomgit.evals.runner.ModelCaller` interface. Until the provider registry is
available, a built-in fallback answers ``echo`` only.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..errors import ProviderError

if TYPE_CHECKING:
    from ..providers.base import Completion
    from ..workspace import Workspace
    from .runner import ModelCaller


def echo_text(messages: list[dict[str, str]]) -> str:
    return "\n\n".join(m.get("content", "") for m in messages)


class FallbackCaller:
    """``echo`` only: answers with the rendered messages."""

    async def complete(self, model: str, messages: list[dict[str, str]], params: dict[str, Any],
                       *, sample: int = 0) -> Completion:
        from ..providers.base import Completion, Usage

        if model.split("/", 1)[0] != "echo":
            raise ProviderError(f"{model}: provider not available in this build (only 'echo')")
        t = time.perf_counter()
        text = echo_text(messages)
        return Completion(text, model, Usage(sum(len(m.get("content", "")) for m in messages) // 4,
                                             len(text) // 4),
                          (time.perf_counter() - t) * 1000, 0.0, "stop")

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        raise ProviderError(f"{model}: embeddings are not available in this build")

    async def aclose(self) -> None:
        return None


def make_caller(ws: Workspace | None, *, use_cache: bool = True) -> ModelCaller:
    """The caller the runner uses for ``ws`` (its providers, cache and price table)."""
    return FallbackCaller()
