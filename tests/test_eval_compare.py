"""`loomgit eval --compare BASE` and `--changed` on real git histories (offline, echo)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import SUMMARIZE, GitRepo

SUITE = """providers: [echo]
cases:
  - name: fire
    vars: {ticket: "Printer on floor 3 is on fire"}
    assert: [{icontains: fire}]
  - name: casual
    vars: {ticket: "Coffee machine is empty", tone: casual}
    assert: [{contains: casual}]
"""
OTHER = "---\nvariables:\n  q: {type: string}\n---\nAnswer: {{ q }}\n"
OTHER_SUITE = (
    "providers: [echo]\ncases:\n  - name: q\n    vars: {q: why}\n    assert: [{contains: why}]\n"
)


@pytest.fixture
def hist(sample_repo: GitRepo) -> GitRepo:
    sample_repo.commit(
        "suites",
        {
            "prompts/support/summarize.tests.yaml": SUITE,
            "prompts/other.prompt": OTHER,
            "prompts/other.tests.yaml": OTHER_SUITE,
        },
    )
    return sample_repo


def compare(cli: Any, repo: GitRepo, *args: str) -> tuple[int, dict[str, Any]]:
    r = cli(["eval", "--compare", *args, "--json"], cwd=repo.path)
    assert r.out, r.err
    return r.exit_code, json.loads(r.out)


def test_a_broken_prompt_is_a_regression(hist: GitRepo, cli: Any) -> None:
    hist.write(
        {
            "prompts/support/summarize.prompt": SUMMARIZE.replace(
                "Answer in a {{ tone }} tone.", "Answer briefly.{# {{ tone }} #}"
            )
        }
    )
    r = cli(["eval", "--compare", "HEAD"], cwd=hist.path)
    assert r.exit_code == 1, r.err
    lines = r.out.splitlines()
    assert lines[0] == "unchanged since HEAD (not evaluated): other"
    assert lines[2].split()[:2] == ["support/summarize", "1.0.0"]
    assert "100% → 50%  1.00 → 0.50  passed → failed  1            0" in lines[2]
    assert any(
        ln.startswith(
            "regression  support/summarize  casual  echo      1.00 → 0.00  "
            "contains: does not contain 'casual'"
        )
        for ln in lines
    ), r.out
    assert lines[-1] == "regressed: 1 regressions, 0 fixes against HEAD"
    assert lines[-3] == (
        "support/summarize: no significant change (p = 1.000, stratified exact test; "
        "pass rate 100.0% → 50.0%, 2 → 2 samples)"
    )
    assert lines[-2].startswith("note: each case ran once per side, so a case that flipped")
    code, data = compare(cli, hist, "HEAD")
    assert code == 1 and data["verdict"] == "regressed" and data["regressions"] == 1
    (p,) = data["prompts"]
    assert p["before"]["version"] == "1.0.0" and p["after"]["version"].startswith("1.1.0-dev+")
    assert p["before"]["status"] == "passed" and p["after"]["status"] == "failed"
    changes = {
        c["case"]: (c["change"], c["before"]["score"], c["after"]["score"], c["delta"])
        for c in data["cases"]
    }
    assert changes == {"fire": ("same", 1.0, 1.0, 0.0), "casual": ("regression", 1.0, 0.0, -1.0)}
    assert data["unchanged_prompts"] == ["other"]
    assert data["before"]["summary"]["passed"] == 2 and data["after"]["summary"]["failed"] == 1


def test_a_fix_against_an_older_commit(hist: GitRepo, cli: Any) -> None:
    broken = SUMMARIZE.replace("Answer in a {{ tone }} tone.", "Answer briefly.{# {{ tone }} #}")
    hist.commit("break it", {"prompts/support/summarize.prompt": broken})
    base = hist.git("rev-parse", "HEAD")
    hist.commit("fix it", {"prompts/support/summarize.prompt": SUMMARIZE + "\n"})
    code, data = compare(cli, hist, base)
    assert code == 0 and data["verdict"] == "improved" and data["fixes"] == 1
    assert [c["case"] for c in data["cases"] if c["change"] == "fix"] == ["casual"]
    md = hist.path / "cmp.md"
    r = cli(["eval", "--compare", base, "--markdown", str(md)], cwd=hist.path)
    assert r.exit_code == 0 and "improved: 0 regressions, 1 fixes" in r.out
    text = md.read_text()
    assert text.startswith("### loomgit eval --compare: ✅ improved")
    assert "| `support/summarize` |" in text and "| casual | echo | fix | 0.00 → 1.00 |" in text


def test_metadata_only_change_is_not_evaluated(hist: GitRepo, cli: Any) -> None:
    hist.write(
        {
            "prompts/support/summarize.prompt": SUMMARIZE.replace(
                "description: Summarize a support ticket", "description: Other words"
            )
        }
    )
    code, data = compare(cli, hist, "HEAD")
    assert code == 0 and data["verdict"] == "unchanged"
    assert data["prompts"] == [] and data["unchanged_prompts"] == ["other", "support/summarize"]
    r = cli(["eval", "--compare", "HEAD"], cwd=hist.path)
    assert r.out.splitlines()[-1] == "no prompt with a suite changed since HEAD"
    # named explicitly, it is evaluated anyway
    code, data = compare(cli, hist, "HEAD", "support/summarize")
    assert [p["prompt"] for p in data["prompts"]] == ["support/summarize"]


def test_a_changed_include_changes_the_prompt(hist: GitRepo, cli: Any) -> None:
    hist.commit(
        "partial",
        {
            "loomgit.yaml": "includes: [partials/]\n",
            "partials/tone.md": "Answer in a {{ tone }} tone.",
            "prompts/support/summarize.prompt": SUMMARIZE.replace(
                "Answer in a {{ tone }} tone.", '{% include "partials/tone.md" %}'
            ),
        },
    )
    hist.write({"partials/tone.md": "Answer politely."})
    code, data = compare(cli, hist, "HEAD")
    assert code == 1, data
    assert [p["prompt"] for p in data["prompts"]] == ["support/summarize"]
    r = cli(["eval", "--changed", "--base", "HEAD", "--json"], cwd=hist.path)
    assert [x["prompt"] for x in json.loads(r.out)["suites"]] == ["support/summarize"]


def test_a_new_prompt_has_no_baseline(hist: GitRepo, cli: Any) -> None:
    hist.write(
        {
            "prompts/new.prompt": OTHER,
            "prompts/new.tests.yaml": OTHER_SUITE.replace("contains: why", "contains: nope"),
        }
    )
    code, data = compare(cli, hist, "HEAD")
    assert code == 1 and data["verdict"] == "regressed"  # its gate fails and did not before
    (p,) = data["prompts"]
    assert p["prompt"] == "new" and p["before"]["status"] is None and p["gate_regressed"]
    assert [c["change"] for c in data["cases"]] == ["new"]


def test_compare_usage_errors(hist: GitRepo, cli: Any) -> None:
    r = cli(["eval", "--compare", "no-such-branch"], cwd=hist.path)
    assert r.exit_code == 2
    assert r.err.strip() == (
        "loomgit: error: --compare 'no-such-branch': no such commit, branch "
        "or tag (in CI, check out with fetch-depth: 0)"
    )
    assert cli(["eval", "--compare", "HEAD", "--changed"], cwd=hist.path).exit_code == 2
    assert cli(["eval", "--base", "HEAD"], cwd=hist.path).exit_code == 2


def test_changed_selects_by_git_diff(hist: GitRepo, cli: Any) -> None:
    r = cli(["eval", "--changed", "--base", "HEAD"], cwd=hist.path)
    assert r.exit_code == 0 and r.err.strip() == "no test suites changed since HEAD"
    hist.write({"prompts/other.tests.yaml": OTHER_SUITE + "  - name: extra\n    vars: {q: x}\n"})
    r = cli(["eval", "--changed", "--base", "HEAD", "--json"], cwd=hist.path)
    data = json.loads(r.out)
    assert [s["prompt"] for s in data["suites"]] == ["other"] and data["summary"]["cases"] == 2
    r = cli(["eval", "--changed", "--json"], cwd=hist.path)  # the base defaults to main
    assert [s["prompt"] for s in json.loads(r.out)["suites"]] == ["other"]
