"""The statistics of an experiment, written with ``math`` and ``statistics`` only.

- Rates: Wilson score interval per variant; two-proportion z-test (pooled standard error)
  for the difference, with Newcombe's hybrid score interval (his method 10) around it.
- Means: Student t interval per variant; Welch's unequal-variance t-test for the
  difference, with the Welch-Satterthwaite degrees of freedom.

Student's t distribution comes from the regularized incomplete beta function (a Lentz
continued fraction), checked against scipy in the tests. Degenerate data (no variance at
all) has a defined answer instead of NaN: equal means give p = 1, different means p = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_N = NormalDist()
_EPS = 1e-15
_TINY = 1e-300


# -- distributions -------------------------------------------------------------------


def norm_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z (accurate far into the tail)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def norm_ppf(p: float) -> float:
    return _N.inv_cdf(p)


def _betacf(a: float, b: float, x: float) -> float:
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def _lgamma_ratio(a: float, b: float) -> float:
    """ln Gamma(a + b) - ln Gamma(a), without the cancellation of two huge lgammas."""
    if a < 100.0:
        return math.lgamma(a + b) - math.lgamma(a)

    def corr(x: float) -> float:  # Stirling series beyond its leading terms
        x2 = x * x
        return 1.0 / (12.0 * x) - 1.0 / (360.0 * x * x2) + 1.0 / (1260.0 * x * x2 * x2)

    return b * math.log(a) + (a + b - 0.5) * math.log1p(b / a) - b + corr(a + b) - corr(a)


def betainc(a: float, b: float, x: float, y: float | None = None) -> float:
    """The regularized incomplete beta function I_x(a, b); ``y`` is 1 - x when the
    caller knows it more precisely than ``1 - x`` can be computed."""
    if y is None:
        y = 1.0 - x
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    lbeta = _lgamma_ratio(a, b) - math.lgamma(b) if a >= b else _lgamma_ratio(b, a) - math.lgamma(a)
    front = math.exp(lbeta + a * math.log(x) + b * math.log(y))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, y) / b


def t_sf2(t: float, df: float) -> float:
    """Two-sided tail P(|T| > |t|) of Student's t with ``df`` degrees of freedom."""
    if math.isinf(df) or df > 1e8:  # the normal limit, closer than the series there
        return 2.0 * norm_sf(abs(t))
    t2 = t * t
    return betainc(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * t_sf2(t, df)
    return 1.0 - tail if t >= 0 else tail


def t_ppf(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (bisection on the cdf, bracketed)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be strictly between 0 and 1")
    if math.isinf(df) or df > 1e8:  # the normal limit, closer than the series there
        return norm_ppf(p)
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    lo, hi = 0.0, max(1.0, norm_ppf(p))
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


# -- per-variant estimates ------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """One variant's sample: ``n`` observations, their mean (the rate, for rates) and a
    confidence interval (None when it cannot be computed, e.g. one observation)."""

    n: int
    mean: float | None
    std: float | None
    ci: tuple[float, float] | None


def wilson(successes: int, n: int, confidence: float) -> tuple[float, float] | None:
    """Wilson score interval for ``successes`` out of ``n``."""
    if n <= 0:
        return None
    z = norm_ppf(0.5 + confidence / 2.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def rate_estimate(successes: int, n: int, confidence: float) -> Estimate:
    if n <= 0:
        return Estimate(0, None, None, None)
    p = successes / n
    return Estimate(n, p, math.sqrt(p * (1 - p)), wilson(successes, n, confidence))


def mean_estimate(n: int, mean: float | None, ss: float, confidence: float) -> Estimate:
    """``ss`` is the sum of squared deviations from the mean."""
    if n <= 0 or mean is None:
        return Estimate(0, None, None, None)
    if n == 1:
        return Estimate(1, mean, None, None)
    sd = math.sqrt(max(ss, 0.0) / (n - 1))
    half = t_ppf(0.5 + confidence / 2.0, n - 1) * sd / math.sqrt(n)
    return Estimate(n, mean, sd, (mean - half, mean + half))


# -- comparisons ----------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """``b`` against ``a``: difference b - a, its interval, the test statistic and p-value."""

    difference: float
    ci: tuple[float, float] | None
    statistic: float | None
    p_value: float
    test: str
    df: float | None = None


def two_proportions(x1: int, n1: int, x2: int, n2: int, confidence: float) -> Comparison:
    """Two-proportion z-test (pooled) of x2/n2 against x1/n1, Newcombe interval."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both samples need at least one observation")
    p1, p2 = x1 / n1, x2 / n2
    diff = p2 - p1
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0.0:
        z, p = None, (1.0 if diff == 0 else 0.0)
    else:
        z = diff / se
        p = min(1.0, 2.0 * norm_sf(abs(z)))
    w1, w2 = wilson(x1, n1, confidence), wilson(x2, n2, confidence)
    assert w1 is not None and w2 is not None
    (l1, u1), (l2, u2) = w1, w2
    lower = diff - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    upper = diff + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return Comparison(diff, (lower, upper), z, p, "two-proportion z-test")


def welch(
    n1: int, m1: float, ss1: float, n2: int, m2: float, ss2: float, confidence: float
) -> Comparison:
    """Welch's t-test of sample 2 against sample 1 from summary statistics
    (``ss`` = sum of squared deviations from the sample's mean)."""
    if n1 < 2 or n2 < 2:
        raise ValueError("Welch's t-test needs at least two observations per sample")
    v1, v2 = max(ss1, 0.0) / (n1 - 1), max(ss2, 0.0) / (n2 - 1)
    a, b = v1 / n1, v2 / n2
    diff = m2 - m1
    se = math.sqrt(a + b)
    if se == 0.0:
        return Comparison(
            diff, (diff, diff), None, 1.0 if diff == 0 else 0.0, "Welch's t-test", None
        )
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    t = diff / se
    p = min(1.0, t_sf2(t, df))
    half = t_ppf(0.5 + confidence / 2.0, df) * se
    return Comparison(diff, (diff - half, diff + half), t, p, "Welch's t-test", df)
