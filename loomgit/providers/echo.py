"""``echo``: answers with the rendered messages, for trying templates and assertions with
no model, no key and no network.

The answer is the messages' contents joined by a blank line (a content part other than
text shows as ``[image]``, ``[image: URL]`` or ``[file: NAME]``). Token counts are estimated
(4 characters a token); cost is 0. Embeddings are hashed word counts (256 dimensions), so
``similar`` assertions give lexical cosine similarity offline.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from loomgit.providers.base import Completion, Provider, Usage
from loomgit.providers.vocab import describe

DIMENSIONS = 256
_WORD = re.compile(r"\w+", re.UNICODE)


def echo_text(messages: list[dict[str, Any]]) -> str:
    return "\n\n".join(describe(m.get("content")) for m in messages)


def hashed_embedding(text: str, dims: int = DIMENSIONS) -> list[float]:
    vec = [0.0] * dims
    for word in _WORD.findall(text.lower()):
        h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
        vec[h % dims] += 1.0
    norm = math.sqrt(sum(x * x for x in vec))
    return [x / norm for x in vec] if norm else vec


class EchoProvider(Provider):
    name = "echo"
    local = True

    def __init__(self, model: str = "", **kw: Any) -> None:
        super().__init__(
            model,
            label=kw.pop("label", None) or ("echo/" + model if model else "echo"),
            defaults=kw.pop("defaults", None),
        )

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        t0 = time.perf_counter()
        text = echo_text(messages)
        tokens_in = sum(len(describe(m.get("content"))) for m in messages) // 4
        return Completion(
            text,
            self.label,
            Usage(tokens_in, len(text) // 4),
            (time.perf_counter() - t0) * 1000,
            0.0,
            "stop",
        )

    streams = True

    async def stream(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> AsyncIterator[str | Completion]:
        """One delta a message (the blank line between them with the next), then the answer."""
        for i, m in enumerate(messages):
            yield ("\n\n" if i else "") + describe(m.get("content"))
        yield await self.complete(messages, params)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return [hashed_embedding(t) for t in texts]
