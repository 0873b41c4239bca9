"""Commit-time guards through plain git hooks: `loomgit hooks install` and real `git commit`."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import CORPUS, GitRepo

from loomgit.app import hooks
from loomgit.app.hooks.installer import HOOK_NAMES

HOOK_CORPUS = CORPUS / "hooks"
CASES = sorted(p.name for p in HOOK_CORPUS.iterdir() if (p / "expect.txt").is_file())


def commit(repo: GitRepo, message: str = "change", *args: str) -> subprocess.CompletedProcess[str]:
    """A real ``git commit`` (hooks run); output is stdout and stderr together."""
    return subprocess.run(
        ["git", "commit", "-m", message, *args],
        cwd=repo.path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def hooked(repo: GitRepo, cli) -> GitRepo:  # type: ignore[no-untyped-def]
    """A repository made by `loomgit init`, committed, with loomgit's plain hooks installed."""
    assert cli(["init"], cwd=repo.path).exit_code == 0
    repo.commit("init")
    res = cli(["hooks", "install"], cwd=repo.path)
    assert res.exit_code == 0, res.err
    return repo


def overlay(repo: GitRepo, case: str) -> list[str]:
    src = HOOK_CORPUS / case
    rels = []
    for f in sorted(src.rglob("*")):
        if f.is_file() and f.name != "expect.txt":
            rel = f.relative_to(src).as_posix()
            (repo.path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, repo.path / rel)
            rels.append(rel)
    return rels


# --------------------------------------------------------------------------- install


def test_install_writes_marked_executable_scripts(hooked: GitRepo) -> None:
    for name in HOOK_NAMES:
        path = hooked.path / ".git" / "hooks" / name
        text = path.read_text()
        assert text.splitlines()[1] == f"# loomgit-hook: {name}"
        assert path.stat().st_mode & stat.S_IXUSR
        assert "LOOMGIT=''" not in text  # pointed at this installation's loomgit
        assert "LOOMGIT=/" in text or "LOOMGIT='/" in text


def test_install_is_idempotent(hooked: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    res = cli(["hooks", "install", "--json"], cwd=hooked.path)
    assert res.exit_code == 0
    assert '"action": "updated"' in res.out and '"installed"' not in res.out


def test_install_refuses_foreign_hook_without_force(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    foreign = repo.path / ".git" / "hooks" / "pre-commit"
    foreign.parent.mkdir(parents=True, exist_ok=True)
    foreign.write_text("#!/bin/sh\necho team hook\n")
    res = cli(["hooks", "install"], cwd=repo.path)
    assert res.exit_code == 2
    assert res.err.strip() == (
        "loomgit: error: .git/hooks/pre-commit: existing hook(s) not written by loomgit; left "
        "alone. Rerun with --force to keep them as *.pre-loomgit and install loomgit's"
    )
    assert foreign.read_text() == "#!/bin/sh\necho team hook\n"
    assert not (repo.path / ".git" / "hooks" / "prepare-commit-msg").exists()  # all or nothing


def test_force_keeps_foreign_hook_and_uninstall_restores_it(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    hooks_dir = repo.path / ".git" / "hooks"
    hooks_dir.mkdir(parents=True, exist_ok=True)
    (hooks_dir / "pre-commit").write_text("#!/bin/sh\necho team hook\n")
    res = cli(["hooks", "install", "--force"], cwd=repo.path)
    assert res.exit_code == 0
    assert (
        "replaced  .git/hooks/pre-commit  (previous hook kept as .git/hooks/pre-commit.pre-loomgit)"
        in res.out
    )
    assert hooks.is_ours(hooks_dir / "pre-commit")
    res = cli(["hooks", "uninstall"], cwd=repo.path)
    assert res.exit_code == 0
    assert (hooks_dir / "pre-commit").read_text() == "#!/bin/sh\necho team hook\n"
    assert not (hooks_dir / "pre-commit.pre-loomgit").exists()
    assert not (hooks_dir / "prepare-commit-msg").exists()
    assert "restored" in res.out and "removed" in res.out


def test_uninstall_leaves_foreign_hooks_alone(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    hooks_dir = repo.path / ".git" / "hooks"
    hooks_dir.mkdir(parents=True, exist_ok=True)
    (hooks_dir / "prepare-commit-msg").write_text("#!/bin/sh\nexit 0\n")
    res = cli(["hooks", "uninstall"], cwd=repo.path)
    assert res.exit_code == 0
    assert (hooks_dir / "prepare-commit-msg").read_text() == "#!/bin/sh\nexit 0\n"
    assert "skipped  .git/hooks/prepare-commit-msg  (not loomgit's)" in res.out


def test_install_respects_core_hookspath(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.git("config", "core.hooksPath", ".githooks")
    res = cli(["hooks", "install"], cwd=repo.path)
    assert res.exit_code == 0, res.err
    assert hooks.is_ours(repo.path / ".githooks" / "pre-commit")
    assert not (repo.path / ".git" / "hooks" / "pre-commit").exists()
    repo.write({"prompts/a.prompt": "---\nvariables: {}\n---\n{{ x }}\n"})
    repo.git("add", "-A")
    res = commit(repo, "bad")
    assert res.returncode == 1  # the hook in .githooks ran
    assert "variable 'x' is used but not declared" in res.stdout


def test_install_outside_git_is_one_line_error(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    res = cli(["hooks", "install"], cwd=tmp_path)
    assert res.exit_code == 3
    assert res.err.count("\n") == 1 and "is not a git repository" in res.err


# --------------------------------------------------------------------------- plain hooks


def test_good_commit_passes(hooked: GitRepo) -> None:
    p = hooked.path / "prompts/support/summarize.prompt"
    p.write_text(p.read_text().replace("Summarize this ticket:", "Summarize in two lines:"))
    hooked.git("add", "-A")
    res = commit(hooked, "two lines")
    assert res.returncode == 0, res.stdout
    assert hooked.git("log", "-1", "--format=%s") == "two lines"


@pytest.mark.parametrize("case", CASES)
def test_bad_commit_is_blocked(hooked: GitRepo, case: str) -> None:
    head = hooked.git("rev-parse", "HEAD")
    overlay(hooked, case)
    hooked.git("add", "-A")
    res = commit(hooked, f"bad: {case}")
    expect = (HOOK_CORPUS / case / "expect.txt").read_text().strip()
    assert res.returncode != 0
    assert expect in res.stdout
    assert "Traceback" not in res.stdout
    assert hooked.git("rev-parse", "HEAD") == head


def test_hook_reads_staged_content_not_unstaged_edits(hooked: GitRepo) -> None:
    p = hooked.path / "prompts/support/summarize.prompt"
    good = p.read_text()
    bad = good.replace("{{ ticket }}", "{{ ticket }} {{ undeclared }}")
    # staged: bad; working tree: fixed but not staged -> blocked
    p.write_text(bad)
    hooked.git("add", p.as_posix())
    p.write_text(good.replace("Summarize", "Summarise"))
    res = commit(hooked, "bad staged")
    assert res.returncode == 1
    assert "variable 'undeclared' is used but not declared" in res.stdout
    # staged: good; working tree: broken but not staged -> passes
    p.write_text(good.replace("Summarize", "Summarise"))
    hooked.git("add", p.as_posix())
    p.write_text(bad)
    res = commit(hooked, "good staged")
    assert res.returncode == 0, res.stdout


def test_include_is_read_from_the_index(hooked: GitRepo) -> None:
    hooked.write({"partials/rules.md": "Be brief.", "loomgit.yaml": "includes: [partials]\n"})
    hooked.git("add", "loomgit.yaml")
    p = hooked.path / "prompts/support/summarize.prompt"
    p.write_text(p.read_text().replace("system:\n", 'system:\n{% include "partials/rules.md" %}\n'))
    hooked.git("add", "prompts")  # the partial exists in the working tree only
    res = commit(hooked, "include an unstaged partial")
    assert res.returncode == 1
    assert "included file 'partials/rules.md' not found in the repository" in res.stdout
    hooked.git("add", "partials/rules.md")
    assert commit(hooked, "include a staged partial").returncode == 0


def test_hand_commit_on_stage_branch_is_refused(hooked: GitRepo) -> None:
    hooked.git("checkout", "-q", "-b", "stage/production")
    hooked.write({"notes.txt": "by hand"})
    hooked.git("add", "notes.txt")
    res = commit(hooked, "hand edit")
    assert res.returncode == 1
    assert (
        "loomgit-protect: commit refused: 'stage/production' is the branch of stage "
        "'production': only 'loomgit promote' writes it. Switch back (git switch -) and run "
        "'loomgit promote ID VERSION --to production' instead."
    ) in res.stdout


def test_stage_branch_pattern_comes_from_config(hooked: GitRepo) -> None:
    cfg = hooked.path / "loomgit.yaml"
    cfg.write_text(
        "prompts: [prompts/**/*.prompt]\nstages: [qa, live]\nstage_branch: 'release/{stage}'\n"
    )
    hooked.commit("custom stages")
    hooked.git("checkout", "-q", "-b", "stage/production")  # no longer a stage branch
    hooked.write({"notes.txt": "ok"})
    hooked.git("add", "notes.txt")
    assert commit(hooked, "fine").returncode == 0
    hooked.git("checkout", "-q", "-b", "release/live")
    hooked.write({"notes.txt": "not ok"})
    hooked.git("add", "notes.txt")
    res = commit(hooked, "refused")
    assert res.returncode == 1 and "--to live" in res.stdout


def test_hook_without_loomgit_refuses_in_one_line(hooked: GitRepo) -> None:
    script = hooked.path / ".git" / "hooks" / "pre-commit"
    text = script.read_text()
    start = text.index("LOOMGIT=")
    end = text.index("\n", start)
    script.write_text(text[:start] + "LOOMGIT=/nonexistent/loomgit" + text[end:])
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    hooked.write({"notes.txt": "x"})
    hooked.git("add", "notes.txt")
    res = subprocess.run(
        ["git", "commit", "-m", "x"],
        cwd=hooked.path,
        text=True,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert res.returncode != 0
    lines = [ln for ln in res.stdout.splitlines() if "loomgit" in ln]
    assert len(lines) == 1 and "loomgit is not installed" in lines[0]


def test_internal_error_blocks_the_commit(hooked: GitRepo, tmp_path: Path) -> None:
    """A bug inside loomgit (simulated: the check raises) says so in one line and blocks."""
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(
        "import loomgit.app.check\n"
        "def boom(*a, **k):\n"
        "    raise RuntimeError('simulated bug')\n"
        "loomgit.app.check.check = boom\n"
    )
    hooked.write({"prompts/x.prompt": "user:\nhi\n"})
    hooked.git("add", "-A")
    env = {**os.environ, "PYTHONPATH": str(inject)}
    res = subprocess.run(
        ["git", "commit", "-m", "x"],
        cwd=hooked.path,
        text=True,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert res.returncode != 0
    assert res.stdout.strip() == (
        "loomgit: internal error: RuntimeError: simulated bug (rerun with --debug for a traceback)"
    )
    assert hooked.git("log", "-1", "--format=%s") == "init"


def test_named_file_missing_from_index_is_an_error(hooked: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    hooked.write({"prompts/untracked.prompt": "user:\nhi\n"})
    res = cli(["hook", "check", "--source", "index", "prompts/untracked.prompt"], cwd=hooked.path)
    assert res.exit_code == 1
    assert res.out.strip() == (
        "prompts/untracked.prompt: error: not in the index: stage it "
        "(git add) or check the working tree (--source worktree)"
    )
    res = cli(
        ["hook", "check", "--source", "worktree", "prompts/untracked.prompt"], cwd=hooked.path
    )
    assert res.exit_code == 0, res.out


# --------------------------------------------------------------------------- library


def test_check_files_library_api(hooked: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(hooked.path)
    overlay(hooked, "case-render-fails")
    hooked.git("add", "-A")
    result = hooks.check_files(hooked.path)  # the staged files
    assert result.checked == [
        "prompts/support/summarize.prompt",
        "prompts/support/summarize.tests.yaml",
    ]
    assert result.renders == 2
    assert [f.line for f in result.errors] == [6]
    assert not result.ok()
    # README.md and other files are ignored, not read as prompts
    hooked.write({"README.md": "{{ broken"})
    assert hooks.check_files(hooked.path, ["README.md"], "worktree").checked == []


def test_read_index_reads_many_blobs_in_one_pass(hooked: GitRepo) -> None:
    hooked.write({"a b.prompt": "user:\nA\n", "-dash.prompt": "user:\nB\n"})
    hooked.git("add", "-A")
    got = hooks.read_index(
        hooked.path, ["a b.prompt", "-dash.prompt", "missing.prompt", "loomgit.yaml"]
    )
    assert got["a b.prompt"] == b"user:\nA\n" and got["-dash.prompt"] == b"user:\nB\n"
    assert "missing.prompt" not in got and "loomgit.yaml" in got


def test_read_index_paths_that_look_like_stage_names(hooked: GitRepo) -> None:
    hooked.write({"1:odd.prompt": "user:\nstaged\n"})
    hooked.git("add", "-A")
    (hooked.path / "1:odd.prompt").write_text("user:\nnot staged\n")
    assert hooks.read_index(hooked.path, ["1:odd.prompt"]) == {"1:odd.prompt": b"user:\nstaged\n"}


def test_warnings_pass_unless_strict(hooked: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    hooked.write(
        {
            "prompts/warn.prompt": "---\nvariables:\n  unused: {type: string, default: x}\n---\nhi\n",
            "prompts/bad.prompt": "---\nvariables: {}\n---\n{{ nope }}\n",
        }
    )
    hooked.git("add", "prompts/warn.prompt")
    res = cli(["hook", "check"], cwd=hooked.path)
    assert res.exit_code == 0
    assert res.out.strip() == (
        "prompts/warn.prompt:3: warning: variable 'unused' is declared but never used"
    )
    res = cli(["hook", "check", "--strict"], cwd=hooked.path)
    assert res.exit_code == 1
    assert "loomgit-check: 1 warning(s) (--strict) in 1 file(s); the commit is blocked." in res.err
    hooked.git("add", "prompts/bad.prompt")
    res = cli(["hook", "check", "--json"], cwd=hooked.path)
    assert res.exit_code == 1
    data = json.loads(res.out)
    assert data["ok"] is False
    assert data["checked"] == ["prompts/bad.prompt", "prompts/warn.prompt"]
    assert [(f["path"], f["level"]) for f in data["findings"]] == [
        ("prompts/bad.prompt", "error"),
        ("prompts/warn.prompt", "warning"),
    ]
    res = cli(["hook", "check"], cwd=hooked.path)
    assert "loomgit-check: 1 error(s) in 1 file(s); the commit is blocked." in res.err
