"""The comment step of the action, ``loomgit ci --comment-only``, in-process: the comment
from an earlier run's report with the artifact link, no evaluation, the ``comment-url``
output; the groups of cases in the Markdown; the action inputs' bad values (the corpus
under tests/corpus/ci/inputs), each one line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo
from github_api import TOKEN, FakeGitHub, read_outputs

from loomgit.report import pr_comment
from loomgit.report.ci_result import CaseChange, CiReport, PromptChange

CORPUS = Path(__file__).resolve().parent / "corpus" / "ci" / "inputs"
ARTIFACT = "https://github.com/octo/p/actions/runs/9/artifacts/77"

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


def _env(
    monkeypatch: pytest.MonkeyPatch, tmp: Path, fake: FakeGitHub, repo: GitRepo | None
) -> dict[str, Path]:
    event: dict[str, Any] = {"ref": "refs/heads/pr"}
    if repo is not None:
        base, head = repo.git("rev-parse", "main"), repo.git("rev-parse", "HEAD")
        event = {
            "number": 3,
            "pull_request": {
                "number": 3,
                "base": {"ref": "main", "sha": base, "repo": {"full_name": "octo/p"}},
                "head": {"ref": "pr", "sha": head, "repo": {"full_name": "octo/p"}},
            },
        }
    files = {k: tmp / k for k in ("event.json", "summary.md", "output")}
    files["event.json"].write_text(json.dumps(event))
    files["summary.md"].write_text("")
    files["output"].write_text("")
    for k, v in {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request" if repo is not None else "push",
        "GITHUB_EVENT_PATH": str(files["event.json"]),
        "GITHUB_REPOSITORY": "octo/p",
        "GITHUB_API_URL": fake.url,
        "GITHUB_RUN_ID": "9",
        "GITHUB_STEP_SUMMARY": str(files["summary.md"]),
        "GITHUB_OUTPUT": str(files["output"]),
        "RUNNER_TEMP": str(tmp),
        "GITHUB_TOKEN": TOKEN,
    }.items():
        monkeypatch.setenv(k, v)
    return files


@pytest.fixture
def pr(repo: GitRepo) -> GitRepo:
    repo.commit("a", {"prompts/a.prompt": PROMPT, "prompts/a.tests.yaml": SUITE})
    repo.git("checkout", "-q", "-b", "pr")
    repo.commit("a: bye", {"prompts/a.prompt": PROMPT.replace("Say hello", "Say bye")})
    return repo


def test_the_comment_step_posts_the_earlier_report_with_the_artifact_link(
    pr: GitRepo,
    cli: Any,
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = _env(monkeypatch, tmp_path, fake_github, pr)
    r = cli(["ci", "--no-comment"], cwd=pr.path)
    assert r.exit_code == 1 and fake_github.seen == []  # evaluated, nothing posted
    report = (tmp_path / "loomgit" / "report.md").read_text()
    files["output"].write_text("")

    (pr.path / "prompts" / "a.prompt").unlink()  # nothing is evaluated again
    monkeypatch.setenv("LOOMGIT_CI_ARTIFACT_URL", ARTIFACT)
    r = cli(["ci", "--comment-only"], cwd=pr.path)
    assert r.exit_code == 0, r.err
    [comment] = fake_github.comments[3]
    head, rest = report.split("\n", 1)
    assert comment["body"] == (
        f"<!-- loomgit-ci:loomgit -->\n{head}\n\n{pr_comment.artifact_line(ARTIFACT)}\n{rest}"
    )
    assert read_outputs(files["output"]) == {"comment-url": comment["html_url"]}
    assert f"comment: {comment['html_url']}" in r.out
    assert files["summary.md"].read_text().endswith(pr_comment.artifact_line(ARTIFACT) + "\n")
    assert [c.split()[0] for c in fake_github.calls()] == ["GET", "POST"]

    monkeypatch.setenv("LOOMGIT_CI_COMMENT", "false")
    r = cli(["ci", "--comment-only"], cwd=pr.path)
    assert r.exit_code == 0 and len(fake_github.seen) == 2  # comment: false posts nothing


def test_the_comment_step_without_a_report_or_a_pull_request(
    pr: GitRepo,
    cli: Any,
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _env(monkeypatch, tmp_path, fake_github, pr)
    r = cli(["ci", "--comment-only"], cwd=pr.path)
    assert r.exit_code == 2
    assert "no report to comment with" in r.err and "run `loomgit ci` first" in r.err
    assert len(r.err.strip().splitlines()) == 1 and fake_github.seen == []

    _env(monkeypatch, tmp_path, fake_github, None)  # a push: no pull request to comment on
    assert cli(["ci", "--no-comment", "--base", "main"], cwd=pr.path).exit_code == 1
    r = cli(["ci", "--comment-only"], cwd=pr.path)
    assert r.exit_code == 0 and "::warning::no pull request in this push event" in r.out
    assert fake_github.seen == []


def _corpus_env(name: str) -> dict[str, str]:
    text = (CORPUS / name).read_text(encoding="utf-8")
    return dict(line.split("=", 1) for line in text.splitlines() if line.strip())


INPUT_CORPUS = {
    "offline-model-shell.env": (["ci", "--no-comment"], "offline-model 'echo; rm -rf ~'"),
    "artifact-url-javascript.env": (["ci", "--comment-only"], "is not an http(s) URL"),
    "artifact-url-markdown.env": (["ci", "--comment-only"], "is not an http(s) URL"),
    "comment-key-marker.env": (["ci", "--comment-only"], "a key -->"),
}


@pytest.mark.parametrize("name", sorted(INPUT_CORPUS))
def test_bad_action_inputs_are_one_line_and_exit_2(
    name: str,
    pr: GitRepo,
    cli: Any,
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _env(monkeypatch, tmp_path, fake_github, pr)
    (tmp_path / "loomgit").mkdir()
    (tmp_path / "loomgit" / "report.md").write_text("## ✅ loomgit: fine\n")
    (tmp_path / "loomgit" / "report.json").write_text('{"prompts": []}')
    for k, v in _corpus_env(name).items():
        monkeypatch.setenv(k, v)
    args, fragment = INPUT_CORPUS[name]
    r = cli(args, cwd=pr.path)
    assert r.exit_code == 2, (r.out, r.err)
    [line] = r.err.strip().splitlines()
    assert fragment in line and "Traceback" not in r.err
    assert fake_github.seen == []


def test_every_input_corpus_file_is_tested() -> None:
    assert {p.name for p in CORPUS.iterdir()} == set(INPUT_CORPUS)


# --------------------------------------------------------------------------- the Markdown

ATTACKS = [
    "</summary></details><h1>All prompts passed ✅</h1>",
    "<!-- hide the rest",
    "<img src=x onerror=alert(1)> @octocat https://evil.example",
    'a"b\u202eevil\u200b',
]


def _report(case: str, why: str) -> CiReport:
    cases = (
        CaseChange(case, "echo", "passed", "failed", 1.0, 0.0, "old", "new", "", why, 3),
        CaseChange("same-pass", "echo", "passed", "passed"),
        CaseChange("same-fail", "echo", "failed", "failed", why_after="still"),
        CaseChange("fixed", "echo", "failed", "passed", output_after="good"),
    )
    p = PromptChange("a", "prompts/a.prompt", "modified", "prompts/a.tests.yaml", cases=cases)
    return CiReport("a" * 40, "b" * 40, "main", "#3", "regression", (p,))


def _render(md: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table"]).render(md)


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_regressed_case_summary_line_stays_text(attack: str) -> None:
    md = pr_comment.render(_report(attack, attack))
    html = _render(md)
    outside = html.split("<pre>")[0]  # before the first output block
    for tag in ("<h1", "<img", "<!--", "<a "):
        assert tag not in outside, (attack, outside)
    assert html.count("<details>") == html.count("</details>") == 3  # regression, fixes, same
    assert "@octocat" not in outside and "\u202e" not in md


def test_the_groups_in_order_with_the_regressed_outputs_folded() -> None:
    md = pr_comment.render(_report("broke", "contains: 'x' not found"))
    order = [md.index(x) for x in ("❌ Regressions", "✅ Fixes", "Unchanged (2)")]
    assert order == sorted(order)
    summary = "<details><summary>❌ broke · echo: contains: 'x' not found</summary>"
    block = md.split(summary)[1].split("</details>")[0]
    assert block.index("Base:") < block.index("old") < block.index("Head:") < block.index("new")
    unchanged = md.split("Unchanged (2): 1 pass, 1 still fail</summary>")[1]
    assert unchanged.index("same\\-fail") < unchanged.index("same\\-pass")
    assert "Outputs of the fixes" in md and "good" in md.split("Outputs of the fixes")[1]


def test_the_artifact_line_goes_under_the_headline() -> None:
    md = pr_comment.render(_report("broke", "why"))
    linked = pr_comment.link_artifact(md, ARTIFACT).split("\n")
    assert linked[0] == md.split("\n")[0] and linked[1] == ""
    assert linked[2] == pr_comment.artifact_line(ARTIFACT)
    assert "\n".join(linked[3:]) == md.split("\n", 1)[1]
