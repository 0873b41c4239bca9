"""Thin wrappers over the ``git`` command line: the one place loomgit runs git.

loomgit shells out to git (as pre-commit, llm and copier do) rather than using GitPython:
bulk history passes are one streaming ``git log`` and one ``git cat-file --batch``, and
start-up stays fast because no git library is imported.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from loomgit.errors import GitError


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    env["LC_ALL"] = "C"
    return env


def run(
    args: Sequence[str], cwd: str | Path, *, input: bytes | None = None, check: bool = True
) -> bytes:
    """Run ``git ARGS`` in ``cwd`` and return stdout; a failure becomes :class:`GitError`."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=_env())
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if check and proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        msg = err[-1] if err else f"exit status {proc.returncode}"
        raise GitError(f"git {args[0]} failed: {msg.removeprefix('fatal: ')}")
    return proc.stdout


def text(args: Sequence[str], cwd: str | Path, **kw: object) -> str:
    return run(args, cwd, **kw).decode("utf-8", "replace")  # type: ignore[arg-type]


def is_repo(root: str | Path) -> bool:
    return (Path(root) / ".git").exists()


def require_repo(root: str | Path) -> None:
    if not is_repo(root):
        raise GitError(f"{root} is not a git repository (run 'git init' first, or cd into one)")


def ls_files(root: str | Path) -> list[str]:
    """Tracked files plus untracked ones git does not ignore, as repo-relative paths."""
    out = run(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], root)
    return sorted({p for p in out.decode("utf-8", "surrogateescape").split("\0") if p})


def user(root: str | Path) -> str:
    """``Name <email>`` of the configured git user (``unknown`` when unset)."""
    name = text(["config", "user.name"], root, check=False).strip()
    email = text(["config", "user.email"], root, check=False).strip()
    return f"{name} <{email}>" if name or email else "unknown"
