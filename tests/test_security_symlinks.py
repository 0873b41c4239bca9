"""Trust boundary: a prompt file that is a symlink (``prompts/pw.prompt -> /etc/passwd``,
or to any file, even one inside the repository) is never read as a prompt. ``check``,
``render`` and ``eval`` fail naming it; ``list`` skips it with a warning on stderr; a
symlink committed into history is not a prompt either; ``ci`` publishes none of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SUMMARIZE, GitRepo
from test_ci_e2e import PullRequestSim, everything_written
from test_ci_github import FakeGitHub

LINK = "prompt file is a symlink; loomgit does not follow symlinks (commit the file itself)"
PASSWD = "root:x:0:0"
SUITE = "providers: [echo]\ncases:\n  - name: one\n    assert:\n      - contains: root\n"


@pytest.fixture(params=["/etc/passwd", "real.prompt"], ids=["to-passwd", "inside-the-repo"])
def linked(request: pytest.FixtureRequest, repo: GitRepo) -> GitRepo:
    """prompts/pw.prompt is a symlink (to /etc/passwd, or to a prompt beside it)."""
    repo.commit(
        "base",
        {"prompts/real.prompt": SUMMARIZE.replace("on-call", "root:x:0:0 on-call")},
    )
    (repo.path / "prompts/pw.prompt").symlink_to(request.param)
    repo.write({"prompts/pw.tests.yaml": SUITE})
    return repo


def no_target(*texts: str) -> None:
    for t in texts:
        assert PASSWD not in t, t


@pytest.mark.parametrize("tracked", [False, True], ids=["untracked", "committed"])
def test_check_fails_naming_the_link(linked: GitRepo, cli: Any, tracked: bool) -> None:
    if tracked:
        linked.commit("add the link")
    r = cli(["check"], cwd=linked.path)
    assert r.exit_code == 1
    assert f"prompts/pw.prompt: error: {LINK}" in r.out.splitlines()
    no_target(r.out, r.err)
    r = cli(["check", "prompts/pw.prompt"], cwd=linked.path)
    assert r.exit_code == 1
    assert r.out.splitlines()[0] == f"prompts/pw.prompt: error: {LINK}"


def test_list_skips_the_link_with_a_warning(linked: GitRepo, cli: Any) -> None:
    linked.commit("add the link")
    r = cli(["list"], cwd=linked.path)
    assert r.exit_code == 0
    assert r.err.strip() == f"warning: prompts/pw.prompt: {LINK} (skipped)"
    assert "pw" not in r.out and "real" in r.out
    r = cli(["list", "--json"], cwd=linked.path)
    assert r.exit_code == 0
    assert [row["id"] for row in json.loads(r.out)] == ["real"]
    # the history pass reads no symlink as a prompt, at any commit
    r = cli(["list", "--ref", "HEAD", "--json"], cwd=linked.path)
    assert [row["id"] for row in json.loads(r.out)] == ["real"]
    for args in (["render", "pw@latest"], ["log", "pw"]):
        r = cli(args, cwd=linked.path)
        assert r.exit_code == 1, args
        no_target(r.out, r.err)


@pytest.mark.parametrize("ident", ["pw", "prompts/pw.prompt"])
def test_render_fails_naming_the_link(linked: GitRepo, cli: Any, ident: str) -> None:
    r = cli(["render", ident], cwd=linked.path)
    assert r.exit_code == 1
    assert r.err.strip() == f"loomgit: error: prompts/pw.prompt: {LINK}"
    assert r.out == ""


@pytest.mark.parametrize("args", [["eval", "pw"], ["eval"], ["eval", "prompts/pw.tests.yaml"]])
def test_eval_fails_naming_the_link(linked: GitRepo, cli: Any, args: list[str]) -> None:
    r = cli(args, cwd=linked.path)
    assert r.exit_code == 1
    assert f"prompts/pw.prompt: {LINK}" in r.err
    no_target(r.out, r.err)


def test_ci_reads_no_symlinked_prompt(tmp_path: Path) -> None:
    fake = FakeGitHub().start()
    try:
        sim = PullRequestSim(tmp_path, fake)
        sim.repo.git("checkout", "-q", "-b", "link", sim.base)
        (sim.repo.path / "prompts/support/pw.prompt").symlink_to("/etc/passwd")
        sim.repo.write({"prompts/support/pw.tests.yaml": SUITE})
        head = sim.push("link", {}, "add a linked prompt")
        run = sim.run_action(head)
        written = everything_written(sim, run)
        assert run.code == 1, written
        assert f"prompts/support/pw.prompt: {LINK}" in written
        no_target(written)
    finally:
        fake.stop()


@pytest.mark.parametrize("source", ["index", "worktree"])
def test_the_commit_hook_refuses_a_staged_symlink(linked: GitRepo, cli: Any, source: str) -> None:
    """The hook never writes a link's target into its snapshot, nor checks the link's
    text (the path it points to) as if it were a prompt."""
    linked.git("add", "-A")
    args = ["hook", "check", "--source", source, "prompts/pw.prompt"]
    r = cli(args, cwd=linked.path)
    assert r.exit_code == 1, r.out + r.err
    assert f"prompts/pw.prompt: error: {LINK}" in r.out.splitlines()
    no_target(r.out, r.err)
    r = cli(["hook", "check"], cwd=linked.path)  # the staged files, as the git hook runs it
    assert r.exit_code == 1
    assert f"prompts/pw.prompt: error: {LINK}" in r.out.splitlines()


def test_the_commit_hook_reads_a_staged_file_whose_name_holds_a_newline(
    repo: GitRepo, cli: Any
) -> None:
    """A name with a newline is read from the index like any other (it used to be
    reported as not staged): the hook reports what is wrong with its content."""
    name = "prompts/two\nlines.prompt"
    repo.write({name: "---\nid: two-lines\nvariables: {a: string}\n---\n{{ b }}\n"})
    repo.git("add", "-A")
    r = cli(["hook", "check"], cwd=repo.path)
    assert r.exit_code == 1
    assert "not in the index" not in r.out
    assert "'b'" in r.out and "prompts/two\\nlines.prompt" in r.out
