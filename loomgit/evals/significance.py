"""Whether a change between two evaluations is more than sampling noise.

With ``--repeat N`` each case has N answers on each side, so a case that passed at the
base and fails now may only have been unlucky. The tests here tell a real change from
noise, at ``ALPHA`` (0.05), two-sided, in pure Python:

- per case, pass/fail counts: **Fisher's exact test** on the 2×2 table (side × passed);
  scores: the **Mann-Whitney U test** (exact without ties, else the normal approximation
  with tie and continuity corrections);
- per suite, each case a stratum (a case is compared only with itself): pass/fail counts,
  the exact conditional test of a common odds ratio of 1 (the stratified Fisher test; the
  **Cochran-Mantel-Haenszel** test when the exact distribution is too large to compute);
  scores: **van Elteren's** stratified rank-sum test;
- the per-case p-values of a suite are adjusted with **Holm's** method, so one suite of
  many cases does not flag a case by chance (``p_adjusted`` decides a case's verdict).

A verdict is ``regression`` or ``improvement`` when p < ALPHA (the direction from the
data), else ``no significant change``; ``not tested`` when a side has no scored sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

ALPHA = 0.05
REGRESSION = "regression"
IMPROVEMENT = "improvement"
NO_CHANGE = "no significant change"
NOT_TESTED = "not tested"
EXACT_LIMIT = 200_000  # work (support × stratum size) of the exact stratified test
_REL = 1 + 1e-7  # probabilities this close to the observed one count as "as extreme"


@dataclass(frozen=True, slots=True)
class Significance:
    """One test of base against head: which, on what, the p-value and the verdict."""

    test: str  # fisher | mann-whitney | stratified-fisher | cmh | van-elteren
    metric: str  # pass_rate | score
    before: float | None  # pass rate or mean score at the base
    after: float | None
    n_before: int  # scored samples at each side
    n_after: int
    p_value: float | None
    p_adjusted: float | None = None  # Holm, over the cases of a suite
    verdict: str = NOT_TESTED

    @property
    def p(self) -> float | None:
        """The p-value the verdict rests on."""
        return self.p_adjusted if self.p_adjusted is not None else self.p_value

    def describe(self) -> str:
        """``regression (p = 0.003, Fisher's exact test; pass rate 94.0% → 76.0%, 50 → 50
        samples)``."""
        if self.p is None:
            return self.verdict
        adj = " Holm-adjusted" if self.p_adjusted is not None else ""
        return (
            f"{self.verdict} ({fmt_p(self.p)}{adj}, {TEST_NAMES[self.test]}; "
            f"{self.measure()}, {self.n_before} → {self.n_after} samples)"
        )

    def measure(self) -> str:
        """``pass rate 94.0% → 76.0%`` or ``mean score 0.91 → 0.78``."""
        if self.metric == "score":
            b, a = (_fmt(v, "{:.2f}") for v in (self.before, self.after))
            return f"mean score {b} → {a}"
        b, a = (_fmt(v, "{:.1%}") for v in (self.before, self.after))
        return f"pass rate {b} → {a}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "test": self.test,
            "metric": self.metric,
            "p_value": _round(self.p_value),
            "p_adjusted": _round(self.p_adjusted),
            "alpha": ALPHA,
            "before": {"n": self.n_before, self.metric: _round(self.before)},
            "after": {"n": self.n_after, self.metric: _round(self.after)},
        }


TEST_NAMES = {
    "fisher": "Fisher's exact test",
    "mann-whitney": "Mann-Whitney U test",
    "stratified-fisher": "stratified exact test",
    "cmh": "Cochran-Mantel-Haenszel test",
    "van-elteren": "van Elteren test",
}


def fmt_p(p: float) -> str:
    """``p < 0.001`` or ``p = 0.042``."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _fmt(v: float | None, pattern: str) -> str:
    return "–" if v is None else pattern.format(v)


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 6)


def _verdict(p: float | None, direction: float) -> str:
    if p is None:
        return NOT_TESTED
    if p < ALPHA and direction:
        return REGRESSION if direction < 0 else IMPROVEMENT
    return NO_CHANGE


# -- the tests ---------------------------------------------------------------------------


def _lchoose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _hypergeom(n1: int, n2: int, k: int) -> tuple[int, list[float]]:
    """(lowest x, P(X = x) from there): X passes of side 1 when k of n1 + n2 passed."""
    lo, hi = max(0, k - n2), min(k, n1)
    total = _lchoose(n1 + n2, k)
    return lo, [math.exp(_lchoose(n1, x) + _lchoose(n2, k - x) - total) for x in range(lo, hi + 1)]


def _two_sided(pmf: Sequence[float], observed: int) -> float:
    cut = pmf[observed] * _REL
    return min(1.0, sum(q for q in pmf if q <= cut))


def fisher_exact(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p of Fisher's exact test: k1 of n1 passed on one side, k2 of n2 on the other."""
    lo, pmf = _hypergeom(n1, n2, k1 + k2)
    return _two_sided(pmf, k1 - lo)


def stratified_binary(tables: Sequence[tuple[int, int, int, int]]) -> tuple[str, float, float]:
    """(test, two-sided p, head minus expected passes) over strata ``(k1, n1, k2, n2)``
    (side 1 the base, side 2 the head): the exact conditional test when it is small
    enough to compute, else Cochran-Mantel-Haenszel with continuity correction."""
    live = [t for t in tables if t[1] and t[3] and 0 < t[0] + t[2] < t[1] + t[3]]
    diff = sum(k2 - (k1 + k2) * n2 / (n1 + n2) for k1, n1, k2, n2 in live)
    if not live:
        return "stratified-fisher", 1.0, 0.0
    work, support = 0, 1
    for _k1, n1, _k2, n2 in live:
        support += min(n1, n2)
        work += support * (min(n1, n2) + 1)
    if work <= EXACT_LIMIT:
        dist, lo_total, observed = [1.0], 0, 0
        for k1, n1, k2, n2 in live:
            lo, pmf = _hypergeom(n1, n2, k1 + k2)
            new = [0.0] * (len(dist) + len(pmf) - 1)
            for i, a in enumerate(dist):
                if a:
                    for j, b in enumerate(pmf):
                        new[i + j] += a * b
            dist, lo_total, observed = new, lo_total + lo, observed + k1
        return "stratified-fisher", _two_sided(dist, observed - lo_total), diff
    var = 0.0
    for k1, n1, k2, n2 in live:
        n, k = n1 + n2, k1 + k2
        var += n1 * n2 * k * (n - k) / (n * n * (n - 1))
    chi = max(0.0, abs(diff) - 0.5) / math.sqrt(var)
    return "cmh", math.erfc(chi / math.sqrt(2)), diff


def _ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """Mid-ranks of ``values`` (1-based) and the tie term Σ(t³ − t)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    return ranks, ties


def _u_stat(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float]:
    """(U of y over x, its mean, its variance under no change)."""
    m, n = len(x), len(y)
    ranks, ties = _ranks([*x, *y])
    u = sum(ranks[m:]) - n * (n + 1) / 2
    big = m + n
    var = m * n / 12 * ((big + 1) - ties / (big * (big - 1)))
    return u, m * n / 2, var


def _exact_u(m: int, n: int) -> list[float]:
    """P(U = u), u = 0..m·n, without ties: the Gaussian binomial [m+n, m] normalised."""
    c = [0] * (m * n + 1)
    c[0] = 1
    for i in range(1, m + 1):  # × (1 − q^(n+i)) / (1 − q^i)
        for k in range(len(c) - 1, n + i - 1, -1):
            c[k] -= c[k - n - i]
        for k in range(i, len(c)):
            c[k] += c[k - i]
    total = math.comb(m + n, m)
    return [v / total for v in c]


def mann_whitney(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """(two-sided p, U − mean U) of the Mann-Whitney U test of ``y`` against ``x``."""
    if not x or not y:
        return 1.0, 0.0
    u, mean, var = _u_stat(x, y)
    if var <= 0:
        return 1.0, 0.0
    no_ties = len(set(x) | set(y)) == len(x) + len(y)
    if no_ties and len(x) * len(y) <= 10_000:
        dist, far = _exact_u(len(x), len(y)), abs(u - mean) - 1e-9
        return min(1.0, sum(q for k, q in enumerate(dist) if abs(k - mean) >= far)), u - mean
    z = max(0.0, abs(u - mean) - 0.5) / math.sqrt(var)
    return math.erfc(z / math.sqrt(2)), u - mean


def van_elteren(groups: Sequence[tuple[Sequence[float], Sequence[float]]]) -> tuple[float, float]:
    """(two-sided p, direction) of van Elteren's test: Mann-Whitney U of each stratum
    (base, head) weighted by 1 / (stratum size + 1)."""
    stat = var = 0.0
    for x, y in groups:
        if not x or not y:
            continue
        u, mean, v = _u_stat(x, y)
        w = 1 / (len(x) + len(y) + 1)
        stat += w * (u - mean)
        var += w * w * v
    if var <= 0:
        return 1.0, 0.0
    return math.erfc(abs(stat) / math.sqrt(var) / math.sqrt(2)), stat


def holm(ps: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of ``ps`` (None stays None)."""
    idx = sorted((i for i, p in enumerate(ps) if p is not None), key=lambda i: ps[i] or 0.0)
    out: list[float | None] = [None] * len(ps)
    running = 0.0
    for rank, i in enumerate(idx):
        p = ps[i]
        assert p is not None
        running = max(running, min(1.0, (len(idx) - rank) * p))
        out[i] = running
    return out


# -- judging cases and suites --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcomes:
    """A case's scored samples at one side: pass/fail, and scores."""

    passed: tuple[bool, ...] = ()
    scores: tuple[float, ...] = ()

    @property
    def k(self) -> int:
        return sum(self.passed)

    def value(self, metric: str) -> float | None:
        vals: Sequence[float] = (
            self.scores if metric == "score" else [float(p) for p in self.passed]
        )
        return sum(vals) / len(vals) if vals else None

    def size(self, metric: str) -> int:
        return len(self.scores if metric == "score" else self.passed)


def judge_case(base: Outcomes, head: Outcomes, metric: str = "pass_rate") -> Significance:
    """One case at the base and at the head."""
    nb, nh = base.size(metric), head.size(metric)
    before, after = base.value(metric), head.value(metric)
    if not nb or not nh:
        return Significance(_case_test(metric), metric, before, after, nb, nh, None)
    if metric == "score":
        p, direction = mann_whitney(base.scores, head.scores)
    else:
        p = fisher_exact(base.k, nb, head.k, nh)
        direction = head.k / nh - base.k / nb
    return Significance(
        _case_test(metric), metric, before, after, nb, nh, p, verdict=_verdict(p, direction)
    )


def _case_test(metric: str) -> str:
    return "mann-whitney" if metric == "score" else "fisher"


def adjust(cases: Sequence[Significance]) -> list[Significance]:
    """The cases of one suite with Holm-adjusted p-values and verdicts from them."""
    adjusted = holm([c.p_value for c in cases])
    out = []
    for c, pa in zip(cases, adjusted):
        if pa is None:
            out.append(c)
            continue
        direction = (c.after or 0.0) - (c.before or 0.0)
        if c.verdict in (REGRESSION, IMPROVEMENT):
            direction = -1.0 if c.verdict == REGRESSION else 1.0
        out.append(replace(c, p_adjusted=pa, verdict=_verdict(pa, direction)))
    return out


def judge_suite(
    pairs: Sequence[tuple[Outcomes, Outcomes]], metric: str = "pass_rate"
) -> Significance:
    """A suite's cases (base, head) together, each case a stratum."""
    both = [(b, h) for b, h in pairs if b.size(metric) and h.size(metric)]
    nb = sum(b.size(metric) for b, _ in both)
    nh = sum(h.size(metric) for _, h in both)

    def pooled(side: int) -> float | None:
        vals = [
            v
            for pair in both
            for v in (pair[side].scores if metric == "score" else pair[side].passed)
        ]
        return sum(vals) / len(vals) if vals else None

    before, after = pooled(0), pooled(1)
    if not both:
        test = "van-elteren" if metric == "score" else "stratified-fisher"
        return Significance(test, metric, before, after, nb, nh, None)
    if metric == "score":
        p, direction = van_elteren([(b.scores, h.scores) for b, h in both])
        test = "van-elteren"
    else:
        test, p, direction = stratified_binary(
            [(b.k, len(b.passed), h.k, len(h.passed)) for b, h in both]
        )
    return Significance(test, metric, before, after, nb, nh, p, verdict=_verdict(p, direction))
