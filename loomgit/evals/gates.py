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

from array import array
from collections.abc import Iterable, Mapping, Sequence
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


class Units:
    """Units as columns (what a suite of many cases keeps for its gate): passed as 1, 0
    or -1 (error), the score as the rule reads it (``score or 0.0``) and the weight."""

    def __init__(self, units: Iterable[Unit] = ()) -> None:
        self.passed: array[int] = array("b")
        self.scores: array[float] = array("d")
        self.weights: array[float] = array("d")
        for u in units:
            self.add(u.passed, u.score, u.weight)

    def add(self, passed: bool | None, score: float | None, weight: float = 1.0) -> None:
        self.passed.append(-1 if passed is None else int(bool(passed)))
        self.scores.append(score or 0.0)
        self.weights.append(weight)

    def __len__(self) -> int:
        return len(self.passed)


def _holds(gate: Gate, u: Units, errored: float | None = None) -> bool:
    """The rule over the units, an errored one counting as passed with score 1
    (``errored=1.0``) or failed with score 0 (``errored=0.0``)."""
    n = len(u)
    p = sum(1 for x in u.passed if x == 1 or (x == -1 and errored))
    if gate.rule == "all_pass":
        return p == n
    if gate.rule == "majority_pass":
        return 2 * p > n
    if gate.rule == "any_pass":
        return p >= 1
    total = sum(u.weights)
    if total <= 0:
        return n == 0
    weighted = sum(
        w * (s if x != -1 or errored is None else errored)
        for x, s, w in zip(u.passed, u.scores, u.weights)
    )
    return weighted / total >= gate.threshold


def holds(gate: Gate, units: Sequence[Unit]) -> bool:
    """The rule over fully scored units (no errors among them)."""
    return _holds(gate, Units(units))


def value(gate: Gate, units: Sequence[Unit] | Units) -> float | None:
    """The number the rule compares: pass fraction, or the weighted mean score."""
    u = units if isinstance(units, Units) else Units(units)
    n = sum(1 for x in u.passed if x != -1)
    if not n:
        return None
    if gate.rule == "weighted":
        total = sum(w for x, w in zip(u.passed, u.weights) if x != -1)
        if total <= 0:
            return None
        return sum(w * s for x, s, w in zip(u.passed, u.scores, u.weights) if x != -1) / total
    return sum(1 for x in u.passed if x == 1) / n


def decide(gate: Gate, units: Sequence[Unit] | Units) -> str:
    """``passed`` | ``failed`` | ``error`` (undecided because of errored units)."""
    u = units if isinstance(units, Units) else Units(units)
    if -1 not in u.passed:
        return "passed" if _holds(gate, u) else "failed"
    if _holds(gate, u, 0.0):
        return "passed"
    if not _holds(gate, u, 1.0):
        return "failed"
    return "error"
