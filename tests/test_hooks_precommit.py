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


def remote_config(source: HookSource, *hooks: str) -> str:
    """A .pre-commit-config.yaml using loomgit's manifest from ``source`` (the remote form)."""
    ids = "".join(f"      - id: {h}\n" for h in hooks or HOOKS)
    return (
        "default_install_hook_types: [pre-commit, prepare-commit-msg]\n"
        f"repos:\n  - repo: {source.path}\n    rev: {source.rev}\n    hooks:\n{ids}"
    )


HOOKS = ("loomgit-check", "loomgit-versions", "loomgit-protect")


def install(repo: GitRepo) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install", "--install-hooks"],
        cwd=repo.path,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "pre-commit installed at .git/hooks/pre-commit" in res.stdout
    assert "pre-commit installed at .git/hooks/prepare-commit-msg" in res.stdout


@pytest.fixture
def framework_repo(
    repo: GitRepo,
    hook_source: HookSource,
    cli,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> GitRepo:
    """`loomgit init`, then pre-commit installed for pre-commit and prepare-commit-msg
    with the hooks of loomgit's manifest (this checkout's snapshot at a commit)."""
    monkeypatch.setenv("PRE_COMMIT_HOME", str(hook_source.home))
    assert cli(["init"], cwd=repo.path).exit_code == 0
    (repo.path / ".pre-commit-config.yaml").write_text(remote_config(hook_source))
    repo.commit("init")
    install(repo)
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


# --------------------------------------------------------------------------- any prompt format

# (glob, path, good content, broken content, the start of the broken file's error line)
FORMATS = [
    pytest.param(
        "prompts/**/*.md",
        "prompts/greet.md",
        "Say hello to {{ name }}.\n",
        "Say hello to {{ name }.\n",
        "prompts/greet.md:1:14: error: template syntax error",
        id="md",
    ),
    pytest.param(
        "prompts/**/*.txt",
        "prompts/greet.txt",
        "Say hello\nto {{ name }}.\n",
        "Say hello\n{% if name %}to {{ name }}.\n",
        "prompts/greet.txt:2:1: error: template syntax error",
        id="txt",
    ),
    pytest.param(
        "prompts/**/*.prompty",
        "prompts/greet.prompty",
        "---\nname: greet\ndescription: Greets\n---\nsystem:\nSay hello to {{ name }}.\n",
        "---\nname: greet\ndescription: Greets\n---\nsystem:\nSay hello to {{ name .\n",
        "prompts/greet.prompty:6:14: error: template syntax error",
        id="prompty",
    ),
    pytest.param(
        "prompts/**/*.prompt.yml",
        "prompts/greet.prompt.yml",
        "name: Greeter\ndescription: Greets people\nmodel: openai/gpt-4o-mini\n"
        "messages:\n  - role: system\n    content: You greet people.\n"
        "  - role: user\n    content: 'Say hello to {{name}}'\n",
        "name: Greeter\nmessages:\n  - role: user\n    content: 'Say hello to {{name}}'\n"
        "  - [role, user\n",
        "prompts/greet.prompt.yml:",
        id="prompt.yml",
    ),
]

# files beside the prompts that no glob names: never checked, whatever they hold
NOT_PROMPTS = {
    "README.md": "{{ not a prompt\n",
    "notes/todo.txt": "{% if %}\n",
    "docs/example.prompty": "---\nname: [\n---\n{{\n",
}


def _pre_commit(repo: GitRepo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=repo.path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _error_line(out: str, start: str) -> str:
    lines = [ln for ln in out.splitlines() if ln.startswith(start) and ": error: " in ln]
    assert len(lines) == 1, out
    return lines[0]


def _format_repo(repo: GitRepo, glob: str, path: str, good: str) -> None:
    repo.commit(
        "prompts",
        {"loomgit.yaml": f"prompts:\n  - {glob!r}\n", path: good, **NOT_PROMPTS},
    )


@pytest.mark.parametrize(("glob", "path", "good", "bad", "where"), FORMATS)
def test_try_repo_checks_prompts_of_every_format_by_the_config_globs(
    repo: GitRepo,
    hook_source: HookSource,
    monkeypatch: pytest.MonkeyPatch,
    glob: str,
    path: str,
    good: str,
    bad: str,
    where: str,
) -> None:
    monkeypatch.setenv("PRE_COMMIT_HOME", str(hook_source.home))
    _format_repo(repo, glob, path, good)
    try_repo = ("try-repo", str(hook_source.path), "loomgit-check", "--ref", hook_source.rev)

    res = _pre_commit(repo, *try_repo, "--all-files")
    assert res.returncode == 0, res.stdout
    assert "Passed" in res.stdout

    repo.write({path: bad})
    repo.git("add", "-A")
    res = _pre_commit(repo, *try_repo, "--all-files")
    assert res.returncode == 1, res.stdout
    assert "Failed" in res.stdout
    _error_line(res.stdout, where)
    assert "loomgit-check: 1 error(s) in 1 file(s); the commit is blocked." in res.stdout
    for other in NOT_PROMPTS:
        assert other not in res.stdout

    # the staged files only (what a commit runs): the same verdict
    res = _pre_commit(repo, *try_repo)
    assert res.returncode == 1, res.stdout
    _error_line(res.stdout, where)


@pytest.mark.parametrize(("glob", "path", "good", "bad", "where"), FORMATS)
def test_installed_hooks_block_a_commit_of_a_broken_prompt_of_every_format(
    repo: GitRepo,
    hook_source: HookSource,
    monkeypatch: pytest.MonkeyPatch,
    glob: str,
    path: str,
    good: str,
    bad: str,
    where: str,
) -> None:
    monkeypatch.setenv("PRE_COMMIT_HOME", str(hook_source.home))
    repo.write({".pre-commit-config.yaml": remote_config(hook_source)})
    _format_repo(repo, glob, path, "")
    install(repo)

    repo.write({path: bad, "README.md": "{{ still not a prompt\n"})
    repo.git("add", "-A")
    res = commit(repo, "broken")
    assert res.returncode == 1, res.stdout
    _error_line(res.stdout, where)
    assert "README.md" not in res.stdout
    assert repo.git("log", "-1", "--format=%s") == "prompts"

    repo.write({path: good})
    repo.git("add", "-A")
    res = commit(repo, "good")
    assert res.returncode == 0, res.stdout
    assert "Prompt-Version: " in repo.git("log", "-1", "--format=%B")


# --------------------------------------------------------------------------- what init writes


@pytest.fixture
def init_repo(
    repo: GitRepo,
    cli,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> GitRepo:
    """`loomgit init` in a fresh repository, its .pre-commit-config.yaml as written, with
    this installation's `loomgit` on PATH (as after `pipx install loomgit`)."""
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    bindir = Path(sys.executable).parent
    assert (bindir / "loomgit").is_file()
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    assert cli(["init"], cwd=repo.path).exit_code == 0
    repo.git("add", "-A")
    return repo


def test_init_config_validates_and_runs_without_a_remote(init_repo: GitRepo) -> None:
    repo = init_repo
    res = _pre_commit(repo, "validate-config", ".pre-commit-config.yaml")
    assert res.returncode == 0, res.stdout
    res = _pre_commit(repo, "run", "--all-files")
    assert res.returncode == 0, res.stdout
    assert "loomgit check (validate and render prompts)" in res.stdout
    assert "Passed" in res.stdout

    p = repo.path / "prompts/support/summarize.prompt"
    p.write_text(p.read_text().replace("{{ ticket }}", "{{ ticket }} for {{ team }}"))
    repo.write({"prompts/notes.md": "{{ not under the prompt glob\n"})
    res = _pre_commit(repo, "run", "--all-files")
    assert res.returncode == 1, res.stdout
    assert (
        "prompts/support/summarize.prompt:15: error: variable 'team' is used but not "
        "declared under 'variables:'"
    ) in res.stdout
    assert "notes.md" not in res.stdout


def test_init_config_installed_blocks_a_broken_commit(init_repo: GitRepo) -> None:
    repo = init_repo
    repo.git("commit", "-q", "-m", "init")
    install(repo)
    p = repo.path / "prompts/support/summarize.prompt"
    good = p.read_text()
    p.write_text(good.replace("{{ ticket }}", "{{ ticket }} {{ oops }}"))
    repo.git("add", "-A")
    res = commit(repo, "bad")
    assert res.returncode == 1, res.stdout
    assert "variable 'oops' is used but not declared" in res.stdout
    assert repo.git("log", "-1", "--format=%s") == "init"

    p.write_text(good.replace("Summarize this ticket:", "Summarize this ticket briefly:"))
    repo.git("add", "-A")
    res = commit(repo, "briefly")
    assert res.returncode == 0, res.stdout
    assert repo.git("log", "-1", "--format=%B") == (
        'briefly\n\nPrompt-Version: support/summarize 1.1.0 (minor: message "user" changed)'
    )

    repo.git("checkout", "-q", "-b", "stage/production")
    repo.write({"x.txt": "by hand\n"})
    repo.git("add", "x.txt")
    res = commit(repo, "hand edit")
    assert res.returncode == 1
    assert "loomgit-protect: commit refused" in res.stdout
