"""Two reports of the same cases, compared case by case (``loomgit eval --compare BASE``).

Per case:

- ``regression``: passed at BASE, fails now      - ``fix``: failed at BASE, passes now
- ``same``: both passed or both failed           - ``new``: no result at BASE
- ``error``: an error on either side kept it from being compared;  ``skipped``

The verdict is ``regressed`` when there is a regression or a gate (or distribution check)
fails now that did not fail at BASE; else ``error`` when errors kept cases from being
compared; else ``improved`` when there are fixes; else ``unchanged``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from loomgit.errors import EXIT_FAILED, EXIT_INFRA
from loomgit.evals.results import CaseResult, EvalReport


@dataclass
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
        }


@dataclass
class Comparison:
    base_ref: str
    base: EvalReport
    head: EvalReport
    prompts: list[PromptChange] = field(default_factory=list)
    cases: list[CaseChange] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[CaseChange]:
        return [c for c in self.cases if c.change == "regression"]

    @property
    def fixes(self) -> list[CaseChange]:
        return [c for c in self.cases if c.change == "fix"]

    @property
    def verdict(self) -> str:
        if self.regressions or any(p.gate_regressed for p in self.prompts):
            return "regressed"
        if any(c.change == "error" for c in self.cases):
            return "error"
        return "improved" if self.fixes else "unchanged"

    @property
    def exit_code(self) -> int:
        return {"regressed": EXIT_FAILED, "error": EXIT_INFRA}.get(self.verdict, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base_ref,
            "verdict": self.verdict,
            "regressions": len(self.regressions),
            "fixes": len(self.fixes),
            "prompts": [p.to_dict() for p in self.prompts],
            "cases": [c.to_dict() for c in self.cases],
            "unchanged_prompts": self.unchanged,
            "before": self.base.to_dict(),
            "after": self.head.to_dict(),
        }


def _mean(vals: Sequence[float | None]) -> float | None:
    v = [x for x in vals if x is not None]
    return sum(v) / len(v) if v else None


def classify(base: CaseResult | None, head: CaseResult) -> str:
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


def diff_reports(base_ref: str, base: EvalReport, head: EvalReport) -> Comparison:
    """Case-by-case comparison of two reports of the same cases."""
    cmp = Comparison(base_ref, base, head)
    before = {r.key: r for r in base.results}
    base_suites = {s.prompt: s for s in base.suites}
    for hs in head.suites:
        bs = base_suites.get(hs.prompt)
        pc = PromptChange(
            hs.prompt,
            bs.version if bs else None,
            hs.version,
            bs.status if bs else None,
            hs.status,
            _pass_rate(bs.cases) if bs else None,
            _pass_rate(hs.cases),
            _mean([r.score for r in bs.cases]) if bs else None,
            _mean([r.score for r in hs.cases]),
        )
        for r in hs.cases:
            b = before.get(r.key)
            change = classify(b, r)
            why = r.why() if change in ("regression", "error", "new") else ""
            if change == "error" and b is not None and b.status == "error":
                why = f"at base: {b.why()}"
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
            pc.regressions += change == "regression"
            pc.fixes += change == "fix"
        cmp.prompts.append(pc)
    return cmp


def _pass_rate(cases: Sequence[CaseResult]) -> float | None:
    decided = [r for r in cases if r.status in ("passed", "failed")]
    return sum(1 for r in decided if r.status == "passed") / len(decided) if decided else None
