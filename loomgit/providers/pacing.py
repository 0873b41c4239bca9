"""How fast loomgit talks to one provider: the request pace, the in-flight limit that
adapts to rate limits, and the circuit breaker.

- :class:`RateLimiter` spaces request starts (``rpm``).
- :class:`AdaptiveLimit` lets at most ``limit`` requests be in flight. A 429 halves the
  limit (once per round of requests: the 429s of requests started before the last cut
  do not cut again), and every ``limit`` successes in a row add one back, up to the
  ceiling (additive increase, multiplicative decrease). It counts what it saw, for the
  eval summary.
- :class:`CircuitBreaker` stops sending after ``threshold`` failures in a row *from as many
  different calls* (a success in between starts the count again): one request that keeps
  timing out cannot open it on its own, a server that fails every request does. Rate
  limits are pace, not ill health, and never count.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from loomgit.providers.errors import ProviderUnavailable

log = logging.getLogger("loomgit.providers")


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


class AdaptiveLimit:
    """At most ``limit`` holders at once; ``limit`` moves between 1 and ``ceiling``."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.lowest = self.ceiling
        self.in_flight = 0
        self.rate_limited = 0  # 429 answers seen
        self.epoch = 0  # bumped at each cut; a request remembers the epoch it started in
        self._good = 0  # successes since the last change
        self._waiters: deque[asyncio.Future[None]] = deque()

    def resize(self, ceiling: int) -> None:
        """A new ceiling (before the run starts: the run's concurrency)."""
        self.ceiling = self.limit = self.lowest = max(1, ceiling)
        self._wake()

    async def acquire(self) -> int:
        """Wait for a slot; returns the epoch to pass to :meth:`throttled`."""
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return self.epoch
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # the slot was handed over: give it back
                self.release()
            else:
                self._waiters.remove(fut)
            raise
        return self.epoch

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            fut = self._waiters.popleft()
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)

    def throttled(self, epoch: int) -> None:
        """A 429 for a request started in ``epoch``: halve the limit once per round."""
        self.rate_limited += 1
        self._good = 0
        if epoch == self.epoch and self.limit > 1:
            self.limit = max(1, self.limit // 2)
            self.lowest = min(self.lowest, self.limit)
            self.epoch += 1

    def succeeded(self) -> None:
        if self.limit >= self.ceiling:
            return
        self._good += 1
        if self._good >= self.limit:
            self._good = 0
            self.limit += 1
            self._wake()

    def story(self) -> str:
        """``"in-flight limit 32 -> 11 -> 32"`` (just ``"32"`` when it never moved)."""
        if self.lowest == self.ceiling:
            return f"in-flight limit {self.ceiling}"
        return f"in-flight limit {self.ceiling} -> {self.lowest} -> {self.limit}"


def _kind(error: BaseException) -> str:
    name = type(error).__name__
    return {
        "ProviderTimeout": "timeouts",
        "ProviderConnectionError": "connection failures",
        "ProviderHTTPError": "server errors",
        "ProviderResponseError": "garbled answers",
    }.get(name, "failures")


class CircuitBreaker:
    """closed -> (``threshold`` failures in a row from as many calls) -> open -> (reset_s)
    -> half-open: one trial call decides."""

    def __init__(
        self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = max(1, failures)
        self.reset_s = reset_s
        self.calls: set[int] = set()  # the calls that failed since the last success
        self.failures = 0  # failed attempts since the last success
        self.opened_at: float | None = None
        self.trial = False
        self.last_error = ""
        self.kinds: set[str] = set()
        self._clock = clock

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self.opened_at >= self.reset_s else "open"

    def why_open(self) -> str:
        kind = next(iter(self.kinds)) if len(self.kinds) == 1 else "failures"
        return (
            f"circuit open after {len(self.calls)} {kind} in a row from this provider "
            f"(last: {self.last_error})"
        )

    def check(self, label: str, sent: int = 0, last: str = "") -> None:
        """Raise :class:`ProviderUnavailable` while open; let one trial through after.
        ``sent``: attempts this call already made (its message says so)."""
        state = self.state
        if state == "closed":
            return
        if state == "half-open" and not self.trial:
            self.trial = True
            return
        wait = max(0.0, self.reset_s - (self._clock() - (self.opened_at or 0.0)))
        when = f"trying again in {wait:.0f} s" if wait >= 10 else f"trying again in {wait:.1f} s"
        if state != "open":
            when = "a trial call is under way"
        if sent:
            raise ProviderUnavailable(
                f"{label}: sent {sent} time(s) (last: {last}); not retried: "
                f"{self.why_open()}; {when}"
            )
        raise ProviderUnavailable(f"{label}: not sent: {self.why_open()}; {when}")

    def success(self) -> None:
        self.calls.clear()
        self.kinds.clear()
        self.failures = 0
        self.opened_at = None
        self.trial = False

    def failure(self, error: BaseException, call: int = 0) -> None:
        """A failed attempt of call ``call`` (an id: each call counts once in a streak)."""
        self.failures += 1
        self.calls.add(call or -self.failures)
        self.kinds.add(_kind(error))
        self.last_error = str(error).split(": ", 1)[-1]
        if self.trial or len(self.calls) >= self.threshold:
            if self.opened_at is None or self.trial:
                log.warning("%s", self.why_open())
            self.opened_at = self._clock()
            self.trial = False
