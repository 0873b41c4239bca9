"""Scoring one answer: each assertion's result, and a sample's verdict from them."""

from __future__ import annotations

import loomgit.evals.assertions.registry as registry
from loomgit.evals.assertions.model import (
    Assertion,
    AssertionError_,
    AssertionResult,
    Observation,
    Services,
)


async def evaluate(a: Assertion, obs: Observation, services: Services) -> AssertionResult:
    """Score one assertion. Raises :class:`AssertionError_` when it cannot be evaluated."""
    kind = registry.get(a.kind)
    if kind is None:  # spec_problem rejects unknown kinds before anything runs
        raise AssertionError_(registry.unknown(a.kind))
    passed, score, message = await registry.run(a.kind, kind, a.arg, obs, services)
    if a.negate:
        passed, score, message = not passed, 1.0 - score, f"negated: {message}"
    return AssertionResult(a.label, passed, score, a.weight, message, a.arg)


def combine(results: list[AssertionResult]) -> tuple[bool, float]:
    """A sample's (passed, score): every weighted assertion passed; weighted mean score.

    Assertions of weight 0 are informational. With no weighted assertions the sample
    passes with score 1 (it ran without error).
    """
    weighted = [r for r in results if r.weight > 0]
    total = sum(r.weight for r in weighted)
    if not weighted or total <= 0:
        return True, 1.0
    return all(r.passed for r in weighted), sum(r.weight * r.score for r in weighted) / total
