"""Calling a provider without hammering it or hanging on it.

:class:`ResilientProvider` wraps one provider with:

- retries with exponential backoff and jitter on 429, 5xx, dropped connections, garbled
  answers and timeouts, waiting what ``Retry-After`` asks for;
- a concurrency limit and a requests-per-minute limit, shared by every model of one
  provider entry (:class:`Limits`);
- a circuit breaker: after ``breaker_failures`` failed attempts in a row the provider is
  not called for ``breaker_reset_s``, then one trial call decides;
- a total time budget per call (attempts and backoff waits; time queued for a slot does
  not count);
- the cost of each answer from the price table.

Errors that are the caller's to fix (400, 401, 403, 404, a missing key) are never retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

from loomgit.providers.base import Completion, Provider
from loomgit.providers.errors import (
    ProviderConfigError,
    ProviderError,
    ProviderTimeout,
    ProviderTransientError,
    ProviderUnavailable,
)

log = logging.getLogger("loomgit.providers")
log.addHandler(logging.NullHandler())  # retries are logged; the application decides where to
T = TypeVar("T")


@dataclass(frozen=True)
class ResilienceSettings:
    """Per-provider settings; each is also a key of a ``providers:`` entry."""

    max_concurrency: int = 8  # requests in flight at once
    rpm: float | None = None  # requests per minute (None: no limit)
    timeout_s: float = 60.0  # one attempt
    total_timeout_s: float = 300.0  # one call: all attempts and backoff waits
    retries: int = 3  # attempts after the first
    backoff_s: float = 1.0  # first backoff; doubles each retry
    backoff_max_s: float = 30.0  # cap of one backoff wait
    breaker_failures: int = 5  # failed attempts in a row that open the circuit
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
            if k == "rpm" and v is None:
                changes[k] = None
                continue
            ok_int = k in ("max_concurrency", "retries", "breaker_failures")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or (ok_int and v != int(v)):
                kind = "a whole number" if ok_int else "a number"
                raise ProviderConfigError(f"{where}{k}: expected {kind}, got {v!r}")
            if v < 0 or (v == 0 and k not in ("retries", "backoff_s")):
                raise ProviderConfigError(f"{where}{k}: must be positive, got {v!r}")
            changes[k] = int(v) if ok_int else float(v)
        return replace(self, **changes)


class RateLimiter:
    """Spaces request starts ``60/rpm`` seconds apart (no bursts)."""

    def __init__(self, rpm: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 60.0 / rpm if rpm else 0.0
        self._next = 0.0
        self._clock = clock

    async def acquire(self) -> None:
        if not self.interval:
            return
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class CircuitBreaker:
    """closed → (N failures in a row) → open → (reset_s) → half-open: one trial call."""

    def __init__(
        self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = max(1, failures)
        self.reset_s = reset_s
        self.failures = 0
        self.opened_at: float | None = None
        self.trial = False
        self.last_error = ""
        self._clock = clock

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self.opened_at >= self.reset_s else "open"

    def check(self, label: str) -> None:
        """Raise :class:`ProviderUnavailable` while open; let one trial through after."""
        state = self.state
        if state == "closed":
            return
        if state == "half-open" and not self.trial:
            self.trial = True
            return
        wait = max(0.0, self.reset_s - (self._clock() - (self.opened_at or 0.0)))
        when = f"trying again in {wait:.0f} s" if state == "open" else "a trial call is under way"
        raise ProviderUnavailable(
            f"{label}: not called — it failed {self.failures} times in a row "
            f"(last: {self.last_error}); {when}"
        )

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.trial = False

    def failure(self, error: BaseException) -> None:
        self.failures += 1
        self.last_error = str(error).split(": ", 1)[-1]
        if self.trial or self.failures >= self.threshold:
            if self.opened_at is None or self.trial:
                log.warning(
                    "%s",
                    f"circuit opened after {self.failures} failures in a row: {self.last_error}",
                )
            self.opened_at = self._clock()
            self.trial = False


class Limits:
    """What every model of one provider entry shares: slots, pace, health."""

    def __init__(self, settings: ResilienceSettings) -> None:
        self.settings = settings
        self.semaphore = asyncio.Semaphore(settings.max_concurrency)
        self.limiter = RateLimiter(settings.rpm)
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_s)


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


async def call_with_retries(
    label: str,
    fn: Callable[[], Awaitable[T]],
    settings: ResilienceSettings,
    limits: Limits,
    *,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> tuple[T, int]:
    """Run ``fn`` under the limits and retry policy; (result, attempts)."""
    budget = settings.total_timeout_s
    spent = 0.0
    attempt = 0
    last: ProviderTransientError | None = None
    while True:
        attempt += 1
        limits.breaker.check(label)
        async with limits.semaphore:
            await limits.limiter.acquire()
            remaining = budget - spent
            t0 = time.monotonic()
            try:
                result = await asyncio.wait_for(fn(), timeout=remaining)
            except asyncio.TimeoutError:
                spent += time.monotonic() - t0
                err: ProviderError = ProviderTimeout(
                    f"{label}: no answer within the call's budget of {budget:g} s "
                    f"(total_timeout_s) after {attempt} attempt(s)"
                    + (f"; last error: {str(last).split(': ', 1)[-1]}" if last else "")
                )
                limits.breaker.failure(err)
                raise err from None
            except ProviderTransientError as e:
                spent += time.monotonic() - t0
                if not e.retryable:
                    raise
                if e.status != 429:  # rate limiting is pace, not ill health
                    limits.breaker.failure(e)
                last = e
            else:
                limits.breaker.success()
                return result, attempt
        assert last is not None
        if attempt > settings.retries:
            raise _gave_up(last, f"gave up after {attempt} attempts")
        retry_after = last.retry_after
        delay = backoff_delay(attempt, settings, retry_after)
        if spent + delay >= budget:
            why = (
                f"the provider asked to wait {retry_after:g} s"
                if retry_after is not None
                else f"the next wait of {delay:.1f} s"
            )
            raise _gave_up(
                last,
                f"gave up after {attempt} attempts: {why} would pass the "
                f"call's budget of {budget:g} s",
            )
        log.warning("%s", f"{last}; retry {attempt}/{settings.retries} in {delay:.2f} s")
        await sleep(delay)
        spent += delay


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

    async def complete(self, messages: list[dict[str, str]], params: dict[str, Any]) -> Completion:
        c, attempts = await call_with_retries(
            self.label, lambda: self.inner.complete(messages, params), self.settings, self.limits
        )
        return replace(c, cost_usd=self.cost_of(c), attempts=attempts)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        vectors, _ = await call_with_retries(
            self.label, lambda: self.inner.embed(texts), self.settings, self.limits
        )
        return vectors

    async def aclose(self) -> None:
        await self.inner.aclose()


__all__ = [
    "CircuitBreaker",
    "Limits",
    "RateLimiter",
    "ResilienceSettings",
    "ResilientProvider",
    "backoff_delay",
    "call_with_retries",
    "ProviderTransientError",
]
