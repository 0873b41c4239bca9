"""Git environments: what hooks and CI set (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE), bare
repositories and repositories without commits, through the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SUMMARIZE, GitRepo

PROMPT = "prompts/support/summarize.prompt"
ID = "support/summarize"
BAD = SUMMARIZE.replace("{{ ticket }}", "{{ ticket }} {{ undeclared }}")
UNDECLARED = "variable 'undeclared' is used but not declared"


def loomgit(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, as a hook or a CI step runs it, with ``env`` added."""
    return subprocess.run(
        [sys.executable, "-m", "loomgit", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )


# --------------------------------------------------------------------- bare repository

BARE_COMMANDS = [
    ["list"],
    ["list", "--ref", "HEAD"],
    ["log", ID],
    ["show", f"{ID}@latest"],
    ["check"],
    ["render", ID],
    ["status"],
    ["stages"],
    ["promote", ID, "1.0.0", "--to", "staging"],
    ["export", "--stage", "staging", "-o", "-"],
    ["hooks", "install"],
]


@pytest.fixture
def bare(sample_repo: GitRepo, tmp_path: Path) -> Path:
    path = tmp_path / "bare.git"
    sample_repo.git("clone", "-q", "--bare", str(sample_repo.path), str(path))
    return path.resolve()


@pytest.mark.parametrize("args", BARE_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_bare_repository_is_named_as_bare(bare: Path, args: list[str]) -> None:
    r = loomgit(args, bare)
    assert r.returncode == 3, r.stderr
    assert r.stderr == (
        f"loomgit: error: {bare} is a bare repository: run loomgit in a clone with a "
        f"work tree (git clone {bare})\n"
    )
    assert r.stdout == ""


@pytest.mark.parametrize("how", ["subfolder", "GIT_DIR"])
def test_a_bare_repository_is_named_from_inside_it_and_through_git_dir(
    bare: Path, tmp_path: Path, how: str
) -> None:
    if how == "subfolder":
        r = loomgit(["list"], bare / "refs")
    else:
        r = loomgit(["list"], tmp_path, GIT_DIR=str(bare))
    assert r.returncode == 3
    assert r.stderr.startswith(f"loomgit: error: {bare} is a bare repository: ")


# ------------------------------------------------------------- GIT_DIR and GIT_WORK_TREE


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere"
    path.mkdir()
    return path


def test_git_dir_and_work_tree_from_another_directory(
    sample_repo: GitRepo, elsewhere: Path
) -> None:
    env = {"GIT_DIR": str(sample_repo.path / ".git"), "GIT_WORK_TREE": str(sample_repo.path)}
    r = loomgit(["list", "--json"], elsewhere, **env)
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(r.stdout)
    assert (row["id"], row["version"], row["modified"]) == (ID, "1.0.0", False)
    r = loomgit(["render", ID, "--var", "ticket=x"], elsewhere, **env)
    assert r.returncode == 0 and "Summarize this ticket: x" in r.stdout, r.stderr
    assert loomgit(["log", ID], elsewhere, **env).stdout.count("1.0.0") == 1
    (sample_repo.path / PROMPT).write_text(SUMMARIZE + "\nmore\n")
    r = loomgit(["status"], elsewhere, **env)
    assert r.returncode == 0 and f"{ID}  {PROMPT}  1.0.0  1.1.0-dev+" in r.stdout


def test_a_work_tree_whose_git_dir_lives_elsewhere(
    sample_repo: GitRepo, tmp_path: Path, elsewhere: Path
) -> None:
    """``git --git-dir=store.git --work-tree=files``: no ``.git`` in the work tree at all."""
    store = tmp_path / "store.git"
    shutil.move(str(sample_repo.path / ".git"), store)
    env = {"GIT_DIR": str(store), "GIT_WORK_TREE": str(sample_repo.path)}
    r = loomgit(["list", "--json"], elsewhere, **env)
    assert r.returncode == 0, r.stderr
    assert [(x["id"], x["version"]) for x in json.loads(r.stdout)] == [(ID, "1.0.0")]
    # relative values, as a hook may set them, are read from the current directory
    rel = {"GIT_DIR": "../store.git", "GIT_WORK_TREE": os.path.relpath(sample_repo.path, elsewhere)}
    r = loomgit(["list", "--json"], elsewhere, **rel)
    assert r.returncode == 0 and json.loads(r.stdout)[0]["version"] == "1.0.0", r.stderr


def test_git_work_tree_alone_with_the_repository_found_from_the_cwd(
    sample_repo: GitRepo, tmp_path: Path
) -> None:
    """GIT_WORK_TREE without GIT_DIR: git finds the repository from the current directory."""
    store = tmp_path / "store"
    store.mkdir()
    shutil.move(str(sample_repo.path / ".git"), store / ".git")
    r = loomgit(["list", "--json"], store, GIT_WORK_TREE=str(sample_repo.path))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["version"] == "1.0.0"


# ------------------------------------------------------------------------ GIT_INDEX_FILE


def test_a_missing_index_file_is_an_empty_index_without_phantom_moves(
    sample_repo: GitRepo, tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-such-index")
    r = loomgit(["status"], sample_repo.path, GIT_INDEX_FILE=missing)
    assert (r.returncode, r.stdout, r.stderr) == (0, "no prompt changes\n", "")
    r = loomgit(["list", "--json"], sample_repo.path, GIT_INDEX_FILE=missing)
    assert json.loads(r.stdout)[0]["version"] == "1.0.0"
    (sample_repo.path / PROMPT).write_text(
        SUMMARIZE.replace("this ticket:", "this ticket briefly:")
    )
    r = loomgit(["status", "--json"], sample_repo.path, GIT_INDEX_FILE=missing)
    (p,) = json.loads(r.stdout)
    assert p["status"] == "modified" and p["change"] == "minor", p
    assert not any("moved from" in x for x in p["reasons"])


# ---------------------------------------------------------------- no commits yet


def test_log_before_the_first_commit_shows_what_list_shows(repo: GitRepo) -> None:
    repo.write({PROMPT: SUMMARIZE})
    (row,) = json.loads(loomgit(["list", "--json"], repo.path).stdout)
    assert row["version"].startswith("1.0.0-dev+")
    r = loomgit(["log", ID], repo.path)
    assert r.returncode == 0, r.stderr
    assert row["version"] in r.stdout and "(no commits yet)" in r.stdout
    (entry,) = json.loads(loomgit(["log", ID, "--json"], repo.path).stdout)
    assert entry["version"] == row["version"] and entry["commit"] is None
    r = loomgit(["show", f"{ID}@latest"], repo.path)
    assert r.returncode == 1
    assert r.stderr == f"loomgit: error: {ID}@latest: the repository has no commits yet\n"
    r = loomgit(["log", "nope"], repo.path)
    assert r.returncode == 1 and r.stderr.startswith("loomgit: error: unknown prompt 'nope'")


def test_log_of_a_new_prompt_not_yet_committed(sample_repo: GitRepo) -> None:
    sample_repo.write({"prompts/support/triage.prompt": SUMMARIZE})
    r = loomgit(["log", "support/triage"], sample_repo.path)
    assert r.returncode == 0, r.stderr
    assert "1.0.0-dev+" in r.stdout and "(not committed yet)" in r.stdout


# ------------------------------------------------- the commit hook under a temporary index


@pytest.fixture
def hooked(sample_repo: GitRepo) -> GitRepo:
    assert loomgit(["hooks", "install"], sample_repo.path).returncode == 0
    sample_repo.commit("notes", {"notes.txt": "one\n"})
    return sample_repo


def commit(repo: GitRepo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "commit", *args], cwd=repo.path, capture_output=True, text=True)


def test_commit_all_checks_the_content_it_commits(hooked: GitRepo) -> None:
    """``git commit -a`` runs the hooks with GIT_INDEX_FILE on a temporary index."""
    head = hooked.git("rev-parse", "HEAD")
    (hooked.path / PROMPT).write_text(BAD)  # not staged: only -a takes it
    r = commit(hooked, "-a", "-m", "bad")
    assert r.returncode == 1 and UNDECLARED in r.stderr
    assert hooked.git("rev-parse", "HEAD") == head
    (hooked.path / PROMPT).write_text(SUMMARIZE.replace("this ticket:", "this ticket briefly:"))
    r = commit(hooked, "-a", "-m", "good")
    assert r.returncode == 0, r.stderr
    assert f"Prompt-Version: {ID} 1.1.0" in hooked.git("log", "-1", "--format=%B")


def test_a_partial_commit_checks_the_paths_it_commits(hooked: GitRepo) -> None:
    """``git commit PATH`` commits PATH as in the work tree, whatever the index holds."""
    head = hooked.git("rev-parse", "HEAD")
    (hooked.path / PROMPT).write_text(SUMMARIZE.replace("this ticket:", "this ticket briefly:"))
    hooked.git("add", PROMPT)  # good content staged...
    (hooked.path / PROMPT).write_text(BAD)  # ...bad content in the work tree
    r = commit(hooked, "-m", "partial", PROMPT)
    assert r.returncode == 1 and UNDECLARED in r.stderr
    assert hooked.git("rev-parse", "HEAD") == head
    # a bad prompt staged, another path committed alone: the prompt is not in this commit
    hooked.git("add", PROMPT)
    (hooked.path / "notes.txt").write_text("two\n")
    r = commit(hooked, "-m", "notes only", "notes.txt")
    assert r.returncode == 0, r.stderr
    assert hooked.git("show", "--name-only", "--format=", "HEAD") == "notes.txt"
    assert "Prompt-Version" not in hooked.git("log", "-1", "--format=%B")


def test_a_linked_worktree_and_its_hook_environment(sample_repo: GitRepo, tmp_path: Path) -> None:
    """In a linked worktree git sets GIT_DIR to .git/worktrees/NAME for its hooks."""
    linked = tmp_path / "linked"
    sample_repo.git("worktree", "add", "-q", str(linked))
    r = loomgit(["list", "--json"], linked / "prompts")
    assert r.returncode == 0 and json.loads(r.stdout)[0]["path"] == PROMPT, r.stderr
    gd = sample_repo.path / ".git" / "worktrees" / "linked"
    r = loomgit(["list", "--json"], linked, GIT_DIR=str(gd))
    assert r.returncode == 0 and json.loads(r.stdout)[0]["version"] == "1.0.0", r.stderr
