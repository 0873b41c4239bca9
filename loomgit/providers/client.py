"""The model client the eval engine, batch runs and ``render --run`` use, and
``get_provider`` for one model.

``ModelClient(config)`` turns model names into providers (one per name, limits shared per
provider entry), and adds to each call the response cache, recordings (``mode="record"``
/ ``"replay"``) and costs::

    async with ModelClient(ws.config) as client:
        c = await client.complete("openai/gpt-4o-mini", messages, {"temperature": 0}, sample=0)
        print(c.text, c.usage.total_tokens, c.latency_ms, c.cost_usd)

Tests and embedders may pass their own ``httpx.AsyncClient`` (``http=``), for instance one
with ``httpx.MockTransport``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import loomgit.providers.registry as registry
from loomgit.config import Config, load_config
from loomgit.providers.base import Completion, Provider
from loomgit.providers.cache import ResponseCache, cache_from_config, embed_key, request_key
from loomgit.providers.errors import ProviderConfigError
from loomgit.providers.http import new_client
from loomgit.providers.names import resolve
from loomgit.providers.pricing import PriceTable
from loomgit.providers.replay import RecordingStore, store_from_config
from loomgit.providers.resilience import Limits, ResilienceSettings, ResilientProvider
from loomgit.providers.spec import Spec

if TYPE_CHECKING:
    import httpx

MODES = ("live", "record", "replay")
CostOf = Callable[[Completion], "float | None"]


def pricer(spec: Spec, config: Config | None, provider: Provider) -> CostOf:
    """The cost of an answer of ``spec``'s model: a replayed answer costs what the recorded
    call cost; a provider that runs on this machine (``local``) is free."""
    table = PriceTable(config.pricing if config is not None else None)
    priced = spec.replay_of or spec
    local = priced.local or (spec.replay_of is None and provider.local)

    def cost(c: Completion) -> float | None:
        return table.cost(priced.label, c.usage, aliases=priced.price_aliases, local=local)

    return cost


def get_provider(
    name: str,
    config: Config | None = None,
    *,
    http: httpx.AsyncClient | None = None,
    env: Mapping[str, str] | None = None,
    settings: ResilienceSettings | None = None,
    limits: Limits | None = None,
) -> Provider:
    """A ready provider for ``name``: retries, limits, circuit breaker and costs included.

    ``settings`` are the defaults under each ``providers:`` entry's own settings. Close it
    with ``await provider.aclose()`` (or ``async with``) unless ``http`` is yours.
    """
    spec = resolve(name, config, env=env, defaults=settings)
    inner = registry.build(spec, http=http, env=env, config=config)
    return ResilientProvider(inner, spec.settings, limits, pricer(spec, config, inner))


@dataclass
class ClientStats:
    calls: int = 0  # answers returned
    live: int = 0  # answers from a provider
    cache_hits: int = 0
    replayed: int = 0
    recorded: int = 0


def _message(m: Mapping[str, Any]) -> dict[str, Any]:
    """A message as sent: role, content (a string, or a list of parts) and the tool fields
    of a tool-calling turn or a tool result."""
    content = m.get("content")
    out: dict[str, Any] = {
        "role": str(m.get("role", "")),
        "content": content if isinstance(content, (str, list)) else str(content or ""),
    }
    for k in ("tool_calls", "tool_call_id", "name"):
        if m.get(k):
            out[k] = m[k]
    return out


class ModelClient:
    """Model access with retries, limits, a breaker, a response cache, recordings and costs.

    - ``settings``: resilience defaults under each ``providers:`` entry's own settings.
    - ``cache``: None reads ``cache:`` from the config; False turns it off; or a
      :class:`ResponseCache`.
    - ``mode``: ``live`` calls providers; ``record`` answers from recordings and records
      what is missing; ``replay`` answers only from recordings.
    - ``concurrency``: requests in flight per provider entry that sets no
      ``max_concurrency`` of its own (None: the default of 8). An entry that sets a lower
      one keeps it, and :attr:`notes` says so.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        env: Mapping[str, str] | None = None,
        settings: ResilienceSettings | None = None,
        cache: ResponseCache | bool | None = None,
        mode: str = "live",
        recordings: RecordingStore | None = None,
        concurrency: int | None = None,
    ) -> None:
        if mode not in MODES:
            raise ProviderConfigError(f"mode {mode!r}: use one of {', '.join(MODES)}")
        if config is None:
            config = load_config()
        self.config = config
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.settings = settings
        self.mode = mode
        if cache is None or cache is True:
            self.cache: ResponseCache | None = cache_from_config(config)
        else:
            self.cache = cache or None
        self._store = recordings
        self._http = http
        self._own_http = http is None
        self._providers: dict[str, ResilientProvider] = {}
        self._specs: dict[str, Spec] = {}
        self._limits: dict[str, Limits] = {}
        self.stats = ClientStats()
        self.concurrency = concurrency
        # limits lower than asked for (once per entry), fallbacks a provider used instead of
        # a native constraint (once per model)
        self.notes: list[str] = []

    # -- names -----------------------------------------------------------------------------
    @property
    def recordings(self) -> RecordingStore:
        if self._store is None:
            self._store = store_from_config(self.config)
        return self._store

    def spec(self, model: str) -> Spec:
        if model not in self._specs:
            self._specs[model] = resolve(model, self.config, env=self.env, defaults=self.settings)
        return self._specs[model]

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = new_client(pooled=True, connections=max(64, self.concurrency or 0))
            self._own_http = True
        return self._http

    def provider(self, model: str) -> ResilientProvider:
        """The provider for ``model`` (built once; a missing key is raised here)."""
        if model in self._providers:
            return self._providers[model]
        spec = self.spec(model)
        needs_http = registry.uses_http(spec.type)
        if self.mode == "replay" and spec.type not in ("echo", "replay"):
            spec = replace(spec, key_required=False)  # no key, no network: recordings only
        inner = registry.build(
            spec,
            http=self._client() if needs_http else None,
            env=self.env,
            store=self.recordings if spec.type == "replay" else None,
            config=self.config,
        )
        limits = self._limits.get(spec.entry)
        if limits is None:
            limits = self._limits[spec.entry] = Limits(spec.settings, self.concurrency)
            own = spec.settings.max_concurrency
            if own is not None and self.concurrency is not None and own < self.concurrency:
                self.notes.append(
                    f"provider {spec.entry!r} allows {own} requests at once (max_concurrency "
                    f"in loomgit.yaml): {own} in flight, not {self.concurrency}"
                )
        prov = ResilientProvider(inner, spec.settings, limits, pricer(spec, self.config, inner))
        self._providers[model] = prov
        return prov

    def pace(self) -> list[str]:
        """One line per provider entry that was rate limited: how often, and how its
        in-flight limit moved (``"mock: rate limited 312 times; in-flight limit 32 -> 11 ->
        32"``)."""
        return [
            f"{entry}: rate limited {lim.slots.rate_limited} times; {lim.slots.story()}"
            for entry, lim in self._limits.items()
            if lim.slots.rate_limited
        ]

    # -- calls -----------------------------------------------------------------------------
    async def complete(
        self,
        model: str,
        messages: list[dict[str, Any]],
        params: Mapping[str, Any] | None = None,
        *,
        sample: int = 0,
        use_cache: bool = True,
        label: str | None = None,
    ) -> Completion:
        """One answer of ``model`` to ``messages``.

        ``sample`` tells repeated samples of one request apart (each is cached and recorded
        on its own); ``use_cache=False`` skips reading the cache (the answer still refreshes
        it); ``label`` (e.g. the case name) is named in errors about missing recordings.
        """
        prov = self.provider(model)
        spec = self._specs[model]
        eff = prov.merge_params(params)
        msgs = [_message(m) for m in messages]
        if spec.type == "echo":
            self.stats.calls += 1
            return await prov.complete(msgs, eff)
        target = spec.replay_of.label if spec.replay_of else spec.label
        mode = "replay" if spec.type == "replay" else self.mode
        key = request_key(target, eff, msgs, sample)
        if mode in ("record", "replay"):
            found = self.recordings.load(target, key)
            if found is not None:
                self.stats.calls += 1
                self.stats.replayed += 1
                cost = prov.cost_of(found)
                return replace(found, cost_usd=cost if cost is not None else found.cost_usd)
            if mode == "replay":
                raise self.recordings.missing(target, key, label, sample)
        cache = self.cache
        hit = cache.get(key) if cache is not None and use_cache else None
        if hit is not None:
            self.stats.cache_hits += 1
            c = replace(hit, model=spec.label)
        else:
            c = await prov.complete(msgs, eff)
            self.stats.live += 1
            for n in getattr(prov.inner, "fallbacks", ()):
                if f"{spec.label}: {n}" not in self.notes:  # fallbacks, said once per model
                    self.notes.append(f"{spec.label}: {n}")
            if cache is not None:
                cache.put(key, c)
        if mode == "record":
            self.recordings.save(target, key, eff, msgs, sample, c)
            self.stats.recorded += 1
        self.stats.calls += 1
        return c

    async def stream(
        self,
        model: str,
        messages: list[dict[str, Any]],
        params: Mapping[str, Any] | None = None,
        *,
        use_cache: bool = True,
    ) -> AsyncIterator[str | Completion]:
        """:meth:`complete` as it is written: text deltas, then the :class:`Completion`.

        Only a live call streams; a cached or recorded answer comes as one chunk, and a
        streamed answer is cached like any other."""
        prov = self.provider(model)
        spec = self._specs[model]
        if spec.type != "echo" and (self.mode != "live" or spec.type == "replay"):
            c = await self.complete(model, messages, params, use_cache=use_cache)
            if c.text:
                yield c.text
            yield c
            return
        eff = prov.merge_params(params)
        msgs = [_message(m) for m in messages]
        key = request_key(spec.label, eff, msgs, 0)
        cache = self.cache if spec.type != "echo" else None
        hit = cache.get(key) if cache is not None and use_cache else None
        if hit is not None:
            self.stats.cache_hits += 1
            self.stats.calls += 1
            if hit.text:
                yield hit.text
            yield replace(hit, model=spec.label)
            return
        async for item in prov.stream(msgs, eff):
            if isinstance(item, Completion):
                self.stats.calls += 1
                if spec.type != "echo":
                    self.stats.live += 1
                if cache is not None:
                    cache.put(key, item)
            yield item

    async def embed(
        self, model: str, texts: list[str], *, use_cache: bool = True
    ) -> list[list[float]]:
        """Embedding vectors of ``texts`` (cached and recorded like completions)."""
        prov = self.provider(model)
        spec = self._specs[model]
        if spec.type == "echo":
            return await prov.embed(list(texts))
        target = spec.replay_of.label if spec.replay_of else spec.label
        mode = "replay" if spec.type == "replay" else self.mode
        key = embed_key(target, texts)
        if mode in ("record", "replay"):
            found = self.recordings.load_embeddings(target, key)
            if found is not None:
                return found
            if mode == "replay":
                raise self.recordings.missing(target, key)
        vectors = self.cache.get_embeddings(key) if self.cache is not None and use_cache else None
        if vectors is None:
            vectors = await prov.embed(list(texts))
            if self.cache is not None:
                self.cache.put_embeddings(key, vectors)
        if mode == "record":
            self.recordings.save_embeddings(target, key, list(texts), vectors)
        return vectors

    async def aclose(self) -> None:
        if self.cache is not None:
            self.cache.flush()  # the answers it keeps in memory, so other processes see them
        for p in self._providers.values():
            await p.aclose()
        self._providers.clear()
        if self._own_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> ModelClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
