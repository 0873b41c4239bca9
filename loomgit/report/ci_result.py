"""The result of ``loomgit ci``: per changed prompt, the suite at the base and at the head,
the cases that changed, and the verdict ``fail_on`` gives them.

The verdict follows ``fail_on``:

- ``regression``: fail when a case that passed at the base fails at the head, or a
  prompt's gate that passed at the base fails at the head;
- ``significant_regression``: fail when a prompt's suite, or one of its cases, is
  significantly worse at the head (the tests of :mod:`loomgit.evals.significance`, over
  the ``--repeat`` samples of both sides); a flip that may be noise does not fail;
- ``gate``: fail when any changed prompt's gate (or distribution check) fails at the head;
- ``never``: report only.

Errors (a provider down) are not failures: when they keep the verdict open the check
ends with exit code 3, as ``loomgit eval`` does.

Plain data: :mod:`loomgit.app.ci` builds it, :mod:`loomgit.report.pr_comment` writes it
as Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from loomgit.errors import EXIT_FAILED, EXIT_INFRA, EXIT_OK
from loomgit.evals.significance import IMPROVEMENT, REGRESSION, Significance


@dataclass(frozen=True)
class CaseChange:
    """One case (on one provider) at the base and at the head."""

    case: str
    provider: str
    before: str | None  # passed | failed | error | skipped; None: not at the base
    after: str | None  # None: not at the head
    score_before: float | None = None
    score_after: float | None = None
    output_before: str | None = None
    output_after: str | None = None
    why_before: str = ""
    why_after: str = ""
    line: int | None = None  # of the case in the head's suite file
    change: str = ""  # as the eval compare classified it (derived when empty)
    significance: Significance | None = None  # base samples against head samples
    file: str | None = None  # the data file holding the case (None: the suite file)

    @property
    def kind(self) -> str:
        """regression | fix | new | removed | error | unchanged."""
        if self.change:
            return self.change
        b, a = self.before, self.after
        if a == "error" or (b == "error" and a != "passed"):
            return "error"
        if b == "passed" and a == "failed":
            return "regression"
        if b in ("failed", "error") and a == "passed":
            return "fix"
        if b is None and a is not None:
            return "new"
        if a is None and b is not None:
            return "removed"
        return "unchanged"

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "provider": self.provider,
            "before": self.before,
            "after": self.after,
            "change": self.kind,
            "score_before": self.score_before,
            "score_after": self.score_after,
            "output_before": self.output_before,
            "output_after": self.output_after,
            "why_before": self.why_before or None,
            "why_after": self.why_after or None,
            "line": self.line,
            "significance": self.significance.to_dict() if self.significance else None,
            "file": self.file,
        }


@dataclass(frozen=True)
class Side:
    """One prompt's suite result at one side (base or head)."""

    version: str | None = None
    gate: str | None = None  # passed | failed | error; None: not evaluated
    passed: int = 0
    failed: int = 0
    errors: int = 0
    cost_usd: float | None = None

    @property
    def pass_rate(self) -> float | None:
        n = self.passed + self.failed
        return self.passed / n if n else None


@dataclass(frozen=True)
class PromptChange:
    id: str
    path: str
    status: str  # added | modified | deleted | renamed | suite
    suite: str | None = None
    before: Side = field(default_factory=Side)
    after: Side = field(default_factory=Side)
    bump: str | None = None  # initial | major | minor | patch
    reasons: tuple[str, ...] = ()
    cases: tuple[CaseChange, ...] = ()
    note: str = ""  # why it was not evaluated, if it was not
    significance: Significance | None = None  # the suite's cases together

    @property
    def regressions(self) -> list[CaseChange]:
        return [c for c in self.cases if c.kind == "regression"]

    def significant(self, verdict: str = REGRESSION) -> list[str]:
        """Why this prompt is significantly worse (or better), one line per finding."""
        out = []
        if self.significance and self.significance.verdict == verdict:
            out.append(f"{self.id}: the suite: {self.significance.describe()}")
        out += [
            f"{self.id}: case {c.case!r} ({c.provider}): {c.significance.describe()}"
            for c in self.cases
            if c.significance and c.significance.verdict == verdict
        ]
        return out

    @property
    def repeated(self) -> bool:
        """Some case has two or more scored samples at each side."""
        return any(
            c.significance and min(c.significance.n_before, c.significance.n_after) > 1
            for c in self.cases
        )

    @property
    def fixes(self) -> list[CaseChange]:
        return [c for c in self.cases if c.kind == "fix"]

    @property
    def errors(self) -> list[CaseChange]:
        return [c for c in self.cases if c.kind == "error"]

    @property
    def gate_regressed(self) -> bool:
        return self.before.gate == "passed" and self.after.gate == "failed"

    def to_dict(self) -> dict[str, Any]:
        def side(s: Side) -> dict[str, Any]:
            return {
                "version": s.version,
                "gate": s.gate,
                "passed": s.passed,
                "failed": s.failed,
                "errors": s.errors,
                "pass_rate": s.pass_rate,
                "cost_usd": s.cost_usd,
            }

        return {
            "id": self.id,
            "path": self.path,
            "status": self.status,
            "suite": self.suite,
            "bump": self.bump,
            "reasons": list(self.reasons),
            "before": side(self.before),
            "after": side(self.after),
            "regressions": len(self.regressions),
            "fixes": len(self.fixes),
            "errors": len(self.errors),
            "note": self.note or None,
            "significance": self.significance.to_dict() if self.significance else None,
            "significant_regressions": self.significant(REGRESSION),
            "significant_improvements": self.significant(IMPROVEMENT),
            "cases": [c.to_dict() for c in self.cases],
        }


@dataclass(frozen=True)
class CiReport:
    base: str
    head: str
    base_label: str
    head_label: str
    fail_on: str
    prompts: tuple[PromptChange, ...] = ()
    offline: str | None = None  # why offline providers were used, when they were
    python_allowed: bool = False
    notes: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()  # ids two files of the head share: a failure

    @property
    def regressions(self) -> int:
        return sum(len(p.regressions) for p in self.prompts)

    @property
    def fixes(self) -> int:
        return sum(len(p.fixes) for p in self.prompts)

    @property
    def errors(self) -> int:
        return sum(len(p.errors) for p in self.prompts)

    @property
    def cost_usd(self) -> float:
        return sum((p.before.cost_usd or 0.0) + (p.after.cost_usd or 0.0) for p in self.prompts)

    @property
    def verdict(self) -> str:
        """passed | failed | error (errors keep the verdict open). An id shared by two
        files fails the check whatever changed: commands refuse that id."""
        if self.conflicts and self.fail_on != "never":
            return "failed"
        return decide(self.prompts, self.fail_on)

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    @property
    def exit_code(self) -> int:
        return {"passed": EXIT_OK, "failed": EXIT_FAILED}.get(self.verdict, EXIT_INFRA)

    def failure_reasons(self) -> list[str]:
        """Why the check failed, one line each (empty when it did not)."""
        out: list[str] = list(self.conflicts) if self.fail_on != "never" else []
        for p in self.prompts:
            if self.fail_on == "regression":
                for c in p.regressions:
                    out.append(
                        f"{p.id}: case {c.case!r} ({c.provider}) passed at the base and "
                        f"fails now" + (f": {c.why_after}" if c.why_after else "")
                    )
                if p.gate_regressed and not p.regressions:
                    out.append(f"{p.id}: the gate passed at the base and fails now")
            elif self.fail_on == "significant_regression":
                out += p.significant(REGRESSION)
            elif self.fail_on == "gate" and p.after.gate == "failed":
                out.append(
                    f"{p.id}: the gate fails ({p.after.passed} of "
                    f"{p.after.passed + p.after.failed} cases pass)"
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "passed": self.passed,
            "fail_on": self.fail_on,
            "base": self.base,
            "head": self.head,
            "base_label": self.base_label,
            "head_label": self.head_label,
            "regressions": self.regressions,
            "fixes": self.fixes,
            "errors": self.errors,
            "cost_usd": round(self.cost_usd, 9),
            "offline": self.offline,
            "python_allowed": self.python_allowed,
            "notes": list(self.notes),
            "conflicts": list(self.conflicts),
            "prompts": [p.to_dict() for p in self.prompts],
        }


def noise_notes(prompts: Sequence[PromptChange], fail_on: str) -> tuple[str, ...]:
    """What the report should say about sampling noise (loomgit's own Markdown)."""
    evaluated = [p for p in prompts if p.cases]
    if not evaluated:
        return ()
    if not any(p.repeated for p in evaluated):
        return (
            "Each case ran once per side, so a case that flipped may be sampling noise. "
            "Add `--repeat N` (20 or more) to `args` and set `fail-on: significant_regression` "
            "to fail only on changes that noise does not explain.",
        )
    if fail_on == "regression":
        return (
            "`fail-on: regression` fails on any case that flipped, even where the "
            "significance tests find no significant change; `fail-on: "
            "significant_regression` fails only on significant regressions.",
        )
    return ()


def decide(prompts: Sequence[PromptChange], fail_on: str) -> str:
    """passed | failed | error, as ``fail_on`` defines failure (see the module docstring)."""
    if fail_on == "never":
        return "passed"
    failed = False
    open_ = False
    for p in prompts:
        if fail_on == "significant_regression":
            failed |= bool(p.significant(REGRESSION))
            # a case that passed at the base and has nothing to test at the head
            open_ |= any(
                c.before == "passed"
                and c.after == "error"
                and (c.significance is None or c.significance.p_value is None)
                for c in p.cases
            )
        elif fail_on == "regression":
            failed |= bool(p.regressions) or p.gate_regressed
            # a case that passed before and errors now may hide a regression
            open_ |= any(c.before == "passed" and c.after == "error" for c in p.cases)
            open_ |= p.before.gate == "passed" and p.after.gate == "error"
        else:
            failed |= p.after.gate == "failed"
            open_ |= p.after.gate == "error"
    if failed:
        return "failed"
    return "error" if open_ else "passed"
