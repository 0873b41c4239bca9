"""The runner's access to models: loomgit's :class:`~loomgit.providers.ModelClient`
(retries, limits, circuit breaker, response cache, recordings, prices), adapted to the
runner's small :class:`~loomgit.evals.jobs.ModelCaller` interface."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from loomgit.config import load_config
from loomgit.providers.client import ModelClient

if TYPE_CHECKING:
    from loomgit.providers.base import Completion
    from loomgit.workspace import Workspace


class ClientCaller:
    """A :class:`ModelClient` with the eval's cache policy bound in."""

    def __init__(self, client: ModelClient, *, use_cache: bool = True) -> None:
        self.client = client
        self.use_cache = use_cache

    def prepare(self, models: Iterable[str], concurrency: int | None = None) -> list[str]:
        """Build each model's provider now, so a setup problem (unknown provider, missing
        API key) stops the run with one clear error before any case is sent. With
        ``concurrency`` (the run's), each provider entry without a ``max_concurrency`` of
        its own lets that many requests be in flight; returns the notes about entries whose
        own limit is lower."""
        if concurrency is not None:
            self.client.concurrency = concurrency
        for m in models:
            self.client.provider(m)
        return list(self.client.notes)

    def notes(self) -> list[str]:
        """What the providers said of the run so far (a fallback a provider has no native
        form for, a lower limit), each once."""
        return list(self.client.notes)

    def pace(self) -> list[str]:
        """How rate limits slowed the run, one line per provider entry (see ModelClient)."""
        return self.client.pace()

    async def complete(
        self,
        model: str,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        *,
        sample: int = 0,
        label: str | None = None,
    ) -> Completion:
        return await self.client.complete(
            model, messages, params, sample=sample, use_cache=self.use_cache, label=label
        )

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        return await self.client.embed(model, texts, use_cache=self.use_cache)

    async def aclose(self) -> None:
        try:
            await self.client.aclose()
        finally:
            close = getattr(self.client.cache, "close", None)
            if close is not None:
                close()


def make_caller(
    ws: Workspace | None, *, use_cache: bool = True, mode: str = "live", http: Any = None
) -> ClientCaller:
    """The caller the runner uses for ``ws``: its providers, cache and price table.

    ``mode``: ``live``, ``record`` (answer from recordings, record what is missing) or
    ``replay`` (recordings only)."""
    if ws is not None:
        config = ws.config
    else:
        config = load_config()
    client = ModelClient(config, mode=mode, http=http)
    return ClientCaller(client, use_cache=use_cache)
