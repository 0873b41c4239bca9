"""``loomgit ci`` in-process on real repositories: which prompts it evaluates (changed,
added, deleted, suite-only, renders-the-same, the ``prompts`` filter), offline providers,
events without a pull request, a missing token, and reports too big for a comment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo
from test_ci_github import TOKEN, FakeGitHub

import loomgit

PROMPT = """---
model: openai/gpt-4o-mini
variables:
  name: {type: string, required: true}
---
Say hello to {{ name }}.
"""
SUITE = """providers: [echo]
cases:
  - name: greets
    vars: {name: Ada}
    assert:
      - contains: hello
"""


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    f = FakeGitHub().start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture
def two(repo: GitRepo) -> GitRepo:
    """Two prompts with suites on main; the test then works on a branch."""
    repo.commit(
        "two prompts",
        {
            "prompts/a.prompt": PROMPT,
            "prompts/a.tests.yaml": SUITE,
            "prompts/b.prompt": PROMPT,
            "prompts/b.tests.yaml": SUITE,
        },
    )
    repo.git("checkout", "-q", "-b", "pr")
    return repo


def run_json(cli: Any, repo: GitRepo, *args: str) -> tuple[int, dict[str, Any], str]:
    r = cli(["ci", "--base", "main", "--no-comment", "--json", *args], cwd=repo.path)
    assert r.out, r.err
    return r.exit_code, json.loads(r.out), r.err


def by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in data["prompts"]}


def test_only_changed_prompts_are_evaluated(two: GitRepo, cli: Any) -> None:
    two.commit("a: louder", {"prompts/a.prompt": PROMPT.replace("Say hello", "Shout hello")})
    code, data, _ = run_json(cli, two)
    assert code == 0 and list(by_id(data)) == ["a"]
    a = by_id(data)["a"]
    assert a["status"] == "modified" and a["bump"] == "minor"
    assert (a["before"]["gate"], a["after"]["gate"]) == ("passed", "passed")
    assert a["cases"][0]["change"] == "unchanged"


def test_added_deleted_and_suite_only_changes(two: GitRepo, cli: Any) -> None:
    two.commit(
        "c new, b gone, a gets a case",
        {
            "prompts/c.prompt": PROMPT,
            "prompts/c.tests.yaml": SUITE,
            "prompts/a.tests.yaml": SUITE + "  - name: polite\n    vars: {name: Bo}\n"
            "    assert:\n      - contains: please\n",
        },
    )
    two.git("rm", "-q", "prompts/b.prompt", "prompts/b.tests.yaml")
    two.commit("b gone")
    code, data, _ = run_json(cli, two)
    p = by_id(data)
    assert p["c"]["status"] == "added" and p["c"]["bump"] == "initial"
    assert p["c"]["before"]["gate"] is None and p["c"]["cases"][0]["change"] == "new"
    assert p["b"]["status"] == "deleted" and p["b"]["note"] == "deleted in this pull request"
    # a's prompt did not change, its suite did: both sides run the new suite's cases
    assert p["a"]["status"] == "suite"
    polite = [c for c in p["a"]["cases"] if c["case"] == "polite"][0]
    assert (polite["before"], polite["after"], polite["change"]) == (
        "failed",
        "failed",
        "unchanged",
    )
    assert code == 0  # nothing that passed before fails now


def test_an_edit_that_renders_the_same_is_listed_but_not_evaluated(two: GitRepo, cli: Any) -> None:
    two.commit(
        "a: describe",
        {"prompts/a.prompt": PROMPT.replace("---\nmodel", "---\ndescription: greeter\nmodel")},
    )
    code, data, _ = run_json(cli, two)
    a = by_id(data)["a"]
    assert "renders the same messages" in a["note"] and a["cases"] == []
    assert code == 0 and data["verdict"] == "passed"


def test_the_prompts_input_limits_what_is_checked(two: GitRepo, cli: Any) -> None:
    two.commit(
        "both",
        {
            "prompts/a.prompt": PROMPT.replace("Say", "Shout"),
            "prompts/b.prompt": PROMPT.replace("Say hello", "Say bye"),
        },
    )
    _, data, _ = run_json(cli, two, "--prompts", "b")
    assert list(by_id(data)) == ["b"]
    code, data, _ = run_json(cli, two, "--prompts", "prompts/*.prompt")
    assert sorted(by_id(data)) == ["a", "b"]
    assert code == 1 and by_id(data)["b"]["regressions"] == 1  # "bye" lost the hello


def test_offline_uses_replay_where_recordings_exist_else_echo(repo: GitRepo, cli: Any) -> None:
    suite = SUITE.replace("providers: [echo]\n", "")  # the prompt's model: openai/gpt-4o-mini
    repo.commit("a", {"prompts/a.prompt": PROMPT, "prompts/a.tests.yaml": suite})
    repo.git("checkout", "-q", "-b", "pr")
    repo.commit("a2", {"prompts/a.prompt": PROMPT.replace("Say", "Shout")})
    _, data, err = run_json(cli, repo, "--offline", "true")
    assert data["offline"] == "the workflow set `offline: true`"
    assert by_id(data)["a"]["cases"][0]["provider"] == "echo"
    assert "evaluated with the offline providers" in err
    rec = repo.path / ".loomgit" / "recordings" / "openai" / "gpt-4o-mini"
    rec.mkdir(parents=True)
    (rec / "0123.json").write_text("{}")
    _, data, _ = run_json(cli, repo, "--offline", "true")
    [case] = by_id(data)["a"]["cases"]
    assert case["provider"] == "replay/openai/gpt-4o-mini"
    assert case["after"] == "error" and "no recording" in case["why_after"]


def _gh_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fake: FakeGitHub,
    event: dict[str, Any],
    name: str = "pull_request",
    token: str | None = TOKEN,
) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    summary = tmp_path / "summary.md"
    summary.write_text("")
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": name,
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REPOSITORY": "octo/p",
        "GITHUB_API_URL": fake.url,
        "GITHUB_RUN_ID": "9",
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(tmp_path),
    }
    if token:
        env["GITHUB_TOKEN"] = token
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return summary


def _pr_event(repo: GitRepo) -> dict[str, Any]:
    base = repo.git("rev-parse", "main")
    head = repo.git("rev-parse", "HEAD")
    return {
        "number": 3,
        "pull_request": {
            "number": 3,
            "base": {"ref": "main", "sha": base, "repo": {"full_name": "octo/p"}},
            "head": {"ref": "pr", "sha": head, "repo": {"full_name": "octo/p"}},
        },
    }


def test_a_push_event_writes_the_summary_and_warns_there_is_no_pull_request(
    two: GitRepo, cli: Any, fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two.commit("a", {"prompts/a.prompt": PROMPT.replace("Say", "Shout")})
    summary = _gh_env(monkeypatch, tmp_path, fake, {"ref": "refs/heads/pr"}, name="push")
    r = cli(["ci", "--base", "main"], cwd=two.path)
    assert r.exit_code == 0
    assert "::warning::no pull request in this push event" in r.out
    assert "✅ loomgit: no regressions in 1 changed prompt" in summary.read_text()
    assert fake.seen == []


def test_without_a_token_the_report_stays_in_the_summary(
    two: GitRepo, cli: Any, fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two.commit("a", {"prompts/a.prompt": PROMPT.replace("Say", "Shout")})
    summary = _gh_env(monkeypatch, tmp_path, fake, _pr_event(two), token=None)
    r = cli(["ci"], cwd=two.path)
    assert r.exit_code == 0 and "::warning::no GITHUB_TOKEN" in r.out
    assert summary.read_text() and fake.seen == []


def test_pull_request_target_is_warned_about(
    two: GitRepo, cli: Any, fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two.commit("a", {"prompts/a.prompt": PROMPT.replace("Say", "Shout")})
    _gh_env(monkeypatch, tmp_path, fake, _pr_event(two), name="pull_request_target")
    r = cli(["ci", "--no-comment"], cwd=two.path)
    assert "::warning::running on pull_request_target" in r.out
    r = cli(["ci", "--no-comment", "--allow-python"], cwd=two.path)
    assert r.exit_code == 2 and "allow-python on pull_request_target" in r.err


def test_a_huge_report_is_cut_in_the_comment_and_whole_in_the_report_file(
    repo: GitRepo, cli: Any, fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = "".join(
        f'  - name: case-{i:03}\n    vars: {{name: "{"x" * 1400} {i}"}}\n'
        f"    assert:\n      - contains: hello\n"
        for i in range(60)
    )
    repo.commit(
        "big",
        {"prompts/a.prompt": PROMPT, "prompts/a.tests.yaml": "providers: [echo]\ncases:\n" + cases},
    )
    repo.git("checkout", "-q", "-b", "pr")
    repo.commit("break all", {"prompts/a.prompt": PROMPT.replace("Say hello", "Say bye")})
    summary = _gh_env(monkeypatch, tmp_path, fake, _pr_event(repo))
    r = cli(["ci"], cwd=repo.path)
    assert r.exit_code == 1
    [comment] = fake.comments[3]
    body = comment["body"]
    assert len(body.encode("utf-16-le")) // 2 <= 65_536
    assert "cut to fit GitHub's 65,536-character limit" in body
    assert "[job summary](https://github.com/octo/p/actions/runs/9)" in body
    assert body.count("```") % 2 == 0
    report = (tmp_path / "loomgit" / "report.md").read_text()
    assert len(report) > 65_536 and report in summary.read_text()
    assert "60 regressions" in body and "case\\-049" in report and "… 10 more" in report
    assert {s.headers["User-Agent"] for s in fake.seen} == {f"loomgit/{loomgit.__version__}"}


def test_no_changed_prompt_opens_no_comment_but_refreshes_an_old_one(
    two: GitRepo, cli: Any, fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two.commit("docs only", {"README.md": "hello"})
    _gh_env(monkeypatch, tmp_path, fake, _pr_event(two))
    r = cli(["ci"], cwd=two.path)
    assert r.exit_code == 0 and "no prompt or suite changed" in r.out
    assert fake.comments == {}  # nothing to say, nothing opened
    fake.seed(3, [("<!-- loomgit-ci:loomgit -->\n❌ 1 regression (an earlier push)", "Bot")])
    r = cli(["ci"], cwd=two.path)
    [c] = fake.comments[3]
    assert "no prompt or suite changed" in c["body"] and "earlier push" not in c["body"]


def test_bad_input_is_also_reported_in_the_summary_and_outputs(
    two: GitRepo, cli: Any, fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = _gh_env(monkeypatch, tmp_path, fake, _pr_event(two))
    output = tmp_path / "output"
    output.write_text("")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("LOOMGIT_CI_ARGS", "--repeat 2 --junit x.xml")
    r = cli(["ci"], cwd=two.path)
    assert r.exit_code == 2 and "--junit cannot be used with loomgit ci" in r.err
    assert "could not run the check" in summary.read_text()
    assert "--junit cannot be used" in summary.read_text()
    assert "passed<<ghadelimiter_" in output.read_text()
