"""The experiment statistics, checked against scipy (computed here, in the test) and a
published worked example, including the edge cases: zero successes, identical variants,
unequal sample sizes from unequal weights, no variance at all."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats as sps

from loomgit.experiments import stats
from loomgit.experiments.analysis import analyze
from loomgit.experiments.spec import ExperimentSpec, Metric, VariantSpec
from loomgit.experiments.store import VariantData


@pytest.mark.parametrize("df", [1, 1.5, 2, 3, 7, 29.7, 120, 1_000, 50_000, 3e6, 5e8])
def test_student_t_matches_scipy(df: float) -> None:
    rel = 1e-8 if df < 1e8 else 1e-4  # past 1e8 degrees of freedom: the normal limit
    for t in (0.0, 0.01, 0.5, 1.0, 1.96, 2.5, 4.0, 8.0, 15.0):
        assert stats.t_sf2(t, df) == pytest.approx(2 * sps.t.sf(t, df), rel=rel, abs=1e-300)
        assert stats.t_cdf(-t, df) == pytest.approx(sps.t.cdf(-t, df), rel=rel, abs=1e-300)
    for p in (0.0005, 0.025, 0.3, 0.5, 0.9, 0.975, 0.995):
        assert stats.t_ppf(p, df) == pytest.approx(sps.t.ppf(p, df), rel=1e-8, abs=1e-12)


def test_incomplete_beta_matches_scipy() -> None:
    from scipy.special import betainc

    for a, b, x in [
        (0.5, 0.5, 0.3),
        (2, 3, 0.9),
        (50, 0.5, 0.97),
        (1e4, 0.5, 0.9995),
        (3, 200, 0.01),
        (0.7, 9, 0.5),
    ]:
        assert stats.betainc(a, b, x) == pytest.approx(betainc(a, b, x), rel=1e-9)


TABLES = [  # (successes control, n control, successes treatment, n treatment)
    (200, 1000, 250, 1000),
    (48, 80, 56, 70),
    (5, 1000, 12, 1000),
    (1800, 9000, 230, 1000),  # a 90/10 split: very unequal samples
    (0, 100, 5, 100),  # zero successes on one side
    (500, 1000, 500, 1000),  # identical
    (33, 57, 29, 61),
]


@pytest.mark.parametrize("x1,n1,x2,n2", TABLES)
def test_two_proportion_z_test_matches_scipy(x1: int, n1: int, x2: int, n2: int) -> None:
    c = stats.two_proportions(x1, n1, x2, n2, 0.95)
    # the pooled two-proportion z-test is the 2x2 chi-square test without continuity
    # correction: same p-value, and z squared is the chi-square statistic
    chi2, p, _, _ = sps.chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=False)
    assert c.p_value == pytest.approx(p, rel=1e-9)
    assert c.statistic is not None and c.statistic**2 == pytest.approx(chi2, rel=1e-9)
    assert (
        math.copysign(1, c.statistic) == math.copysign(1, x2 / n2 - x1 / n1) or x2 / n2 == x1 / n1
    )
    assert c.difference == pytest.approx(x2 / n2 - x1 / n1)
    lo, hi = c.ci or (0, 0)
    assert lo <= c.difference <= hi


def test_newcombe_interval_reproduces_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873-890, example (a): 56/70 vs 48/80,
    # method 10 (hybrid score, no continuity correction): 0.0524 to 0.3339
    c = stats.two_proportions(48, 80, 56, 70, 0.95)
    assert c.difference == pytest.approx(0.2)
    assert c.ci == pytest.approx((0.0524, 0.3339), abs=5e-5)


@pytest.mark.parametrize("k,n", [(0, 50), (1, 50), (17, 40), (50, 50), (3, 10_000)])
def test_wilson_interval_matches_scipy(k: int, n: int) -> None:
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert stats.wilson(k, n, 0.95) == pytest.approx((ci.low, ci.high), abs=1e-12)
    ci90 = sps.binomtest(k, n).proportion_ci(confidence_level=0.9, method="wilson")
    assert stats.wilson(k, n, 0.9) == pytest.approx((ci90.low, ci90.high), abs=1e-12)


def test_zero_successes_everywhere_is_no_difference_not_nan() -> None:
    c = stats.two_proportions(0, 500, 0, 500, 0.95)
    assert (c.difference, c.p_value, c.statistic) == (0.0, 1.0, None)
    lo, hi = c.ci or (1, -1)
    assert lo < 0 < hi  # Newcombe's interval still has width with no events
    full = stats.two_proportions(500, 500, 500, 500, 0.95)
    assert full.p_value == 1.0


def _sample(rng: random.Random, n: int, mu: float, sd: float) -> list[float]:
    return [rng.gauss(mu, sd) for _ in range(n)]


def _summary(xs: list[float]) -> tuple[int, float, float]:
    m = sum(xs) / len(xs)
    return len(xs), m, sum((x - m) ** 2 for x in xs)


@pytest.mark.parametrize(
    "n1,mu1,sd1,n2,mu2,sd2",
    [
        (40, 0.70, 0.10, 35, 0.74, 0.25),
        (900, 3.1, 1.0, 100, 3.4, 2.0),  # a 90/10 split with unequal variances
        (5, 10.0, 3.0, 7, 10.0, 3.0),  # tiny samples
        (2000, 0.5, 0.2, 2000, 0.5, 0.2),  # identical distributions
    ],
)
def test_welch_matches_scipy(
    n1: int, mu1: float, sd1: float, n2: int, mu2: float, sd2: float
) -> None:
    rng = random.Random(n1 * 31 + n2)
    a, b = _sample(rng, n1, mu1, sd1), _sample(rng, n2, mu2, sd2)
    c = stats.welch(*_summary(a), *_summary(b), 0.95)
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert c.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert c.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    assert c.df == pytest.approx(ref.df, rel=1e-9)
    lo, hi = ref.confidence_interval(0.95)
    assert c.ci == pytest.approx((lo, hi), rel=1e-8)
    assert c.difference == pytest.approx(sum(b) / n2 - sum(a) / n1)


def test_mean_interval_matches_scipy() -> None:
    rng = random.Random(7)
    xs = _sample(rng, 25, 4.0, 1.5)
    n, m, ss = _summary(xs)
    e = stats.mean_estimate(n, m, ss, 0.95)
    lo, hi = sps.t.interval(0.95, n - 1, loc=m, scale=sps.sem(xs))
    assert e.ci == pytest.approx((lo, hi), rel=1e-9)
    assert e.std == pytest.approx(sps.tstd(xs), rel=1e-12)
    assert stats.mean_estimate(1, 5.0, 0.0, 0.95).ci is None  # one observation: no interval


def test_no_variance_has_a_defined_answer() -> None:
    same = stats.welch(10, 1.0, 0.0, 10, 1.0, 0.0, 0.95)
    assert (same.p_value, same.statistic) == (1.0, None)
    apart = stats.welch(10, 1.0, 0.0, 10, 2.0, 0.0, 0.95)
    assert apart.p_value == 0.0 and apart.difference == 1.0


def _spec(metric: str = "rate", k: int = 2, direction: str = "higher") -> ExperimentSpec:
    names = ["control", "treatment", "third"][:k]
    return ExperimentSpec(
        "t",
        "experiments/t.yaml",
        "p",
        tuple(VariantSpec(n, f"p@{i + 1}.0.0", 1 / k) for i, n in enumerate(names)),
        Metric(metric, "m", direction),
        100,
        0.95,
        "production",
    )


def _rate(n: int, k: int, version: str = "1.0.0") -> VariantData:
    p = k / n
    return VariantData(n, float(k), p, n * p * (1 - p), {version: n})


def test_no_p_value_or_verdict_before_the_minimum_sample() -> None:
    st = analyze(_spec(), {"control": _rate(99, 10), "treatment": _rate(400, 300)}, "x")
    assert st.verdict == "collecting" and st.winner is None and not st.ready
    assert st.comparisons[0].p_value is None and st.comparisons[0].ci is None
    assert st.comparisons[0].difference == pytest.approx(0.75 - 10 / 99)
    assert "control 99/100" in st.message
    st = analyze(_spec(), {"control": _rate(100, 10), "treatment": _rate(400, 300)}, "x")
    assert st.verdict == "winner" and st.winner == "treatment"
    assert st.comparisons[0].p_value is not None and st.comparisons[0].p_value < 1e-10


def test_verdicts_follow_the_metric_direction_and_control_can_win() -> None:
    data = {"control": _rate(1000, 300), "treatment": _rate(1000, 200)}
    assert analyze(_spec(), data, "x").winner == "control"
    assert analyze(_spec(direction="lower"), data, "x").winner == "treatment"
    same = analyze(_spec(), {"control": _rate(1000, 250), "treatment": _rate(1000, 251)}, "x")
    assert same.verdict == "no_difference" and same.winner is None


def test_several_treatments_use_a_bonferroni_level() -> None:
    # p about 0.03 for 'treatment': significant alone, not at alpha 0.05 / 2
    data = {"control": _rate(1000, 200), "treatment": _rate(1000, 238), "third": _rate(1000, 205)}
    st = analyze(_spec(k=3), data, "x")
    c = st.comparisons[0]
    assert 0.025 < c.p_value < 0.05 and c.alpha == pytest.approx(0.025)
    assert st.verdict == "no_difference"
    two = analyze(_spec(), {k: data[k] for k in ("control", "treatment")}, "x")
    assert two.verdict == "winner" and two.winner == "treatment"


def test_status_warns_about_mixed_versions_and_unknown_variants() -> None:
    mixed = VariantData(200, 40.0, 0.2, 32.0, {"1.0.0": 150, "1.1.0": 50})
    st = analyze(_spec(), {"control": mixed, "treatment": _rate(200, 50), "old": _rate(5, 1)}, "x")
    assert any("several versions (1.0.0: 150, 1.1.0: 50)" in w for w in st.warnings)
    assert any("variant 'old'" in w for w in st.warnings)
