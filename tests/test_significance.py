"""The significance tests of ``--compare`` and ``ci`` (loomgit.evals.significance):
checked against scipy, then on simulated noisy models of known pass rates: a 5-point drop
with 50 repeats is flagged, sampling noise is not, and the false-positive rate over many
seeds stays at the test's level."""

from __future__ import annotations

import random

import pytest
from noisy_model import simulated_report
from scipy import stats

from loomgit.evals import significance as sig
from loomgit.evals.comparison import diff_reports
from loomgit.evals.gates import Gate

# -- the tests against scipy ---------------------------------------------------------------


def test_fisher_matches_scipy() -> None:
    rng = random.Random(3)
    for _ in range(300):
        n1, n2 = rng.randint(1, 60), rng.randint(1, 60)
        k1, k2 = rng.randint(0, n1), rng.randint(0, n2)
        want = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue
        assert sig.fisher_exact(k1, n1, k2, n2) == pytest.approx(want, abs=1e-9)
    # the lady tasting tea: 3 of 4 against 1 of 4
    assert sig.fisher_exact(3, 4, 1, 4) == pytest.approx(0.4857142857)


def test_mann_whitney_matches_scipy_exact_and_with_ties() -> None:
    rng = random.Random(4)
    for _ in range(150):
        m, n = rng.randint(1, 30), rng.randint(1, 30)
        x = [rng.random() for _ in range(m)]
        y = [rng.random() + 0.2 for _ in range(n)]
        want = stats.mannwhitneyu(y, x, method="exact").pvalue
        assert sig.mann_whitney(x, y)[0] == pytest.approx(want, abs=1e-9)
    for _ in range(150):
        m, n = rng.randint(3, 60), rng.randint(3, 60)
        x = [rng.choice([0.0, 0.5, 1.0]) for _ in range(m)]
        y = [rng.choice([0.0, 0.5, 1.0, 1.0]) for _ in range(n)]
        if len(set(x) | set(y)) == 1:
            continue
        want = stats.mannwhitneyu(y, x, method="asymptotic", use_continuity=True).pvalue
        assert sig.mann_whitney(x, y)[0] == pytest.approx(want, abs=1e-9)
    assert sig.mann_whitney([1.0] * 5, [1.0] * 5) == (1.0, 0.0)  # no variation at all


def test_one_stratum_is_fisher_and_the_approximation_agrees_with_the_exact_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert sig.stratified_binary([(3, 4, 1, 4)])[:2] == (
        "stratified-fisher",
        sig.fisher_exact(3, 4, 1, 4),
    )
    rng = random.Random(5)
    tables = [(rng.randint(30, 50), 50, rng.randint(25, 50), 50) for _ in range(8)]
    test, exact, diff = sig.stratified_binary(tables)
    assert test == "stratified-fisher" and diff < 0
    monkeypatch.setattr(sig, "EXACT_LIMIT", 0)
    test, approx, _ = sig.stratified_binary(tables)
    assert test == "cmh" and approx == pytest.approx(exact, abs=0.01)
    # strata with nothing to compare (all passed, or a side empty) add nothing
    assert sig.stratified_binary([(50, 50, 50, 50), (0, 0, 3, 4)]) == (
        "stratified-fisher",
        1.0,
        0.0,
    )


def test_van_elteren_of_one_stratum_is_the_normal_mann_whitney() -> None:
    x = [0, 0.5, 1, 1, 0.5, 0] * 5
    y = [1, 1, 0.5, 1, 0, 1] * 5
    want = stats.mannwhitneyu(y, x, method="asymptotic", use_continuity=False).pvalue
    p, direction = sig.van_elteren([(x, y)])
    assert p == pytest.approx(want, abs=1e-12) and direction > 0


def test_holm_adjustment() -> None:
    assert sig.holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
    assert sig.holm([0.5, 0.9]) == [1.0, 1.0]


def test_verdicts_and_their_words() -> None:
    drop = sig.judge_case(sig.Outcomes((True,) * 50), sig.Outcomes((True,) * 30 + (False,) * 20))
    assert drop.verdict == "regression" and drop.test == "fisher" and drop.p_value < 1e-6
    assert drop.describe() == (
        "regression (p < 0.001, Fisher's exact test; pass rate 100.0% → 60.0%, 50 → 50 samples)"
    )
    assert drop.to_dict()["before"] == {"n": 50, "pass_rate": 1.0}
    up = sig.judge_case(sig.Outcomes((False,) * 10), sig.Outcomes((True,) * 10))
    assert up.verdict == "improvement"
    once = sig.judge_case(sig.Outcomes((True,)), sig.Outcomes((False,)))
    assert once.verdict == "no significant change" and once.p_value == 1.0
    none = sig.judge_case(sig.Outcomes(), sig.Outcomes((True,)))
    assert none.verdict == "not tested" and none.p_value is None
    scores = sig.judge_case(
        sig.Outcomes(scores=(0.9, 0.95, 0.92, 0.97, 0.91)),
        sig.Outcomes(scores=(0.5, 0.4, 0.6, 0.45, 0.55)),
        "score",
    )
    assert scores.test == "mann-whitney" and scores.verdict == "regression"


# -- simulated noisy models of known rates -----------------------------------------------

CASES = 30
REPEAT = 50


def _compare(seed: int, base: float, head: float, **kw: object) -> tuple[str, str]:
    """(the suite's verdict, the gate's verdict) for one simulated pull request."""
    b = simulated_report(f"base-{seed}", [base] * CASES, REPEAT, **kw)  # type: ignore[arg-type]
    h = simulated_report(f"head-{seed}", [head] * CASES, REPEAT, **kw)  # type: ignore[arg-type]
    cmp = diff_reports("main", b, h, "significant_regression")
    (p,) = cmp.prompts
    assert p.significance is not None
    return p.significance.verdict, cmp.verdict


def test_a_five_point_drop_with_50_repeats_is_flagged() -> None:
    b = simulated_report("base-0", [0.90] * CASES, REPEAT)
    h = simulated_report("head-0", [0.85] * CASES, REPEAT)
    cmp = diff_reports("main", b, h, "significant_regression")
    (p,) = cmp.prompts
    assert p.significance is not None and p.significance.verdict == "regression"
    assert p.significance.p_value is not None and p.significance.p_value < sig.ALPHA
    assert p.significance.n_before == p.significance.n_after == CASES * REPEAT
    assert cmp.verdict == "regressed" and cmp.exit_code == 1
    assert cmp.significant("regression")[0].startswith("p: regression (p ")
    # no single case's 50 samples can show 5 points: the suite is what finds it
    assert not any(c.significance and c.significance.verdict == "regression" for c in cmp.cases)
    assert cmp.notes == []


@pytest.mark.slow
def test_the_drop_is_found_in_most_runs_power_over_seeds() -> None:
    found = sum(_compare(s, 0.90, 0.85)[0] == "regression" for s in range(100))
    assert found >= 90, found  # power of the stratified test here: about 0.98


def test_sampling_noise_is_not_flagged_and_flips_are() -> None:
    b = simulated_report("base-noise", [0.90] * CASES, REPEAT, gate=Gate("majority_pass"))
    h = simulated_report("head-noise", [0.90] * CASES, REPEAT, gate=Gate("majority_pass"))
    strict = diff_reports("main", b, h, "significant_regression")
    assert strict.verdict == "unchanged" and strict.exit_code == 0
    assert strict.prompts[0].significance is not None
    assert strict.prompts[0].significance.verdict == "no significant change"
    # the same two runs once per case: flips happen, the flip rule fails, the test does not
    b1 = simulated_report("base-once", [0.8] * CASES, 1)
    h1 = simulated_report("head-once", [0.8] * CASES, 1)
    flips = diff_reports("main", b1, h1, "regression")
    assert flips.regressions and flips.verdict == "regressed"
    assert flips.notes and "may be sampling noise" in flips.notes[0]
    tested = diff_reports("main", b1, h1, "significant_regression")
    assert tested.verdict in ("unchanged", "improved") and tested.exit_code == 0


@pytest.mark.slow
@pytest.mark.parametrize("rate", [0.90, 0.60])
def test_false_positive_rate_over_seeds_stays_at_the_level(rate: float) -> None:
    """Both sides the same model: the gate fails in about 5% of runs (the suite's test
    at 0.05, the cases' tests Holm-adjusted on top), never far above."""
    runs = 250
    suite = gate = 0
    for s in range(runs):
        sv, gv = _compare(1000 + s, rate, rate)
        suite += sv != "no significant change"
        gate += gv == "regressed"
    assert suite / runs <= 0.08, suite  # 0.05 expected; 0.08 is 2.4 standard errors above
    assert gate / runs <= 0.06, gate  # only regressions fail: about half the suite's


def test_scores_are_tested_under_a_weighted_gate() -> None:
    rng = random.Random(9)

    def side(mean: float) -> list[sig.Outcomes]:
        return [
            sig.Outcomes(scores=tuple(min(1, max(0, rng.gauss(mean, 0.2))) for _ in range(20)))
            for _ in range(10)
        ]

    worse = sig.judge_suite(list(zip(side(0.8), side(0.7))), "score")
    assert worse.test == "van-elteren" and worse.verdict == "regression"
    fp = sum(
        sig.judge_suite(list(zip(side(0.8), side(0.8))), "score").verdict != "no significant change"
        for _ in range(200)
    )
    assert fp <= 16, fp
    b = simulated_report("wb", [0.9] * 10, 20, gate=Gate("weighted", 0.8))
    h = simulated_report("wh", [0.6] * 10, 20, gate=Gate("weighted", 0.8))
    (p,) = diff_reports("main", b, h, "significant_regression").prompts
    assert p.significance is not None and p.significance.metric == "score"
    assert p.significance.test == "van-elteren" and p.significance.verdict == "regression"


def test_the_ci_verdict_under_significant_regression() -> None:
    from loomgit.report.ci_result import CaseChange, CiReport, PromptChange, noise_notes

    worse = sig.judge_suite(
        [(sig.Outcomes((True,) * 50), sig.Outcomes((True,) * 20 + (False,) * 30))]
    )
    same = sig.judge_suite([(sig.Outcomes((True,) * 50), sig.Outcomes((True,) * 49 + (False,)))])
    flip = CaseChange("c", "echo", "passed", "failed", significance=same)
    down = CaseChange("d", "echo", "passed", "error")  # nothing to test at the head

    def report(*prompts: PromptChange, fail_on: str = "significant_regression") -> CiReport:
        return CiReport("a" * 40, "b" * 40, "main", "#1", fail_on, prompts)

    assert (
        report(PromptChange("p", "p.prompt", "modified", cases=(flip,), significance=same)).verdict
        == "passed"
    )
    assert (
        report(
            PromptChange("p", "p.prompt", "modified", cases=(flip,)), fail_on="regression"
        ).verdict
        == "failed"
    )
    bad = report(PromptChange("p", "p.prompt", "modified", cases=(flip,), significance=worse))
    assert bad.verdict == "failed" and bad.exit_code == 1
    assert bad.failure_reasons() == [f"p: the suite: {worse.describe()}"]
    assert report(PromptChange("p", "p.prompt", "modified", cases=(flip, down))).verdict == "error"
    # the notes: no repeats, or repeats judged by the flip rule
    once = PromptChange(
        "p", "p.prompt", "modified", cases=(CaseChange("c", "echo", "passed", "failed"),)
    )
    assert "may be sampling noise" in noise_notes([once], "regression")[0]
    assert (
        "significant_regression"
        in noise_notes([PromptChange("p", "p.prompt", "modified", cases=(flip,))], "regression")[0]
    )
    assert (
        noise_notes(
            [PromptChange("p", "p.prompt", "modified", cases=(flip,))], "significant_regression"
        )
        == ()
    )
