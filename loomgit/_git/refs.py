"""References: reading them, moving a branch by compare-and-swap, and the remote.

A branch moves only with ``update-ref REF NEW OLD``, which git applies atomically and
only if the branch still points at ``OLD``: concurrent writers never lose one another.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from loomgit._git.run import NULL_SHA, Result, git, text
from loomgit.errors import GitError

_SHA = re.compile(r"[0-9a-f]{40,64}")
# update-ref's messages when the ref was not where the caller expected (a lost race)
_MOVED = (
    "but expected",
    "cannot lock ref",
    "already exists",
    "unable to resolve reference",
    "is at ",
    "reference already",
)


def branch_ref(branch: str) -> str:
    return branch if branch.startswith("refs/") else f"refs/heads/{branch}"


def resolve_commit(root: str | Path, rev: str) -> str | None:
    """The full sha of the commit ``rev`` names, or None (unborn HEAD, unknown name)."""
    if not rev or rev.startswith("-"):
        return None
    res = git(
        ["rev-parse", "-q", "--verify", "--end-of-options", f"{rev}^{{commit}}"], root, check=False
    )
    sha = res.out.strip()
    return sha if res.ok and _SHA.fullmatch(sha) else None


def read_ref(root: str | Path, ref: str) -> str | None:
    """The commit ``ref`` points at, or None when it does not exist."""
    return resolve_commit(root, ref)


def head_commit(root: str | Path) -> str | None:
    """The commit HEAD points at, or None before the first commit."""
    return resolve_commit(root, "HEAD")


def current_branch(root: str | Path) -> str | None:
    """``refs/heads/...`` that HEAD is on, or None when detached."""
    return text(["symbolic-ref", "-q", "HEAD"], root, check=False).strip() or None


def branch_refs(root: str | Path) -> dict[str, str]:
    """refname -> sha for local branches and origin's remote branches, plus ``origin/HEAD``'s
    target under the key ``"origin/HEAD"``."""
    out = text(
        [
            "for-each-ref",
            "--format=%(refname)%00%(objectname)%00%(symref)",
            "refs/heads",
            "refs/remotes/origin",
        ],
        root,
        check=False,
    )
    refs: dict[str, str] = {}
    for line in out.splitlines():
        name, _, rest = line.partition("\0")
        sha, _, sym = rest.partition("\0")
        if name == "refs/remotes/origin/HEAD" and sym:
            refs["origin/HEAD"] = sym.removeprefix("refs/remotes/origin/")
        else:
            refs[name] = sha
    return refs


def compare_and_swap(root: str | Path, ref: str, new: str, old: str | None, reason: str) -> bool:
    """Move ``ref`` to ``new`` only if it still points at ``old`` (None: must not exist).

    Returns False when another writer moved it first (the caller re-reads and retries).
    """
    res = git(
        ["update-ref", "-m", reason, "--create-reflog", ref, new, old or NULL_SHA],
        root,
        check=False,
    )
    if res.ok:
        return True
    if any(s in res.stderr.decode("utf-8", "replace") for s in _MOVED):
        return False
    raise GitError(f"git update-ref failed: {res.reason()}")


def delete_ref(root: str | Path, ref: str, old: str) -> bool:
    """Delete ``ref`` only if it still points at ``old``; False when it moved."""
    return git(["update-ref", "-d", ref, old], root, check=False).ok


def is_ancestor(root: str | Path, a: str, b: str) -> bool:
    return git(["merge-base", "--is-ancestor", a, b], root, check=False).ok


def merge_base(root: str | Path, a: str, b: str) -> str | None:
    return text(["merge-base", a, b], root, check=False).strip() or None


# --- the remote -------------------------------------------------------------------------


def remotes(root: str | Path) -> list[str]:
    return text(["remote"], root).split()


def remote_heads(root: str | Path, remote: str, refs: Sequence[str]) -> Result:
    """``git ls-remote --heads REMOTE REFS`` (the caller words a failure)."""
    return git(["ls-remote", "--heads", remote, *refs], root, check=False)


def parse_ls_remote(res: Result, refs: Sequence[str]) -> dict[str, str]:
    heads = {}
    for line in res.out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref in refs:
            heads[ref] = sha
    return heads


def fetch(root: str | Path, remote: str, specs: Sequence[str]) -> Result:
    """``git fetch`` of ``specs`` from ``remote``, no tags (the caller words a failure)."""
    return git(["fetch", "--no-tags", "--quiet", remote, *specs], root, check=False)


def push(root: str | Path, remote: str, spec: str) -> Result:
    """``git push --porcelain REMOTE SPEC``, never forced (the caller words a failure)."""
    return git(["push", "--porcelain", remote, spec], root, check=False)
