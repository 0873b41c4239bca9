"""Two reports of the same cases, compared case by case (``loomgit eval --compare BASE``).

Per case:

- ``regression``: passed at BASE, fails now      - ``fix``: failed at BASE, passes now
- ``same``: both passed or both failed           - ``new``: no result at BASE
- ``error``: an error on either side kept it from being compared;  ``skipped``

Each compared case, and each suite as a whole, also carries a significance test of its
samples at BASE against its samples now (:mod:`loomgit.evals.significance`): on pass/fail
counts, or on scores when the suite's gate is ``weighted``. Those tell a real change from
sampling noise once cases run with ``--repeat N``.

The verdict follows ``fail_on``:

- ``regression`` (the default): ``regressed`` when there is a regression or a gate (or
  distribution check) fails now that did not fail at BASE;
- ``significant_regression``: ``regressed`` when a suite's test or a case's
  (Holm-adjusted) test finds a significant regression; flips alone do not fail;
- ``never``: never ``regressed``;

else ``error`` when errors kept cases from being compared; else ``improved`` when there
are fixes (significant improvements under ``significant_regression``); else ``unchanged``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loomgit.errors import EXIT_FAILED, EXIT_INFRA
from loomgit.evals.results import CaseResult, EvalReport, SuiteResult
from loomgit.evals.significance import (
    IMPROVEMENT,
    REGRESSION,
    Outcomes,
    Significance,
    adjust,
    judge_case,
    judge_suite,
)

FAIL_ON = ("regression", "significant_regression", "never")
NOISE_NOTE = (
    "each case ran once per side, so a case that flipped may be sampling noise; "
    "run with --repeat N (20 or more) to test each case for a significant change"
)


@dataclass(slots=True)
class CaseChange:
    prompt: str
    case: str
    provider: str
    change: str
    base_status: str | None
    head_status: str
    base_score: float | None
    head_score: float | None
    why: str = ""
    significance: Significance | None = None

    @property
    def delta(self) -> float | None:
        if self.base_score is None or self.head_score is None:
            return None
        return self.head_score - self.base_score

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "case": self.case,
            "provider": self.provider,
            "change": self.change,
            "before": {"status": self.base_status, "score": self.base_score},
            "after": {"status": self.head_status, "score": self.head_score},
            "delta": None if self.delta is None else round(self.delta, 6),
            "why": self.why,
            "significance": self.significance.to_dict() if self.significance else None,
        }


@dataclass
class PromptChange:
    prompt: str
    base_version: str | None
    head_version: str | None
    base_status: str | None  # None: the prompt is new
    head_status: str
    base_pass_rate: float | None
    head_pass_rate: float | None
    base_score: float | None
    head_score: float | None
    regressions: int = 0
    fixes: int = 0
    significance: Significance | None = None  # the suite's cases together

    @property
    def gate_regressed(self) -> bool:
        return self.head_status == "failed" and self.base_status != "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "before": {
                "version": self.base_version,
                "status": self.base_status,
                "pass_rate": self.base_pass_rate,
                "score": self.base_score,
            },
            "after": {
                "version": self.head_version,
                "status": self.head_status,
                "pass_rate": self.head_pass_rate,
                "score": self.head_score,
            },
            "regressions": self.regressions,
            "fixes": self.fixes,
            "gate_regressed": self.gate_regressed,
            "significance": self.significance.to_dict() if self.significance else None,
        }


@dataclass
class Comparison:
    base_ref: str
    base: EvalReport
    head: EvalReport
    prompts: list[PromptChange] = field(default_factory=list)
    cases: list[CaseChange] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    fail_on: str = "regression"

    @property
    def regressions(self) -> list[CaseChange]:
        return [c for c in self.cases if c.change == "regression"]

    @property
    def fixes(self) -> list[CaseChange]:
        return [c for c in self.cases if c.change == "fix"]

    def significant(self, verdict: str) -> list[str]:
        """One line per suite and per case whose test found ``verdict``."""
        out = [
            f"{p.prompt}: {p.significance.describe()}"
            for p in self.prompts
            if p.significance and p.significance.verdict == verdict
        ]
        out += [
            f"{c.prompt}: case {c.case!r} ({c.provider}): {c.significance.describe()}"
            for c in self.cases
            if c.significance and c.significance.verdict == verdict
        ]
        return out

    @property
    def repeated(self) -> bool:
        """Whether some compared case has two or more scored samples on each side."""
        return any(
            c.significance and min(c.significance.n_before, c.significance.n_after) > 1
            for c in self.cases
        )

    @property
    def notes(self) -> list[str]:
        return [NOISE_NOTE] if self.cases and not self.repeated else []

    @property
    def verdict(self) -> str:
        if self.fail_on == "significant_regression":
            if self.significant(REGRESSION):
                return "regressed"
        elif self.fail_on != "never" and (
            self.regressions or any(p.gate_regressed for p in self.prompts)
        ):
            return "regressed"
        if self.fail_on == "significant_regression":
            # an error counts only where it left a case with nothing to test
            if any(c.change == "error" and untested(c.significance) for c in self.cases):
                return "error"
            return "improved" if self.significant(IMPROVEMENT) else "unchanged"
        if any(c.change == "error" for c in self.cases):
            return "error"
        return "improved" if self.fixes else "unchanged"

    @property
    def exit_code(self) -> int:
        return {"regressed": EXIT_FAILED, "error": EXIT_INFRA}.get(self.verdict, 0)

    def to_dict(self, reports: bool = True) -> dict[str, Any]:
        """The JSON of the comparison; ``reports=False`` leaves the cases, ``before`` and
        ``after`` out (see :func:`loomgit.report.eval_json.compare_json`)."""
        return {
            "base": self.base_ref,
            "verdict": self.verdict,
            "fail_on": self.fail_on,
            "regressions": len(self.regressions),
            "fixes": len(self.fixes),
            "significant_regressions": self.significant(REGRESSION),
            "significant_improvements": self.significant(IMPROVEMENT),
            "notes": self.notes,
            "prompts": [p.to_dict() for p in self.prompts],
            "cases": [c.to_dict() for c in self.cases] if reports else [],
            "unchanged_prompts": self.unchanged,
            "before": self.base.to_dict() if reports else None,
            "after": self.head.to_dict() if reports else None,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a comparison needs of a base case (all of it is kept, for every case)."""

    status: str
    score: float | None
    why: str  # only for an error
    outcomes: Outcomes

    @classmethod
    def of(cls, r: CaseResult) -> Verdict:
        return cls(r.status, r.score, r.why() if r.status == "error" else "", outcomes(r))


def classify(base: CaseResult | Verdict | None, head: CaseResult) -> str:
    if head.status == "skipped":
        return "skipped"
    if base is None:
        return "new"
    if "error" in (base.status, head.status):
        return "error"
    if base.status == "passed" and head.status == "failed":
        return "regression"
    if base.status == "failed" and head.status == "passed":
        return "fix"
    return "same"


def untested(s: Significance | None) -> bool:
    return s is None or s.p_value is None


def outcomes(r: CaseResult) -> Outcomes:
    """A case's scored samples, as the significance tests see them."""
    sc = r.scored
    return Outcomes(
        tuple(bool(s.passed) for s in sc), tuple(s.score for s in sc if s.score is not None)
    )


def metric_of(suite: SuiteResult) -> str:
    """What a suite's tests compare: scores under a ``weighted`` gate, else pass/fail."""
    return "score" if suite.gate.rule == "weighted" else "pass_rate"


def diff_reports(
    base_ref: str, base: EvalReport, head: EvalReport, fail_on: str = "regression"
) -> Comparison:
    """Case-by-case comparison of two reports of the same cases, with the significance
    of each case's change and of each suite's."""
    cmp = Comparison(base_ref, base, head, fail_on=fail_on)
    before = {r.key: Verdict.of(r) for r in base.results}  # one pass over the base's spool
    base_suites = {s.prompt: s for s in base.suites}
    for hs in head.suites:
        bs = base_suites.get(hs.prompt)
        pc = PromptChange(
            hs.prompt,
            bs.version if bs else None,
            hs.version,
            bs.status if bs else None,
            hs.status,
            _pass_rate(bs) if bs else None,
            _pass_rate(hs),
            _mean_score(bs) if bs else None,
            _mean_score(hs),
        )
        metric = metric_of(hs)
        tested: list[CaseChange] = []
        pairs: list[tuple[Outcomes, Outcomes]] = []
        for r in hs.cases:
            b = before.get(r.key)
            change = classify(b, r)
            why = r.why() if change in ("regression", "error", "new") else ""
            if change == "error" and b is not None and b.status == "error":
                why = f"at base: {b.why}"
            cmp.cases.append(
                CaseChange(
                    r.prompt,
                    r.case,
                    r.provider,
                    change,
                    b.status if b else None,
                    r.status,
                    b.score if b else None,
                    r.score,
                    why,
                )
            )
            if b is not None and change != "skipped":
                pairs.append((b.outcomes, outcomes(r)))
                cmp.cases[-1].significance = judge_case(*pairs[-1], metric)
                tested.append(cmp.cases[-1])
            pc.regressions += change == "regression"
            pc.fixes += change == "fix"
        for c, s in zip(tested, adjust([c.significance for c in tested if c.significance])):
            c.significance = s
        if pairs:
            pc.significance = judge_suite(pairs, metric)
        cmp.prompts.append(pc)
    return cmp


def _pass_rate(suite: SuiteResult) -> float | None:
    c = suite.tally().counts
    decided = c["passed"] + c["failed"]
    return c["passed"] / decided if decided else None


def _mean_score(suite: SuiteResult) -> float | None:
    scores = suite.tally().scores
    return sum(scores) / len(scores) if scores else None
