"""loomgit's hooks run by the real pre-commit framework, from a snapshot of this checkout.

The hook repository is a copy of the working tree (uncommitted work included) committed in
a temporary folder, so `rev:` names a real commit. The hook environment is built once per
test session (PRE_COMMIT_HOME shared by every xdist worker, guarded by a file lock).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, GitRepo

pytestmark = pytest.mark.slow

PINNED = {
    "GIT_AUTHOR_NAME": "Snapshot",
    "GIT_AUTHOR_EMAIL": "snap@example.com",
    "GIT_COMMITTER_NAME": "Snapshot",
    "GIT_COMMITTER_EMAIL": "snap@example.com",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}


@dataclass(frozen=True)
class HookSource:
    path: Path  # a git repository holding this checkout's files
    rev: str
    home: Path  # PRE_COMMIT_HOME


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _snapshot_checkout(dest: Path, env: dict[str, str]) -> str:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for rel in out.decode().split("\0"):
        src = ROOT / rel
        if rel and src.is_file() and not src.is_symlink():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", *args], cwd=dest, env=env, check=True, capture_output=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=dest, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="session")
def hook_source(tmp_path_factory: pytest.TempPathFactory) -> HookSource:
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of this run
    env = {**os.environ, **PINNED, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    with _locked(base / "loomgit-hook-source.lock"):
        src = base / "loomgit-hook-source"
        home = base / "pre-commit-home"
        rev_file = base / "loomgit-hook-source.rev"
        if not rev_file.is_file():
            src.mkdir(exist_ok=True)
            rev_file.write_text(_snapshot_checkout(src, env))
        return HookSource(src, rev_file.read_text().strip(), home)


@pytest.fixture
def framework_repo(
    repo: GitRepo,
    hook_source: HookSource,
    cli,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> GitRepo:
    """`loomgit init` + pre-commit installed for pre-commit and prepare-commit-msg."""
    monkeypatch.setenv("PRE_COMMIT_HOME", str(hook_source.home))
    assert cli(["init"], cwd=repo.path).exit_code == 0
    # the config `loomgit init` wrote, pointed at this checkout's snapshot
    cfg = repo.path / ".pre-commit-config.yaml"
    text = cfg.read_text()
    assert "  - repo: https://github.com/loomgit/loomgit\n    rev: v0.1.0\n" in text
    cfg.write_text(
        text.replace("https://github.com/loomgit/loomgit", str(hook_source.path)).replace(
            "rev: v0.1.0", f"rev: {hook_source.rev}"
        )
    )
    repo.commit("init")
    res = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install", "--install-hooks"],
        cwd=repo.path,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "pre-commit installed at .git/hooks/pre-commit" in res.stdout
    assert "pre-commit installed at .git/hooks/prepare-commit-msg" in res.stdout
    return repo


def commit(repo: GitRepo, message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "commit", "-m", message],
        cwd=repo.path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_manifest_is_valid() -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pre_commit",
            "validate-manifest",
            str(ROOT / ".pre-commit-hooks.yaml"),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_bad_prompt_is_blocked_and_good_one_passes(framework_repo: GitRepo) -> None:
    repo = framework_repo
    p = repo.path / "prompts/support/summarize.prompt"
    good = p.read_text()
    p.write_text(good.replace("{{ ticket }}", "{{ ticket }} for {{ team }}"))
    repo.git("add", "-A")
    res = commit(repo, "add team")
    assert res.returncode == 1
    assert "loomgit check (validate and render prompts)" in res.stdout and "Failed" in res.stdout
    assert (
        "prompts/support/summarize.prompt:15: error: variable 'team' is used but not "
        "declared under 'variables:'"
    ) in res.stdout
    assert repo.git("log", "-1", "--format=%s") == "init"

    p.write_text(good.replace("Summarize this ticket:", "Summarize this ticket in two lines:"))
    repo.git("add", "-A")
    res = commit(repo, "two lines")
    assert res.returncode == 0, res.stdout
    assert repo.git("log", "-1", "--format=%B") == (
        'two lines\n\nPrompt-Version: support/summarize 1.1.0 (minor: message "user" changed)'
    )

    # --amend: pre-commit hands git's "commit HEAD" arguments over in its environment
    res = subprocess.run(
        ["git", "commit", "--amend", "--no-edit"],
        cwd=repo.path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert res.returncode == 0, res.stdout
    assert repo.git("log", "-1", "--format=%B").count("Prompt-Version:") == 1


def test_suite_case_that_cannot_render_is_blocked(framework_repo: GitRepo) -> None:
    repo = framework_repo
    suite = repo.path / "prompts/support/summarize.tests.yaml"
    suite.write_text(
        suite.read_text() + "  - name: bad-tone\n    vars: {ticket: x, tone: angry}\n"
        "    assert: [{contains: x}]\n"
    )
    repo.git("add", "-A")
    res = commit(repo, "bad case")
    assert res.returncode == 1
    assert (
        "case 'bad-tone': variable 'tone' must be one of 'formal', 'casual', got 'angry'"
        in res.stdout
    )


def test_unstaged_fix_does_not_rescue_a_bad_commit(framework_repo: GitRepo) -> None:
    repo = framework_repo
    p = repo.path / "prompts/support/summarize.prompt"
    good = p.read_text()
    p.write_text(good.replace("{{ ticket }}", "{{ ticket }} {{ oops }}"))
    repo.git("add", "-A")
    p.write_text(good)  # fixed in the working tree only
    res = commit(repo, "bad staged")
    assert res.returncode == 1
    assert "variable 'oops' is used but not declared" in res.stdout
    assert p.read_text() == good  # pre-commit restored the unstaged edit


def test_hand_commit_on_stage_branch_is_refused(framework_repo: GitRepo) -> None:
    repo = framework_repo
    repo.git("checkout", "-q", "-b", "stage/production")
    repo.write({"notes.txt": "by hand\n"})
    repo.git("add", "notes.txt")
    res = commit(repo, "hand edit")
    assert res.returncode == 1
    assert (
        "loomgit-protect: commit refused: 'stage/production' is the branch of stage "
        "'production'" in res.stdout
    )
    assert "loomgit promote ID VERSION --to production" in res.stdout


def test_run_all_files_checks_prompts_only(framework_repo: GitRepo) -> None:
    repo = framework_repo
    repo.write(
        {
            "prompts/broken.prompt": "---\nvariables: {}\n---\n{{ nope }}\n",
            "README.md": "{{ not a prompt }}\n",
        }
    )
    repo.git("add", "-A")
    res = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "loomgit-check"],
        cwd=repo.path,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1
    assert "prompts/broken.prompt:4: error: variable 'nope' is used but not declared" in res.stdout
    assert "README.md" not in res.stdout


def test_eval_hook_at_manual_stage(framework_repo: GitRepo) -> None:
    repo = framework_repo
    cfg = repo.path / ".pre-commit-config.yaml"
    cfg.write_text(cfg.read_text() + "      - id: loomgit-eval\n")
    suite = repo.path / "prompts/support/summarize.tests.yaml"
    suite.write_text(suite.read_text().replace("icontains: fire", "icontains: flood"))
    repo.git("add", "-A")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pre_commit",
            "run",
            "--hook-stage",
            "manual",
            "loomgit-eval",
            "--all-files",
        ],
        cwd=repo.path,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1, res.stdout
    assert "loomgit eval (suites of changed prompts, offline)" in res.stdout
    assert "icontains: does not contain 'flood'" in res.stdout
    assert "loomgit-eval: a quality gate failed" in res.stdout
