"""Which prompts a pull request changes: the commits to compare (its base and the
checked-out head), the paths that differ, and the ``prompts`` input's selection."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from loomgit import _git
from loomgit._git import index, refs
from loomgit.errors import GitError, UsageError
from loomgit.evals.engine import SuiteRef
from loomgit.github import ActionsEnv
from loomgit.prompt.discover import is_suite, match
from loomgit.workspace import Workspace


def require_full_history(root: str | Path) -> None:
    """A shallow clone has neither the base commit nor the history versions come from."""
    _git.require_repo(root)
    if _git.is_shallow(root):
        raise GitError(
            "this is a shallow clone: loomgit needs the base commit and the "
            "history of the prompts; check out with `fetch-depth: 0` "
            "(actions/checkout) or run `git fetch --unshallow`"
        )


def _commit(root: str | Path, ref: str) -> str | None:
    if ref.startswith("-"):
        return None
    return refs.resolve_commit(root, ref)


@dataclass(frozen=True)
class Range:
    base: str  # the commit the head is compared with (merge base of base and head)
    head: str
    base_label: str
    head_label: str


def resolve_range(root: str | Path, env: ActionsEnv, base: str | None = None) -> Range:
    """The commits to compare: ``base`` (an option), else the pull request's base commit
    from the event, else ``origin/$GITHUB_BASE_REF``; the head is ``HEAD`` (what
    actions/checkout checked out: the PR's merge commit)."""
    require_full_history(root)
    head = _commit(root, "HEAD")
    if head is None:
        raise GitError("HEAD is not a commit: is anything checked out?")
    pr = env.pull_request
    if base:
        sha = _commit(root, base) or _commit(root, f"origin/{base}")
        if sha is None:
            raise UsageError(
                f"base {base!r} is not a commit or branch in this clone "
                "(check out with `fetch-depth: 0`, or fetch it)"
            )
        label = base
    elif pr is not None:
        sha = _commit(root, pr.base_sha)
        if sha is None:
            raise GitError(
                f"the pull request's base commit {pr.base_sha[:7]} is not in this "
                "clone: check out with `fetch-depth: 0`"
            )
        label = pr.base_ref
    elif env.base_ref:
        sha = _commit(root, f"origin/{env.base_ref}") or _commit(root, env.base_ref)
        if sha is None:
            raise GitError(
                f"the base branch {env.base_ref!r} is not in this clone: "
                "check out with `fetch-depth: 0`"
            )
        label = env.base_ref
    else:
        raise UsageError(
            "no base to compare with: run on a pull_request event, or pass "
            "--base REF (the action's `base` input)"
        )
    mb = refs.merge_base(root, sha, head)
    head_label = f"#{pr.number}, head {pr.head_sha[:7]}" if pr is not None else "HEAD"
    return Range(mb or sha, head, label, head_label)


def selected(ref: SuiteRef, patterns: Sequence[str]) -> bool:
    if not patterns:
        return True
    names = (ref.prompt.id, ref.prompt.path, ref.suite_path)
    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names)


def selected_id(pid: str, path: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in (pid, path))


def prompt_id(ws: Workspace, path: str) -> str | None:
    """The id a (deleted) file had under the prompt globs, if it was a prompt."""
    if is_suite(path):
        return None
    for spec in ws.config.prompts:
        pid = match(spec, path)
        if pid is not None:
            return pid
    return None


def changed_paths(root: str | Path, base: str, head: str) -> dict[str, str]:
    """path -> git status letter (A, M, D, R...) between base and head, working tree included."""
    return index.name_status(root, base)
