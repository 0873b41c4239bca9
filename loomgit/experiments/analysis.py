"""From recorded outcomes to a status: estimates, comparisons against the control, and a
verdict that is only given once every variant has its minimum sample.

Before the minimum sample, the status shows each variant's estimate and interval and the
observed difference, but no p-value, interval of the difference or verdict: stopping an
experiment the first time a p-value dips below 0.05 ("peeking") makes false winners
common. With more than one treatment, each is compared with the control at a Bonferroni
-corrected level, alpha / (number of treatments).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import loomgit.experiments.stats as stats
from loomgit.experiments.model import ExperimentSpec
from loomgit.experiments.store import VariantData


@dataclass(frozen=True)
class VariantResult:
    name: str
    ref: str
    weight: float
    n: int
    successes: int | None  # rates only
    estimate: float | None
    std: float | None
    ci: tuple[float, float] | None
    versions: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ref": self.ref,
            "weight": round(self.weight, 6),
            "n": self.n,
            "successes": self.successes,
            "estimate": self.estimate,
            "std": self.std,
            "ci": list(self.ci) if self.ci else None,
            "versions": self.versions,
        }


@dataclass(frozen=True)
class ComparisonResult:
    variant: str
    against: str
    difference: float | None
    relative: float | None
    ci: tuple[float, float] | None  # None before the minimum sample
    p_value: float | None  # None before the minimum sample
    statistic: float | None
    df: float | None
    test: str
    alpha: float
    significant: bool | None
    better: bool | None  # better than the control, in the metric's direction

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "against": self.against,
            "difference": self.difference,
            "relative": self.relative,
            "ci": list(self.ci) if self.ci else None,
            "p_value": self.p_value,
            "statistic": self.statistic,
            "df": self.df,
            "test": self.test,
            "alpha": self.alpha,
            "significant": self.significant,
            "better": self.better,
        }


@dataclass(frozen=True)
class Status:
    spec: ExperimentSpec
    store: str
    variants: tuple[VariantResult, ...]
    comparisons: tuple[ComparisonResult, ...]
    ready: bool
    verdict: str  # collecting | winner | no_difference
    winner: str | None
    message: str
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def variant(self, name: str) -> VariantResult:
        return next(v for v in self.variants if v.name == name)

    def to_dict(self) -> dict[str, Any]:
        s = self.spec
        return {
            "experiment": s.name,
            "path": s.path,
            "prompt": s.prompt,
            "metric": s.metric.to_dict(),
            "confidence": s.confidence,
            "min_samples": s.min_samples,
            "promote_to": s.promote_to,
            "store": self.store,
            "variants": [v.to_dict() for v in self.variants],
            "comparisons": [c.to_dict() for c in self.comparisons],
            "ready": self.ready,
            "verdict": self.verdict,
            "winner": self.winner,
            "message": self.message,
            "warnings": list(self.warnings),
        }


def fmt_value(spec: ExperimentSpec, x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 100:.1f}%" if spec.metric.type == "rate" else f"{x:.4g}"


def fmt_diff(spec: ExperimentSpec, d: float | None) -> str:
    if d is None:
        return "-"
    return f"{d * 100:+.1f} points" if spec.metric.type == "rate" else f"{d:+.4g}"


def fmt_ci(spec: ExperimentSpec, ci: tuple[float, float] | None, diff: bool = False) -> str:
    if ci is None:
        return "-"
    if spec.metric.type == "rate":
        return (
            f"[{ci[0] * 100:+.1f}, {ci[1] * 100:+.1f}]"
            if diff
            else f"[{ci[0] * 100:.1f}%, {ci[1] * 100:.1f}%]"
        )
    return f"[{ci[0]:+.4g}, {ci[1]:+.4g}]" if diff else f"[{ci[0]:.4g}, {ci[1]:.4g}]"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    return "< 0.0001" if p < 0.0001 else f"{p:.4f}"


def p_text(p: float | None) -> str:
    """``p = 0.0061`` or ``p < 0.0001``."""
    text = fmt_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _variant(
    spec: ExperimentSpec, name: str, ref: str, weight: float, d: VariantData | None
) -> VariantResult:
    n = d.n if d else 0
    if spec.metric.type == "rate":
        succ = int(round(d.total)) if d else 0
        e = stats.rate_estimate(succ, n, spec.confidence)
        return VariantResult(
            name, ref, weight, n, succ, e.mean, e.std, e.ci, d.versions if d else {}
        )
    e = stats.mean_estimate(n, d.mean if d else None, d.ss if d else 0.0, spec.confidence)
    return VariantResult(name, ref, weight, n, None, e.mean, e.std, e.ci, d.versions if d else {})


def _compare(
    spec: ExperimentSpec,
    ctl: VariantResult,
    ctl_d: VariantData | None,
    var: VariantResult,
    var_d: VariantData | None,
    alpha: float,
    ready: bool,
) -> ComparisonResult:
    test = "two-proportion z-test" if spec.metric.type == "rate" else "Welch's t-test"
    diff = None if ctl.estimate is None or var.estimate is None else var.estimate - ctl.estimate
    rel = diff / ctl.estimate if diff is not None and ctl.estimate else None
    if not ready or diff is None or ctl_d is None or var_d is None:
        return ComparisonResult(
            var.name, ctl.name, diff, rel, None, None, None, None, test, alpha, None, None
        )
    conf = 1.0 - alpha  # the interval matches the (corrected) test level
    if spec.metric.type == "rate":
        assert ctl.successes is not None and var.successes is not None
        c = stats.two_proportions(ctl.successes, ctl.n, var.successes, var.n, conf)
    else:
        assert ctl_d.mean is not None and var_d.mean is not None
        c = stats.welch(ctl_d.n, ctl_d.mean, ctl_d.ss, var_d.n, var_d.mean, var_d.ss, conf)
    significant = c.p_value < alpha
    better = (c.difference > 0) if spec.metric.direction == "higher" else (c.difference < 0)
    return ComparisonResult(
        var.name,
        ctl.name,
        c.difference,
        rel,
        c.ci,
        c.p_value,
        c.statistic,
        c.df,
        c.test,
        alpha,
        significant,
        better if c.difference != 0 else False,
    )


def analyze(spec: ExperimentSpec, data: dict[str, VariantData], store: str) -> Status:
    """The status of ``spec`` given the store's per-variant data."""
    warnings = []
    for name in sorted(set(data) - {v.name for v in spec.variants}):
        warnings.append(
            f"the store holds {data[name].n} outcome(s) for variant {name!r}, "
            "which the experiment no longer declares (ignored)"
        )
    variants = tuple(
        _variant(spec, v.name, v.ref, v.weight, data.get(v.name)) for v in spec.variants
    )
    for v in variants:
        if len(v.versions) > 1:
            seen = ", ".join(f"{k}: {n}" for k, n in sorted(v.versions.items()))
            warnings.append(
                f"variant {v.name!r} was served by several versions ({seen}); its figures mix them"
            )
    ready = all(v.n >= spec.min_samples for v in variants)
    alpha = (1.0 - spec.confidence) / (len(variants) - 1)
    ctl = variants[0]
    comps = tuple(
        _compare(spec, ctl, data.get(ctl.name), v, data.get(v.name), alpha, ready)
        for v in variants[1:]
    )
    if not ready:
        short = ", ".join(
            f"{v.name} {v.n}/{spec.min_samples}" for v in variants if v.n < spec.min_samples
        )
        return Status(
            spec,
            store,
            variants,
            comps,
            False,
            "collecting",
            None,
            f"collecting: {short}; no p-value or verdict before every variant has "
            f"{spec.min_samples} observations",
            tuple(warnings),
        )
    pct = (
        f"{spec.confidence:.0%} confidence"
        if len(comps) == 1
        else f"alpha {alpha:.3g} per comparison"
    )
    winners = [c for c in comps if c.significant and c.better]
    if winners:
        best = max(
            winners,
            key=lambda c: (c.difference or 0.0) * (1 if spec.metric.direction == "higher" else -1),
        )
        return Status(
            spec,
            store,
            variants,
            comps,
            True,
            "winner",
            best.variant,
            f"{best.variant} beats {ctl.name}: {fmt_diff(spec, best.difference)} on "
            f"{spec.metric.name}, {p_text(best.p_value)} ({pct})",
            tuple(warnings),
        )
    if all(c.significant and not c.better for c in comps):
        worst = min(comps, key=lambda c: c.p_value if c.p_value is not None else 1.0)
        return Status(
            spec,
            store,
            variants,
            comps,
            True,
            "winner",
            ctl.name,
            f"{ctl.name} beats every treatment: {worst.variant} "
            f"{fmt_diff(spec, worst.difference)} on {spec.metric.name}, "
            f"{p_text(worst.p_value)} ({pct})",
            tuple(warnings),
        )
    p = min((c.p_value for c in comps if c.p_value is not None), default=1.0)
    return Status(
        spec,
        store,
        variants,
        comps,
        True,
        "no_difference",
        None,
        f"no significant difference at {pct} (smallest {p_text(p)}); "
        "keep collecting or keep the control",
        tuple(warnings),
    )
