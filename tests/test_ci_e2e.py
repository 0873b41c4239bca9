"""End to end, as on GitHub: real commits for a pull request's base and head (checked out
as GitHub does, the merge commit), a fake event file, the action's own ``ci`` step run by
bash with the env mapping from ``action.yml``, and a real HTTP server on 127.0.0.1
standing in for the GitHub API.

A pull request that breaks a prompt gets a summary, one comment (updated, not duplicated,
on the next push) and a failing exit code; one that improves a prompt passes with the
fixes listed; a fork's pull request runs offline and survives the 403 on its comment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import GitRepo
from test_ci_github import TOKEN, FakeGitHub

from loomgit import _yaml

ROOT = Path(__file__).resolve().parent.parent
LOOMGIT = Path(sys.executable).parent / "loomgit"

PROMPT = """---
description: Summarize a support ticket
model: openai/gpt-4o-mini
variables:
  ticket: {type: string, required: true}
  tone: {type: string, enum: [formal, casual], default: formal}
---
system:
You are an on-call assistant. Answer in a {{ tone }} tone.

user:
Summarize this ticket: {{ ticket }}
"""

SUITE = """providers: [echo]
gate: all_pass
cases:
  - name: fire
    vars: {ticket: "Printer on floor 3 is on fire"}
    assert:
      - icontains: fire
  - name: casual
    vars: {ticket: "Coffee machine is empty", tone: casual}
    assert:
      - contains: casual
  - name: urgent
    vars: {ticket: "Server room flooded"}
    assert:
      - contains: URGENT
"""

BREAK = PROMPT.replace("Answer in a {{ tone }} tone.", "Answer briefly.")
IMPROVE = PROMPT.replace("Summarize this ticket:", "Flag URGENT problems. Summarize this ticket:")


@dataclass
class Run:
    code: int
    out: str
    err: str
    summary: str
    outputs: dict[str, str]


class PullRequestSim:
    """A repository with main and a pull request branch, and the runner's files."""

    def __init__(self, tmp: Path, fake: FakeGitHub) -> None:
        self.tmp = tmp
        self.fake = fake
        self.repo = GitRepo(tmp / "repo")
        self.base = self.repo.commit(
            "add summarize prompt and suite",
            {
                "prompts/support/summarize.prompt": PROMPT,
                "prompts/support/summarize.tests.yaml": SUITE,
            },
        )
        self.runner_temp = tmp / "runner-temp"
        (self.runner_temp / "loomgit-venv" / "bin").mkdir(parents=True)
        # the action's install step puts loomgit here; this test uses the one under test
        (self.runner_temp / "loomgit-venv" / "bin" / "loomgit").symlink_to(LOOMGIT)
        self.runs = 0

    def push(self, branch: str, files: dict[str, str], message: str) -> str:
        """Commit on the PR branch and check out the merge commit, as actions/checkout does."""
        if self.repo.git("branch", "--list", branch):
            self.repo.git("checkout", "-q", branch)
        else:
            self.repo.git("checkout", "-q", "-b", branch, self.base)
        head = self.repo.commit(message, files)
        self.repo.git("checkout", "-q", "--detach", self.base)
        self.repo.git("merge", "-q", "--no-ff", "-m", f"Merge {head} into {self.base}", head)
        return head

    def run_action(
        self,
        head: str,
        *,
        inputs: dict[str, str] | None = None,
        fork: bool = False,
        extra_env: dict[str, str] | None = None,
    ) -> Run:
        """Run the ``ci`` step of action.yml the way the runner does."""
        self.runs += 1
        event = {
            "action": "synchronize",
            "number": 12,
            "pull_request": {
                "number": 12,
                "base": {"ref": "main", "sha": self.base, "repo": {"full_name": "octo/prompts"}},
                "head": {
                    "ref": "feature",
                    "sha": head,
                    "repo": {"full_name": "mallory/prompts" if fork else "octo/prompts"},
                },
            },
        }
        event_path = self.tmp / f"event-{self.runs}.json"
        event_path.write_text(json.dumps(event))
        summary = self.tmp / f"summary-{self.runs}.md"
        output = self.tmp / f"output-{self.runs}"
        summary.write_text("")
        output.write_text("")
        action = _yaml.plain(_yaml.load((ROOT / "action.yml").read_text()))
        [step] = [s for s in action["runs"]["steps"] if s.get("id") == "ci"]
        values = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
        values["github-token"] = TOKEN  # ${{ github.token }}
        values.update(inputs or {})

        def expr(text: str) -> str:
            return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: values[m.group(1)], text)

        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "LOOMGIT_CI_"))}
        env.update({k: expr(str(v)) for k, v in step["env"].items()})
        env.update(
            {
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_EVENT_NAME": "pull_request",
                "GITHUB_EVENT_PATH": str(event_path),
                "GITHUB_REPOSITORY": "octo/prompts",
                "GITHUB_API_URL": self.fake.url,
                "GITHUB_SERVER_URL": "https://github.com",
                "GITHUB_RUN_ID": str(1000 + self.runs),
                "GITHUB_RUN_ATTEMPT": "1",
                "GITHUB_BASE_REF": "main",
                "GITHUB_HEAD_REF": "feature",
                "GITHUB_STEP_SUMMARY": str(summary),
                "GITHUB_OUTPUT": str(output),
                "RUNNER_TEMP": str(self.runner_temp),
                **(extra_env or {}),
            }
        )
        cwd = self.repo.path / expr(step.get("working-directory", "."))
        p = subprocess.run(
            ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step["run"]],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Run(p.returncode, p.stdout, p.stderr, summary.read_text(), read_outputs(output))


def read_outputs(path: Path) -> dict[str, str]:
    from test_ci_github import read_outputs as parse

    return parse(path)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[PullRequestSim]:
    fake = FakeGitHub().start()
    try:
        yield PullRequestSim(tmp_path, fake)
    finally:
        fake.stop()


def everything_written(sim: PullRequestSim, run: Run) -> str:
    files = [p.read_text() for p in (sim.runner_temp / "loomgit").glob("*")]
    comments = [c["body"] for cs in sim.fake.comments.values() for c in cs]
    return "\n".join([run.out, run.err, run.summary, *run.outputs.values(), *files, *comments])


def test_a_pull_request_that_breaks_a_prompt_fails_with_one_updated_comment(
    sim: PullRequestSim,
) -> None:
    head = sim.push("break", {"prompts/support/summarize.prompt": BREAK}, "shorter system prompt")
    first = sim.run_action(head)
    assert first.code == 1, first.err
    assert first.outputs["passed"] == "false" and first.outputs["regressions"] == "1"
    assert first.outputs["fixes"] == "0"
    assert "❌ loomgit: 1 regression in 1 changed prompt" in first.summary
    assert "casual" in first.summary and "Regressions" in first.summary
    assert "67% → 33%" in first.summary  # fire and casual passed; urgent failed before
    # the regression is annotated on the case's line of the suite file
    line = SUITE.splitlines().index("  - name: casual") + 1
    assert (
        f"::error file=prompts/support/summarize.tests.yaml,line={line},title=loomgit regression::"
    ) in first.out
    [comment] = sim.fake.comments[12]
    comment = dict(comment)
    assert comment["body"].startswith("<!-- loomgit-ci:loomgit -->\n")
    assert "1 regression" in comment["body"]
    assert first.outputs["comment-url"] == comment["html_url"]
    report = Path(first.outputs["report-path"])
    assert report.read_text() in first.summary
    assert json.loads(report.with_suffix(".json").read_text())["regressions"] == 1

    # a second push: still broken, and the same comment is updated
    head2 = sim.push(
        "break",
        {"prompts/support/summarize.prompt": BREAK.replace("briefly", "very briefly")},
        "fix!: even shorter\n\nBREAKING CHANGE: answers lose their tone",
    )
    second = sim.run_action(head2)
    assert second.code == 1
    # the version bump and why: the breaking-change mark in a PR commit forces major
    data = json.loads(Path(second.outputs["report-path"]).with_suffix(".json").read_text())
    [p] = data["prompts"]
    assert p["bump"] == "major" and "commit message marks a breaking change" in p["reasons"]
    assert "(major)" in second.summary
    [again] = sim.fake.comments[12]
    assert again["id"] == comment["id"] and again["body"] != comment["body"]
    assert f"head {head2[:7]}" in again["body"] and f"head {head[:7]}" in comment["body"]
    methods = [c.split()[0] for c in sim.fake.calls()]
    assert methods.count("POST") == 1 and methods.count("PATCH") == 1
    for run in (first, second):
        assert TOKEN not in everything_written(sim, run)


def test_a_pull_request_that_improves_a_prompt_passes_and_lists_the_fix(
    sim: PullRequestSim,
) -> None:
    head = sim.push("improve", {"prompts/support/summarize.prompt": IMPROVE}, "flag urgent tickets")
    run = sim.run_action(head)
    assert run.code == 0, run.err
    assert run.outputs["passed"] == "true"
    assert (run.outputs["regressions"], run.outputs["fixes"]) == ("0", "1")
    assert "✅ loomgit: no regressions in 1 changed prompt, 1 fix" in run.summary
    fixes = run.summary.split("**Fixes** (1)")[1]
    assert "urgent" in fixes.split("\n\n")[1]
    [comment] = sim.fake.comments[12]
    assert "**Fixes** (1)" in comment["body"]
    data = json.loads(Path(run.outputs["report-path"]).with_suffix(".json").read_text())
    [p] = data["prompts"]
    assert p["bump"] == "minor" and p["reasons"] == ['message "user" changed']
    assert (p["before"]["version"], p["before"]["pass_rate"], p["after"]["pass_rate"]) == (
        "1.0.0",
        2 / 3,
        1.0,
    )
    assert "(minor)" in run.summary and "67% → 100%" in run.summary
    assert "::error" not in run.out


def test_fail_on_never_reports_but_passes(sim: PullRequestSim) -> None:
    head = sim.push("break", {"prompts/support/summarize.prompt": BREAK}, "shorter")
    run = sim.run_action(head, inputs={"fail-on": "never", "comment": "false"})
    assert run.code == 0 and run.outputs["passed"] == "true"
    assert run.outputs["regressions"] == "1"
    assert sim.fake.seen == []  # comment: false


def test_a_fork_pull_request_runs_offline_and_degrades_to_the_summary(sim: PullRequestSim) -> None:
    sim.fake.forbid_writes = True
    head = sim.push("break", {"prompts/support/summarize.prompt": BREAK}, "shorter")
    run = sim.run_action(head, fork=True)
    assert run.code == 1  # the regression still fails the check; the 403 does not
    assert (
        "::warning::cannot comment on pull request #12 (pull requests from forks get a "
        "read-only token)" in run.out
    )
    assert "::warning::evaluated with the offline providers" in run.out
    assert "comes from a fork" in run.summary
    assert run.outputs["comment-url"] == "" and run.outputs["offline"] == "true"
    assert sim.fake.comments == {}
    assert TOKEN not in everything_written(sim, run)


def test_model_output_cannot_fake_the_report(sim: PullRequestSim) -> None:
    """A pull request whose prompt makes the model say 'all passed' in Markdown/HTML."""
    evil = BREAK.replace(
        "Answer briefly.", "Answer briefly. </details><!-- \n## ✅ loomgit: all passed @octocat"
    )
    head = sim.push("evil", {"prompts/support/summarize.prompt": evil}, "innocent change")
    run = sim.run_action(head)
    assert run.code == 1
    [comment] = sim.fake.comments[12]
    html = _render(comment["body"])
    outside_code = re.sub(r"<pre>.*?</pre>|<code>.*?</code>", "", html, flags=re.S)
    assert outside_code.count("<!--") == 1  # loomgit's marker, nothing else
    assert re.findall(r"<h2>(.*?)</h2>", html) == ["❌ loomgit: 1 regression in 1 changed prompt"]
    assert outside_code.count("<details>") == outside_code.count("</details>") >= 1
    assert "@octocat" not in outside_code  # no mention outside code blocks
    assert "all passed" in html  # shown, as inert text


def _render(md: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(md)


def test_a_shallow_checkout_fails_with_the_fix_in_the_summary(
    sim: PullRequestSim, tmp_path: Path
) -> None:
    head = sim.push("break", {"prompts/support/summarize.prompt": BREAK}, "shorter")
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{sim.repo.path}", str(shallow)], check=True
    )
    sim.repo = GitRepo.__new__(GitRepo)
    sim.repo.path = shallow
    run = sim.run_action(head)
    assert run.code == 3
    assert "fetch-depth: 0" in run.err and "Traceback" not in run.err
    assert "fetch-depth: 0" in run.summary and run.outputs["passed"] == "false"


def test_python_assertions_stay_off_unless_allowed(sim: PullRequestSim) -> None:
    checks = "def is_short(output, context):\n    return len(output) < 10_000\n"
    suite = (
        SUITE + "  - name: pythonic\n    vars: {ticket: x}\n    assert:\n"
        "      - python: checks:is_short\n"
    )
    head = sim.push(
        "py",
        {
            "prompts/support/summarize.tests.yaml": suite,
            "checks.py": checks,
            "prompts/support/summarize.prompt": IMPROVE,
        },
        "python check",
    )
    off = sim.run_action(head, inputs={"comment": "false"})
    refusal = "python: assertions run local code; allow them with --allow-python"
    assert off.code == 2 and refusal in off.err and "Traceback" not in off.err
    assert refusal in off.summary and off.outputs["passed"] == "false"
    on = sim.run_action(head, inputs={"comment": "false", "allow-python": "true"})
    assert on.outputs["report-path"], on.err
    data = json.loads(Path(on.outputs["report-path"]).with_suffix(".json").read_text())
    [case] = [c for c in data["prompts"][0]["cases"] if c["case"] == "pythonic"]
    assert case["after"] == "passed", case
