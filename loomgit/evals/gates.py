"""Quality gates: whether a suite passed, from its cases' results.

The same rule decides at two levels. A *case* (one case of the suite on one provider)
passes when the rule holds over its samples (``repeat:`` answers); the *suite* passes
when the rule holds over its cases. With ``P`` passed and ``N`` scored units:

- ``all_pass``:       P = N
- ``majority_pass``:  P > N / 2   (strictly more than half)
- ``any_pass``:       P ≥ 1
- ``weighted``:       Σ wᵢ·sᵢ / Σ wᵢ ≥ threshold (default 0.8), where sᵢ is a unit's score.
  For a case the units are its samples (weight 1 each); for the suite they are its cases,
  weighted by ``gate: {weighted: {CASE: WEIGHT, ...}}`` or each case's ``weight:`` (default 1).

Errored units (the provider failed) are neither passed nor failed. The gate is
*passed* when it holds even if every errored unit had failed, *failed* when it fails even if
every errored unit had passed, and *error* (undecided) otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RULES = ("all_pass", "majority_pass", "any_pass", "weighted")
DEFAULT_THRESHOLD = 0.8
WEIGHTED_KEYS = ("weighted", "threshold")  # keys of the {weighted: ..., threshold} form


class GateError(ValueError):
    pass


@dataclass(frozen=True)
class Gate:
    rule: str = "all_pass"
    threshold: float = DEFAULT_THRESHOLD
    weights: Mapping[str, float] = field(default_factory=dict)

    def to_spec(self) -> Any:
        if self.rule != "weighted":
            return self.rule
        return {"weighted": dict(self.weights) or True, "threshold": self.threshold}

    def describe(self) -> str:
        return f"weighted ≥ {self.threshold:g}" if self.rule == "weighted" else self.rule


def parse_gate(raw: Any, suite_threshold: Any = None) -> Gate:
    """``all_pass`` | ``majority_pass`` | ``any_pass`` | ``weighted`` |
    ``{weighted: {case: weight} | true, threshold: 0.8}``."""
    if raw is None:
        return Gate()
    if isinstance(raw, str):
        if raw not in RULES:
            raise GateError(f"unknown gate {raw!r} (known: {', '.join(RULES)})")
        return Gate(raw, _threshold(suite_threshold))
    if isinstance(raw, dict) and "weighted" in raw:
        unknown = set(raw) - set(WEIGHTED_KEYS)
        if unknown:
            raise GateError(
                f"unknown gate key(s) {', '.join(sorted(map(str, unknown)))} "
                "(known: weighted, threshold)"
            )
        w = raw["weighted"]
        weights: dict[str, float] = {}
        if isinstance(w, dict):
            for k, v in w.items():
                if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                    raise GateError(f"weight of case {k!r} must be a number (0 or more)")
                weights[str(k)] = float(v)
        elif w is not True and w is not None:
            raise GateError(
                "weighted: maps case names to weights, or is true "
                "(then each case's 'weight:' is used)"
            )
        return Gate("weighted", _threshold(raw.get("threshold", suite_threshold)), weights)
    raise GateError(
        "gate must be all_pass, majority_pass, any_pass, weighted or "
        "{weighted: {CASE: WEIGHT}, threshold: 0.8}"
    )


def _threshold(t: Any) -> float:
    if t is None:
        return DEFAULT_THRESHOLD
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not 0 <= t <= 1:
        raise GateError("threshold must be a number from 0 to 1")
    return float(t)


@dataclass(frozen=True)
class Unit:
    """One scored thing the rule looks at: a sample, or a case. ``passed=None``: error."""

    passed: bool | None
    score: float | None
    weight: float = 1.0


def holds(gate: Gate, units: Sequence[Unit]) -> bool:
    """The rule over fully scored units (no errors among them)."""
    n = len(units)
    p = sum(1 for u in units if u.passed)
    if gate.rule == "all_pass":
        return p == n
    if gate.rule == "majority_pass":
        return 2 * p > n
    if gate.rule == "any_pass":
        return p >= 1
    total = sum(u.weight for u in units)
    if total <= 0:
        return n == 0
    return sum(u.weight * (u.score or 0.0) for u in units) / total >= gate.threshold


def value(gate: Gate, units: Sequence[Unit]) -> float | None:
    """The number the rule compares: pass fraction, or the weighted mean score."""
    scored = [u for u in units if u.passed is not None]
    if not scored:
        return None
    if gate.rule == "weighted":
        total = sum(u.weight for u in scored)
        return sum(u.weight * (u.score or 0.0) for u in scored) / total if total > 0 else None
    return sum(1 for u in scored if u.passed) / len(scored)


def decide(gate: Gate, units: Sequence[Unit]) -> str:
    """``passed`` | ``failed`` | ``error`` (undecided because of errored units)."""
    if not any(u.passed is None for u in units):
        return "passed" if holds(gate, units) else "failed"
    pessimistic = [u if u.passed is not None else Unit(False, 0.0, u.weight) for u in units]
    optimistic = [u if u.passed is not None else Unit(True, 1.0, u.weight) for u in units]
    if holds(gate, pessimistic):
        return "passed"
    if not holds(gate, optimistic):
        return "failed"
    return "error"
