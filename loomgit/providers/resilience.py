"""Calling a provider without hammering it or hanging on it.

:class:`ResilientProvider` wraps one provider with:

- retries with exponential backoff and jitter on 5xx, dropped connections, garbled
  answers and timeouts (``retries`` of them), and on 429 for as long as the waits fit in
  ``rate_limit_budget_s``, waiting what ``Retry-After`` asks for;
- an in-flight limit that shrinks on 429 and grows back on success, and a
  requests-per-minute limit, shared by every model of one provider entry (:class:`Limits`);
- a circuit breaker: after ``breaker_failures`` failures in a row from as many calls
  (429s do not count) the provider is not called for ``breaker_reset_s``, then one trial
  call decides (see :mod:`loomgit.providers.pacing`);
- a total time budget per call (attempts and backoff waits; time queued for a slot does
  not count);
- the cost of each answer from the price table.

Errors that are the caller's to fix (400, 401, 403, 404, a missing key) are never retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

from loomgit.providers.base import Completion, Provider
from loomgit.providers.errors import (
    ProviderConfigError,
    ProviderError,
    ProviderTimeout,
    ProviderTransientError,
)
from loomgit.providers.pacing import AdaptiveLimit, CircuitBreaker, RateLimiter

log = logging.getLogger("loomgit.providers")
log.addHandler(logging.NullHandler())  # retries are logged; the application decides where to
T = TypeVar("T")


@dataclass(frozen=True)
class ResilienceSettings:
    """Per-provider settings; each is also a key of a ``providers:`` entry."""

    max_concurrency: int | None = None  # requests in flight at once (None: the run's)
    rpm: float | None = None  # requests per minute (None: no limit)
    timeout_s: float = 60.0  # one attempt
    total_timeout_s: float = 300.0  # one call: all attempts and backoff waits
    retries: int = 3  # attempts after the first, for failures other than 429
    rate_limit_budget_s: float = 60.0  # one call: time spent waiting out 429s
    backoff_s: float = 1.0  # first backoff; doubles each retry
    backoff_max_s: float = 30.0  # cap of one backoff wait
    breaker_failures: int = 5  # failures in a row, from as many calls, that open the circuit
    breaker_reset_s: float = 30.0  # how long it stays open

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def updated(self, values: Mapping[str, Any], where: str = "") -> ResilienceSettings:
        """A copy with ``values`` (from loomgit.yaml) checked and applied."""
        changes: dict[str, Any] = {}
        for k, v in values.items():
            if k not in self.keys():
                continue
            if k in ("rpm", "max_concurrency") and v is None:
                changes[k] = None
                continue
            ok_int = k in ("max_concurrency", "retries", "breaker_failures")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or (ok_int and v != int(v)):
                kind = "a whole number" if ok_int else "a number"
                raise ProviderConfigError(f"{where}{k}: expected {kind}, got {v!r}")
            zero_ok = ("retries", "backoff_s", "rate_limit_budget_s")
            if v < 0 or (v == 0 and k not in zero_ok):
                raise ProviderConfigError(f"{where}{k}: must be positive, got {v!r}")
            changes[k] = int(v) if ok_int else float(v)
        return replace(self, **changes)


DEFAULT_MAX_CONCURRENCY = 8  # in flight per provider entry when nothing else says


class Limits:
    """What every model of one provider entry shares: slots, pace, health.

    The in-flight ceiling is the entry's configured ``max_concurrency``, else the run's
    ``concurrency`` (``loomgit eval --concurrency``), else :data:`DEFAULT_MAX_CONCURRENCY`.
    """

    def __init__(self, settings: ResilienceSettings, concurrency: int | None = None) -> None:
        self.settings = settings
        ceiling = settings.max_concurrency or concurrency or DEFAULT_MAX_CONCURRENCY
        self.slots = AdaptiveLimit(ceiling)
        self.limiter = RateLimiter(settings.rpm)
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_s)
        self.calls = 0  # calls started (each gets an id for the breaker)


def backoff_delay(
    attempt: int,
    settings: ResilienceSettings,
    retry_after: float | None,
    rng: random.Random | None = None,
) -> float:
    """Wait before retry ``attempt`` (1-based): ``Retry-After`` when the server gave one,
    else exponential with equal jitter (half fixed, half random)."""
    if retry_after is not None:
        return retry_after
    cap = min(settings.backoff_max_s, settings.backoff_s * (2 ** (attempt - 1)))
    r = float((rng or random).random())
    return float(cap / 2 + r * cap / 2)


def _gave_up(last: ProviderTransientError, why: str) -> ProviderTransientError:
    return type(last)(f"{last} ({why})", status=last.status, retry_after=last.retry_after)


async def _within(fn: Callable[[], Awaitable[T]], seconds: float) -> T:
    """``await fn()``, raising TimeoutError after ``seconds`` (no extra task on 3.11+)."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await fn()
    return await asyncio.wait_for(fn(), timeout=seconds)  # pragma: no cover


def _last(e: BaseException | None) -> str:
    return str(e).split(": ", 1)[-1] if e is not None else ""


async def call_with_retries(
    label: str,
    fn: Callable[[], Awaitable[T]],
    settings: ResilienceSettings,
    limits: Limits,
    *,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> tuple[T, int]:
    """Run ``fn`` under the limits and retry policy; (result, attempts).

    A 429 is retried as long as the waits it asks for fit in ``rate_limit_budget_s`` (and
    the call's ``total_timeout_s``) and shrinks the provider's in-flight limit; other
    transient failures are retried ``retries`` times and count for the circuit breaker."""
    budget = settings.total_timeout_s
    spent = 0.0  # attempts and waits (time queued for a slot does not count)
    throttled_wait = 0.0  # waits after 429s
    attempt = failed = throttled = 0
    last: ProviderTransientError | None = None
    limits.calls += 1
    call = limits.calls
    slots = limits.slots
    while True:
        attempt += 1
        limits.breaker.check(label, attempt - 1, _last(last))
        epoch = await slots.acquire()
        try:
            await limits.limiter.acquire()
            t0 = time.monotonic()
            try:
                result = await _within(fn, budget - spent)
            except (TimeoutError, asyncio.TimeoutError):
                err: ProviderError = ProviderTimeout(
                    f"{label}: no answer within the call's budget of {budget:g} s "
                    f"(total_timeout_s) after {attempt} attempt(s)"
                    + (f"; last error: {_last(last)}" if last else "")
                )
                limits.breaker.failure(err, call)
                raise err from None
            except ProviderTransientError as e:
                spent += time.monotonic() - t0
                if not e.retryable:
                    raise
                last = e
                if e.status == 429:  # rate limiting is pace, not ill health
                    throttled += 1
                    slots.throttled(epoch)
                else:
                    failed += 1
                    limits.breaker.failure(e, call)
            else:
                limits.breaker.success()
                slots.succeeded()
                return result, attempt
        finally:
            slots.release()
        retry_after = last.retry_after
        if last.status == 429:
            delay = backoff_delay(throttled, settings, retry_after)
        elif failed > settings.retries:
            raise _gave_up(last, f"gave up after {attempt} attempts")
        else:
            delay = backoff_delay(failed, settings, retry_after)
        why = (
            f"the provider asked to wait {retry_after:g} s"
            if retry_after is not None
            else f"the next wait of {delay:.1f} s"
        )
        if spent + delay >= budget:
            raise _gave_up(
                last,
                f"gave up after {attempt} attempts: {why} would pass the "
                f"call's budget of {budget:g} s",
            )
        if last.status == 429 and throttled_wait + delay > settings.rate_limit_budget_s:
            times = "once" if throttled == 1 else f"{throttled} times"
            raise _gave_up(
                last,
                f"rate limited {times}; {why} would pass the rate-limit budget of "
                f"{settings.rate_limit_budget_s:g} s (rate_limit_budget_s)",
            )
        if last.status == 429:
            throttled_wait += delay
            log.debug("%s", f"{last}; retry in {delay:.2f} s")
        else:
            log.warning("%s", f"{last}; retry {failed}/{settings.retries} in {delay:.2f} s")
        await sleep(delay)
        spent += delay


async def _close(it: AsyncIterator[Any]) -> None:
    close = getattr(it, "aclose", None)
    if close is not None:
        await close()


class ResilientProvider(Provider):
    """A provider with retries, limits, a breaker and costs; same interface."""

    def __init__(
        self,
        inner: Provider,
        settings: ResilienceSettings | None = None,
        limits: Limits | None = None,
        cost: Callable[[Completion], float | None] | None = None,
    ) -> None:
        super().__init__(inner.model, label=inner.label, defaults=inner.defaults)
        self.name = inner.name
        self.local = inner.local
        self.inner = inner
        self.settings = settings or ResilienceSettings()
        self.limits = limits or Limits(self.settings)
        self._cost = cost

    def merge_params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return self.inner.merge_params(params)

    def cost_of(self, c: Completion) -> float | None:
        """The price table's cost for ``c``'s usage (its own cost when there is no table)."""
        return self._cost(c) if self._cost else c.cost_usd

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        c, attempts = await call_with_retries(
            self.label, lambda: self.inner.complete(messages, params), self.settings, self.limits
        )
        return replace(c, cost_usd=self.cost_of(c), attempts=attempts)

    @property
    def streams(self) -> bool:  # type: ignore[override]
        return self.inner.streams

    async def stream(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> AsyncIterator[str | Completion]:
        """The inner provider's stream under the same limits and retry policy, up to its
        first chunk: once text has been passed on, a failure is not retried."""
        started: list[AsyncIterator[str | Completion]] = []

        async def first() -> str | Completion:
            it = aiter(self.inner.stream(messages, params))
            try:
                item = await anext(it)
            except BaseException:
                await _close(it)
                raise
            started.append(it)
            return item

        item, attempts = await call_with_retries(self.label, first, self.settings, self.limits)
        it = started[-1]
        try:
            while True:
                if isinstance(item, Completion):
                    yield replace(item, cost_usd=self.cost_of(item), attempts=attempts)
                    return
                yield item
                item = await anext(it)
        finally:
            await _close(it)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        vectors, _ = await call_with_retries(
            self.label, lambda: self.inner.embed(texts), self.settings, self.limits
        )
        return vectors

    async def aclose(self) -> None:
        await self.inner.aclose()


__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "AdaptiveLimit",
    "CircuitBreaker",
    "Limits",
    "RateLimiter",
    "ResilienceSettings",
    "ResilientProvider",
    "backoff_delay",
    "call_with_retries",
    "ProviderTransientError",
]
