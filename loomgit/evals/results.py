"""Results of an evaluation: samples, cases, suites, the whole run, and their JSON shape.

The JSON written by ``loomgit eval --json`` (and read back by ``loomgit report merge``)
is :meth:`EvalReport.to_dict`; see docs/evals.md for the documented shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from loomgit.errors import EXIT_FAILED, EXIT_INFRA, UsageError
from loomgit.evals.cases import CaseResult, Sample, round_or_none
from loomgit.evals.distribution import CheckResult, check_columns
from loomgit.evals.gates import Gate, decide, parse_gate
from loomgit.evals.gates import value as gate_value
from loomgit.evals.spool import SpooledCases
from loomgit.evals.tally import Tally

SCHEMA_VERSION = 1

__all__ = [
    "SCHEMA_VERSION",
    "CaseResult",
    "EvalReport",
    "Sample",
    "SuiteResult",
    "merge",
]


@dataclass
class SuiteResult:
    """A prompt's suite: its cases' results, the gate and the distribution checks."""

    prompt: str
    path: str
    gate: Gate = field(default_factory=Gate)
    distribution: tuple[str, ...] = ()
    cases: list[CaseResult] | SpooledCases = field(default_factory=list)
    version: str | None = None
    commit: str | None = None
    content_hash: str | None = None
    status: str = "error"
    gate_status: str = "error"
    gate_value: float | None = None
    checks: list[CheckResult] = field(default_factory=list)
    check_status: list[bool | None] = field(default_factory=list)
    _tally: Tally | None = field(default=None, repr=False, compare=False)

    def tally(self) -> Tally:
        """The numbers of the cases the verdict and the summaries need: gathered once for
        spooled cases (they no longer change), every time for cases held in a list."""
        if self._tally is not None:
            return self._tally
        t = Tally.of(self.gate, self.distribution, self.cases)
        if isinstance(self.cases, SpooledCases):
            self._tally = t
        return t

    def counts(self) -> dict[str, int]:
        return dict(self.tally().counts)

    def finalize(self) -> None:
        if not isinstance(self.cases, SpooledCases):  # spooled cases were when they finished
            for r in self.cases:
                r.finalize(self.gate)
        self._tally = None
        t = self.tally()
        self.gate_status = decide(self.gate, t.units)
        self.gate_value = gate_value(self.gate, t.units)
        n_err = t.errored_samples
        self.checks = check_columns(t.checks, t.columns, n_err)
        # a statistic that has no data because of errors is undecided, not failed
        self.check_status = [None if (c.value is None and n_err) else c.passed for c in self.checks]
        if self.gate_status == "failed" or any(s is False for s in self.check_status):
            self.status = "failed"
        elif (
            self.gate_status == "error" or t.any_error or any(s is None for s in self.check_status)
        ):
            self.status = "error"
        else:
            self.status = "passed"

    def to_dict(self) -> dict[str, Any]:
        c = self.counts()
        return {
            "prompt": self.prompt,
            "version": self.version,
            "commit": self.commit,
            "path": self.path,
            "gate": self.gate.to_spec(),
            "status": self.status,
            "gate_status": self.gate_status,
            "gate_value": round_or_none(self.gate_value),
            "distribution": list(self.distribution),
            "checks": [
                {**ch.to_dict(), "passed": st} for ch, st in zip(self.checks, self.check_status)
            ],
            "cases": c["passed"] + c["failed"] + c["error"],
            "passed": c["passed"],
            "failed": c["failed"],
            "errors": c["error"],
            "skipped": c["skipped"],
        }


@dataclass
class EvalReport:
    """A whole ``loomgit eval`` run."""

    suites: list[SuiteResult] = field(default_factory=list)
    duration_s: float = 0.0
    started_at: str = ""
    shard: tuple[int, int] | None = None
    run_id: str = ""
    commit: str | None = None
    notes: list[str] = field(default_factory=list)  # provider limits lower than asked for
    pace: list[str] = field(default_factory=list)  # how rate limits slowed each provider

    @property
    def results(self) -> Iterator[CaseResult]:
        """Every case result, suite by suite (read back one at a time when spooled)."""
        return (r for s in self.suites for r in s.cases)

    @property
    def status(self) -> str:
        st = [s.status for s in self.suites]
        if "failed" in st:
            return "failed"
        if "error" in st:
            return "error"
        return "passed"

    @property
    def exit_code(self) -> int:
        """0 every gate passed; 1 a gate or distribution check failed; 3 errors kept
        cases from running (and nothing failed outright)."""
        return {"passed": 0, "failed": EXIT_FAILED}.get(self.status, EXIT_INFRA)

    def summary(self) -> dict[str, Any]:
        tallies = [s.tally() for s in self.suites]
        passed = sum(t.counts["passed"] for t in tallies)
        failed = sum(t.counts["failed"] for t in tallies)
        errors = sum(t.counts["error"] for t in tallies)
        costs = sum(len(t.costs) for t in tallies)
        return {
            "cases": passed + failed + errors,
            "passed": passed,
            "failed": failed,
            "errors": errors,
            "skipped": sum(t.counts["skipped"] for t in tallies),
            "pass_rate": round_or_none(passed / (passed + failed)) if passed + failed else None,
            "gate": self.status,
            "cost_usd": round(sum(chain.from_iterable(t.costs for t in tallies)), 9)
            if costs
            else 0.0,
            "duration_s": round(self.duration_s, 3),
            "samples": sum(t.samples for t in tallies),
            "tokens": sum(t.tokens for t in tallies),
        }

    def to_dict(self, results: bool = True) -> dict[str, Any]:
        """The JSON report; ``results=False`` leaves ``results`` empty (for
        :func:`loomgit.report.eval_json.report_json`, which writes them one by one)."""
        d: dict[str, Any] = {
            "schema": SCHEMA_VERSION,
            "summary": self.summary(),
            "suites": [s.to_dict() for s in self.suites],
            "results": [r.to_dict() for r in self.results] if results else [],
        }
        if self.shard:
            d["shard"] = f"{self.shard[0]}/{self.shard[1]}"
        if self.run_id:
            d["run_id"] = self.run_id
        if self.started_at:
            d["started_at"] = self.started_at
        if self.commit:
            d["commit"] = self.commit
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "report") -> EvalReport:
        """Read a report written by :meth:`to_dict` (gates are recomputed by :meth:`finalize`)."""
        if not isinstance(d, Mapping) or "results" not in d or "suites" not in d:
            raise UsageError(
                f"{source}: not a loomgit eval report (no 'suites'/'results'; "
                "write one with 'loomgit eval --json')"
            )
        try:
            suites: dict[tuple[str, str], SuiteResult] = {}
            for s in d["suites"]:
                suites[(s["prompt"], s["path"])] = SuiteResult(
                    s["prompt"],
                    s["path"],
                    parse_gate(s.get("gate")),
                    tuple(s.get("distribution") or ()),
                    version=s.get("version"),
                    commit=s.get("commit"),
                )
            for r in d["results"]:
                cr = CaseResult.from_dict(r)
                key = (cr.prompt, cr.suite)
                if key not in suites:
                    suites[key] = SuiteResult(cr.prompt, cr.suite, version=cr.version)
                suites[key].cases.append(cr)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise UsageError(f"{source}: malformed eval report ({type(e).__name__}: {e})") from None
        rep = cls(
            list(suites.values()),
            float((d.get("summary") or {}).get("duration_s") or 0.0),
            str(d.get("started_at") or ""),
            None,
            str(d.get("run_id") or ""),
            d.get("commit"),
        )
        return rep

    def finalize(self) -> EvalReport:
        for s in self.suites:
            s.finalize()
        return self


def merge(reports: Iterable[tuple[str, EvalReport]]) -> EvalReport:
    """Join shard reports: cases are unioned per suite and every gate is recomputed.

    The same case in two reports is an error (the same shard given twice?).
    """
    by_suite: dict[tuple[str, str], SuiteResult] = {}
    seen: dict[tuple[str, str, str], str] = {}
    duration = 0.0
    for source, rep in reports:
        duration = max(duration, rep.duration_s)
        for s in rep.suites:
            key = (s.prompt, s.path)
            target = by_suite.get(key)
            if target is None:
                target = by_suite[key] = SuiteResult(
                    s.prompt, s.path, s.gate, s.distribution, version=s.version, commit=s.commit
                )
            elif target.gate != s.gate or target.distribution != s.distribution:
                raise UsageError(
                    f"{source}: suite {s.path} has a different gate or distribution "
                    "than in an earlier report; were the shards run on the same commit?"
                )
            for r in s.cases:
                k = r.key
                if k in seen:
                    raise UsageError(
                        f"{source}: case {r.case!r} of {r.prompt} ({r.provider}) is "
                        f"also in {seen[k]}; is the same shard given twice?"
                    )
                seen[k] = source
                target.cases.append(r)
    return EvalReport(
        sorted(by_suite.values(), key=lambda s: (s.prompt, s.path)), duration
    ).finalize()
