"""End to end, as on GitHub: real commits for a pull request's base and head (checked out
as GitHub does, the merge commit), a fake event file, every step of ``action.yml`` run
locally in order by bash with the runner's variables (tests/action_runner.py: no
``act``), and the test suite's fake GitHub API on 127.0.0.1 serving the comment and the
uploaded artifact.

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
from action_runner import ActionRun, LocalRunner
from conftest import GitRepo
from github_api import TOKEN, FakeGitHub

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
    action: ActionRun


class WarmCache(dict[str, Path]):
    """The runner's cache as after an earlier run: any key of the loomgit install restores
    a venv whose loomgit is the one under test (installing it would need the network)."""

    def __init__(self, venv: Path) -> None:
        super().__init__()
        self.venv = venv

    def get(self, key: str, default: Path | None = None) -> Path | None:  # type: ignore[override]
        return self.venv if key.startswith("loomgit-venv-") else default


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
        self.venv = tmp / "prebuilt-venv"
        (self.venv / "bin").mkdir(parents=True)
        (self.venv / "bin" / "loomgit").symlink_to(LOOMGIT)
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

    @property
    def runner_temp(self) -> Path:
        return self.tmp / f"runner-temp-{self.runs}"

    def run_action(
        self,
        head: str,
        *,
        inputs: dict[str, str] | None = None,
        fork: bool = False,
        extra_env: dict[str, str] | None = None,
        cache: dict[str, Path] | None = None,
    ) -> Run:
        """Every step of action.yml, run locally as the runner runs them (one job)."""
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
        runner = LocalRunner(
            workspace=self.repo.path,
            temp=self.runner_temp,
            fake=self.fake,
            event_path=event_path,
            run_id=1000 + self.runs,
            token=TOKEN,
            base_env={**os.environ, **(extra_env or {})},
            cache=WarmCache(self.venv) if cache is None else cache,
            cache_dir=self.tmp / f"cache-{self.runs}",
        )
        done = runner.run(inputs)
        return Run(done.code, done.out, done.err, done.summary, done.outputs, done)


@pytest.fixture
def sim(tmp_path: Path, fake_github: FakeGitHub) -> Iterator[PullRequestSim]:
    yield PullRequestSim(tmp_path, fake_github)


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
    fixes = run.summary.split("**✅ Fixes** (1)")[1]
    assert "urgent" in fixes.split("\n\n")[1]
    [comment] = sim.fake.comments[12]
    assert "**✅ Fixes** (1)" in comment["body"]
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
    # the refused comment leaves the uploaded report, linked from the job summary
    [art] = sim.fake.artifacts
    assert f"({run.outputs['artifact-url']})" in run.summary and "report.md" in art.files
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


FAKE_PYTHON = """#!/bin/bash
# python3 as the install step sees it: `-m venv DIR` makes a venv whose python logs the
# pip command and the PIP_ variables, and installs the loomgit under test
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  dir="${@: -1}"
  mkdir -p "$dir/bin"
  printf '#!/bin/bash\\necho "pip: $*" >> "%s"\\nenv | grep ^PIP_ >> "%s"\\nln -sf "%s" "%s/bin/loomgit"\\n' \\
    "$LOG" "$LOG" "$LOOMGIT" "$dir" > "$dir/bin/python"
  chmod +x "$dir/bin/python"
  echo "venv: $dir" >> "$LOG"
  exit 0
fi
exec "$REAL_PYTHON" "$@"
"""


def test_the_first_run_installs_with_the_pins_and_the_next_one_restores_it(
    sim: PullRequestSim, tmp_path: Path
) -> None:
    bindir = tmp_path / "fake-bin"
    bindir.mkdir()
    (bindir / "python3").write_text(FAKE_PYTHON)
    (bindir / "python3").chmod(0o755)
    log = tmp_path / "install.log"
    env = {
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "LOG": str(log),
        "LOOMGIT": str(LOOMGIT),
        "REAL_PYTHON": sys.executable,
    }
    head = sim.push("improve", {"prompts/support/summarize.prompt": IMPROVE}, "flag urgent")
    cache: dict[str, Path] = {}
    first = sim.run_action(head, inputs={"comment": "false"}, extra_env=env, cache=cache)
    assert first.code == 0, first.err
    steps = {s.name: s for s in first.action.steps}
    assert steps["Restore the cached loomgit install"].outputs["cache-hit"] == "false"
    assert steps["Install loomgit from this action"].outcome == "success"
    [key] = cache  # saved right after the install, whatever the check's outcome
    assert key == steps["Key of the loomgit install"].outputs["key"]
    text = log.read_text()
    pins = ROOT / "action-constraints.txt"
    assert f"--constraint {pins} {ROOT}" in text  # the pins, and loomgit from the action
    assert f"PIP_CONSTRAINT={pins}" in text  # the isolated build of loomgit uses them too
    assert "loomgit " in steps["Check the loomgit install"].out

    log.write_text("")
    second = sim.run_action(head, inputs={"comment": "false"}, extra_env=env, cache=cache)
    assert second.code == 0, second.err
    steps = {s.name: s for s in second.action.steps}
    assert steps["Restore the cached loomgit install"].outputs["cache-hit"] == "true"
    assert steps["Install loomgit from this action"].outcome == "skipped"
    assert steps["Cache the loomgit install"].outcome == "skipped"
    assert log.read_text() == ""  # nothing installed


def test_the_report_and_review_page_are_uploaded_and_the_comment_links_them(
    sim: PullRequestSim,
) -> None:
    head = sim.push("break", {"prompts/support/summarize.prompt": BREAK}, "shorter")
    run = sim.run_action(head)
    assert run.code == 1  # the regression fails the check, and still the report goes up
    [art] = sim.fake.artifacts
    assert art.name == "loomgit-report-loomgit"
    assert sorted(art.files) == ["report.json", "report.md", "review.html"]
    assert art.files["report.md"].decode() == Path(run.outputs["report-path"]).read_text()
    page = art.files["review.html"].decode().lower()
    assert "<html" in page and "changed only" in page  # the review page of base and head
    assert "casual" in page  # with the cases as rows
    url = f"https://github.com/octo/prompts/actions/runs/{sim.runs + 1000}/artifacts/{art.id}"
    assert run.outputs["artifact-url"] == url and run.outputs["artifact-id"] == str(art.id)
    [comment] = sim.fake.comments[12]
    lines = comment["body"].split("\n")
    assert lines[1].startswith("## ❌ loomgit: 1 regression")
    assert lines[3] == f"📊 [Review page and full report]({url}) " + (
        "(workflow artifact: review.html, to open in a browser, report.md, report.json)"
    )
    assert f"({url})" in run.summary  # the job summary links it too
    # the artifact as the REST API lists and serves it
    import httpx

    headers = {"Authorization": f"Bearer {TOKEN}"}
    listed = httpx.get(
        f"{sim.fake.url}/repos/octo/prompts/actions/runs/{sim.runs + 1000}/artifacts",
        headers=headers,
    ).json()
    assert listed["total_count"] == 1 and listed["artifacts"][0]["name"] == art.name
    z = httpx.get(listed["artifacts"][0]["archive_download_url"], headers=headers)
    assert z.status_code == 302
    import io
    import zipfile

    data = httpx.get(z.headers["Location"]).content
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("report.md") == art.files["report.md"]


def test_the_comment_groups_cases_and_folds_the_regressed_outputs(sim: PullRequestSim) -> None:
    head = sim.push("break", {"prompts/support/summarize.prompt": BREAK}, "shorter")
    sim.run_action(head)
    [comment] = sim.fake.comments[12]
    html = _render(comment["body"])
    regressions = html.split("❌ Regressions")[1].split("Unchanged")[0]
    assert "<td>casual</td>" in regressions
    # the regressed case's outputs, base and head, folded under its name and why
    m = re.search(
        r"<details><summary>❌ casual · echo: ([^<]*)</summary>(.*?)</details>", html, re.S
    )
    assert m, html
    assert m.group(1) == "contains: does not contain 'casual'"
    base, head_out = m.group(2).split("Head:")
    assert "Answer in a casual tone." in base and "Answer briefly." in head_out
    # the others: unchanged, folded, still-failing first
    u = re.search(
        r"<summary>Unchanged \(2\): 1 pass, 1 still fail</summary>(.*?)</details>", html, re.S
    )
    assert u, html
    assert u.group(1).index("urgent") < u.group(1).index("fire")
    assert "✅ Fixes" not in html  # no fix, no empty group


OPENAI_SUITE = SUITE.replace("providers: [echo]", "providers: [openai/gpt-4o-mini]")


def test_a_same_repository_pull_request_without_a_key_is_told_the_offline_input(
    sim: PullRequestSim,
) -> None:
    head = sim.push(
        "keyless",
        {"prompts/support/summarize.tests.yaml": OPENAI_SUITE},
        "suite on a real model",
    )
    run = sim.run_action(head, inputs={"comment": "false"})
    assert run.code == 2
    [line] = [x for x in run.err.splitlines() if "no API key" in x]
    assert "OPENAI_API_KEY" in line and "`offline: true`" in line and "offline-model" in line
    assert "--model echo" not in line and "Traceback" not in run.err
    assert run.outputs["passed"] == "false"

    offline = sim.run_action(head, inputs={"comment": "false", "offline": "true"})
    assert offline.code == 0, offline.err
    assert offline.outputs["offline"] == "true"
    data = json.loads(Path(offline.outputs["report-path"]).with_suffix(".json").read_text())
    assert {c["provider"] for c in data["prompts"][0]["cases"]} == {"echo"}

    chosen = sim.run_action(
        head, inputs={"comment": "false", "offline": "true", "offline-model": "nosuch/model"}
    )
    assert chosen.code == 2 and "nosuch" in chosen.err  # the input is what runs
