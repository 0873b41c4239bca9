"""Regressions told apart from noise, end to end: ``loomgit eval --compare`` and ``loomgit
ci`` against a simulated noisy model of known pass rates served on 127.0.0.1
(tests/noisy_model.py), with ``--repeat``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import GitRepo
from noisy_model import NoisyModel

CASES = 30


def prompt(rate: int, extra: str = "") -> str:
    return f"""---
model: noisy/sim
variables:
  item: {{type: string}}
---
system:
pass rate: {rate}%{extra}

user:
Is {{{{ item }}}} fine? Answer yes or no.
"""


def suite(gate: str = "all_pass") -> str:
    return json.dumps(
        {
            "gate": gate,
            "cases": [
                {"name": f"c{i}", "vars": {"item": f"item {i}"}, "assert": [{"equals": "yes"}]}
                for i in range(CASES)
            ],
        }
    )


@pytest.fixture
def model() -> Iterator[NoisyModel]:
    with NoisyModel(seed=11) as m:
        yield m


@pytest.fixture
def noisy(repo: GitRepo, model: NoisyModel) -> GitRepo:
    repo.commit(
        "a prompt of known quality and its suite",
        {
            "loomgit.yaml": "providers:\n"
            f'  noisy: {{type: openai, base_url: "{model.url}", backoff_s: 0.01}}\n',
            "prompts/check.prompt": prompt(90),
            "prompts/check.tests.yaml": suite("majority_pass"),
        },
    )
    return repo


def compare(cli: Any, repo: GitRepo, *args: str) -> tuple[int, dict[str, Any]]:
    r = cli(["eval", "--compare", "HEAD", "--json", "--no-log", "-j", "8", *args], cwd=repo.path)
    assert r.out, r.err
    return r.exit_code, json.loads(r.out)


def test_a_five_point_drop_with_50_repeats_fails_the_significance_gate(
    noisy: GitRepo, cli: Any, tmp_path: Any
) -> None:
    noisy.write({"prompts/check.prompt": prompt(85)})
    md = tmp_path / "compare.md"
    code, data = compare(
        cli, noisy, "--repeat", "50", "--fail-on", "significant_regression", "--markdown", str(md)
    )
    assert "- `check`: regression (p " in md.read_text() and "Note:" not in md.read_text()
    (p,) = data["prompts"]
    s = p["significance"]
    assert s["verdict"] == "regression" and s["test"] == "cmh" and s["p_value"] < 0.05, s
    assert s["before"]["n"] == s["after"]["n"] == CASES * 50
    assert s["before"]["pass_rate"] > s["after"]["pass_rate"]
    assert (
        code == 1 and data["verdict"] == "regressed" and data["fail_on"] == "significant_regression"
    )
    assert data["significant_regressions"][0].startswith("check: regression (p ")
    assert data["notes"] == []
    # every case carries its own test; 50 samples cannot show 5 points in one case
    tests = [c["significance"] for c in data["cases"]]
    assert all(t["test"] == "fisher" and t["p_adjusted"] is not None for t in tests)
    assert all(t["verdict"] == "no significant change" for t in tests)
    # the human output says it, with the p-value
    r = cli(
        ["eval", "--compare", "HEAD", "--repeat", "50", "--fail-on", "significant_regression"],
        cwd=noisy.path,
    )
    assert r.exit_code == 1
    assert "check: regression (p " in r.out and "Cochran-Mantel-Haenszel test; pass rate" in r.out
    assert r.out.splitlines()[-1].startswith("regressed: ") and "1 significant regression" in r.out


def test_sampling_noise_is_no_significant_change(noisy: GitRepo, cli: Any) -> None:
    # the same model quality, worded differently: only noise separates the two sides
    noisy.write({"prompts/check.prompt": prompt(90, " (same model)")})
    code, data = compare(cli, noisy, "--repeat", "50", "--fail-on", "significant_regression")
    (p,) = data["prompts"]
    assert p["significance"]["verdict"] == "no significant change", p["significance"]
    assert p["significance"]["p_value"] >= 0.05
    assert code == 0 and data["verdict"] == "unchanged" and data["significant_regressions"] == []


def test_without_repeats_flips_fail_the_flip_rule_and_are_called_noise(
    noisy: GitRepo, cli: Any
) -> None:
    noisy.write({"prompts/check.prompt": prompt(90, " (same model)")})
    code, data = compare(cli, noisy)
    assert data["regressions"] >= 1 and code == 1  # same quality, yet cases flipped
    assert data["notes"] and "may be sampling noise" in data["notes"][0]
    assert all(c["significance"]["before"]["n"] == 1 for c in data["cases"])
    r = cli(["eval", "--compare", "HEAD"], cwd=noisy.path)
    assert (
        "note: each case ran once per side, so a case that flipped may be sampling noise" in r.out
    )
    code, data = compare(cli, noisy, "--fail-on", "significant_regression")
    assert code == 0 and data["verdict"] in ("unchanged", "improved")


def test_fail_on_needs_compare(noisy: GitRepo, cli: Any) -> None:
    r = cli(["eval", "--fail-on", "significant_regression"], cwd=noisy.path)
    assert (
        r.exit_code == 2 and r.err.strip() == "loomgit: error: --fail-on goes with --compare BASE"
    )


def ci_json(cli: Any, repo: GitRepo, *args: str) -> tuple[int, dict[str, Any]]:
    r = cli(["ci", "--base", "main", "--no-comment", "--json", *args], cwd=repo.path)
    assert r.out, r.err
    return r.exit_code, json.loads(r.out)


def test_ci_judges_the_pull_request_with_the_significance_gate(
    noisy: GitRepo, cli: Any, tmp_path: Any
) -> None:
    noisy.git("checkout", "-q", "-b", "pr")
    noisy.commit("check: a worse prompt", {"prompts/check.prompt": prompt(85)})
    code, data = ci_json(
        cli,
        noisy,
        "--fail-on",
        "significant_regression",
        "--args",
        "--repeat 50 -j 8",
        "--report",
        str(tmp_path / "r.md"),
    )
    assert code == 1 and data["verdict"] == "failed"
    (p,) = data["prompts"]
    assert p["significance"]["verdict"] == "regression" and p["significance"]["p_value"] < 0.05
    assert p["significant_regressions"][0].startswith("check: the suite: regression (p ")
    assert all(c["significance"]["test"] == "fisher" for c in p["cases"])
    md = (tmp_path / "r.md").read_text()
    assert "a significant regression in 1 of 1 changed prompt" in md
    assert "Significance of the change: regression (p " in md
    why = md.split("**Why it fails**", 1)[1].split("|", 1)[0]
    assert "the suite" in why and "Cochran" in why


def test_ci_without_repeats_says_flips_may_be_noise(
    noisy: GitRepo, cli: Any, tmp_path: Any
) -> None:
    noisy.git("checkout", "-q", "-b", "pr")
    noisy.commit("check: reworded", {"prompts/check.prompt": prompt(90, " (same model)")})
    code, data = ci_json(cli, noisy, "--report", str(tmp_path / "r.md"))
    assert any("may be sampling noise" in n for n in data["notes"])
    assert "may be sampling noise" in (tmp_path / "r.md").read_text()
    code, data = ci_json(
        cli, noisy, "--fail-on", "significant_regression", "--report", str(tmp_path / "s.md")
    )
    assert code == 0 and data["verdict"] == "passed"
