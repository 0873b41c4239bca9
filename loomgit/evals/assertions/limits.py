"""Assertions on what an answer cost: latency and price."""

from __future__ import annotations

from typing import Any

from loomgit.evals.assertions.model import (
    AssertionType,
    Observation,
    Outcome,
    Services,
    is_num,
    outcome,
)


def _limit_arg(v: Any) -> str | None:
    return None if is_num(v) and v >= 0 else "expects a number (0 or more)"


def _max_latency_ms(arg: Any, obs: Observation, services: Services) -> Outcome:
    return outcome(
        obs.latency_ms <= arg,
        f"{obs.latency_ms:.0f} ms ≤ {arg:g}",
        f"{obs.latency_ms:.0f} ms > {arg:g}",
    )


def _max_cost_usd(arg: Any, obs: Observation, services: Services) -> Outcome:
    if obs.cost_usd is None:
        return True, 1.0, "cost unknown (no price for this model); not checked"
    return outcome(
        obs.cost_usd <= arg,
        f"${obs.cost_usd:.6f} ≤ ${arg:g}",
        f"${obs.cost_usd:.6f} > ${arg:g}",
    )


TYPES: dict[str, AssertionType] = {
    "max_latency_ms": AssertionType(_max_latency_ms, _limit_arg),
    "max_cost_usd": AssertionType(_max_cost_usd, _limit_arg),
}
