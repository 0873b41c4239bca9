"""What a suite's verdict and its summaries need of its cases, gathered in one pass.

A suite of 50,000 cases keeps, per case, only the numbers its gate, its ``distribution:``
checks and the report's totals read (a few bytes each, in plan order so that every sum
is added up in the same order as over the cases themselves); the cases stay in their
spool (:mod:`loomgit.evals.spool`).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from loomgit.evals.distribution import Columns, fields_of, parse_check
from loomgit.evals.gates import Gate, Units

if TYPE_CHECKING:
    from loomgit.evals.cases import CaseResult

__all__ = ["Tally"]


class Tally:
    """Counts and columns of a suite's cases (see the module docstring)."""

    def __init__(self, gate: Gate, distribution: Sequence[str]) -> None:
        self.gate = gate
        self.checks = [parse_check(t) for t in distribution]
        self.counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        self.units = Units()  # the gate's: one per case that is not skipped
        self.columns = Columns(fields_of(self.checks))  # distribution: one row per answer
        self.errored_samples = 0  # samples without a verdict, and cases that could not run
        self.any_error = False
        self.costs: array[float] = array("d")  # each case's cost, where it has one
        self.scores: array[float] = array("d")  # each case's score, where it has one
        self.latency: array[float] = array("d")  # each case's latency (0 when none)
        self.samples = 0
        self.tokens = 0
        self.cases = 0

    def add(self, r: CaseResult) -> None:
        self.cases += 1
        self.counts[r.status] = self.counts.get(r.status, 0) + 1
        samples = r.samples
        if r.status != "skipped":
            self.units.add(r.passed, r.score, self.gate.weights.get(r.case, r.weight))
            for s in samples:
                if s.passed is not None:
                    for row in s.rows():
                        self.columns.add(row)
        self.errored_samples += sum(1 for s in samples if s.passed is None)
        if r.status == "error":
            self.any_error = True
            if not samples:
                self.errored_samples += 1
        cost = r.cost_usd
        if cost is not None:
            self.costs.append(cost)
        score = r.score
        if score is not None:
            self.scores.append(score)
        self.latency.append(r.latency_ms or 0.0)
        self.samples += len(samples)
        self.tokens += r.input_tokens + r.output_tokens

    @classmethod
    def of(cls, gate: Gate, distribution: Sequence[str], cases: Iterable[CaseResult]) -> Tally:
        t = cls(gate, distribution)
        for r in cases:
            t.add(r)
        return t
