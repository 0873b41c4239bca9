"""Stage branches and the remote: ``--fetch`` brings the remote's stages in, ``--push``
sends a promotion out. A push never forces; the remote accepts it only as a fast-forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from loomgit._git import refs as git_refs
from loomgit._git.refs import branch_ref, is_ancestor, read_ref
from loomgit.errors import GitError, InfraError
from loomgit.stages.state import StageError


class PushRejected(StageError):
    """The remote refused the stage branch (it moved since the last fetch)."""


def pick_remote(root: str | Path, name: str | None = None) -> str:
    remotes = git_refs.remotes(root)
    if name:
        if name not in remotes:
            raise StageError(
                f"no git remote named {name!r} (remotes: {', '.join(remotes) or 'none'})"
            )
        return name
    if "origin" in remotes:
        return "origin"
    if len(remotes) == 1:
        return remotes[0]
    if not remotes:
        raise StageError(
            "--fetch/--push need a git remote, and this repository has none "
            "(git remote add origin URL)"
        )
    raise StageError(f"several git remotes ({', '.join(remotes)}); name one with --remote")


def _remote_heads(root: str | Path, remote: str, refs: Sequence[str]) -> dict[str, str]:
    res = git_refs.remote_heads(root, remote, refs)
    if not res.ok:
        raise InfraError(f"cannot reach remote {remote!r}: {res.reason()}")
    return git_refs.parse_ls_remote(res, refs)


def fetch(root: str | Path, branches: Sequence[str], remote: str) -> dict[str, str]:
    """Fetch the remote's stage branches and fast-forward the local ones to them.

    Returns ``{branch: what happened}``. A local stage branch that has diverged from the
    remote's is an error (nothing is changed).
    """
    refs = [branch_ref(b) for b in branches]
    heads = _remote_heads(root, remote, refs)
    result: dict[str, str] = {}
    if heads:
        specs = [f"+{r}:refs/remotes/{remote}/{r.removeprefix('refs/heads/')}" for r in heads]
        res = git_refs.fetch(root, remote, specs)
        if not res.ok:
            raise InfraError(f"git fetch from {remote!r} failed: {res.reason()}")
    for branch, ref in zip(branches, refs):
        theirs = heads.get(ref)
        ours = read_ref(root, ref)
        if theirs is None:
            result[branch] = "not on the remote"
        elif ours == theirs:
            result[branch] = "up to date"
        elif ours is None or is_ancestor(root, ours, theirs):
            if not git_refs.compare_and_swap(
                root, ref, theirs, ours, f"loomgit: fetch {branch} from {remote}"
            ):
                raise StageError(
                    f"{branch} moved while it was being updated from {remote}; "
                    "run the command again"
                )
            result[branch] = "updated"
        elif is_ancestor(root, theirs, ours):
            result[branch] = "ahead of the remote"
        else:
            raise StageError(
                f"{branch} and {remote}/{branch} have diverged (both have promotions the other "
                f"lacks); compare them with 'git log {branch} {remote}/{branch}', then keep the "
                f"remote's with 'git branch -f {branch} {remote}/{branch}' and promote again"
            )
    return result


def push(root: str | Path, branch: str, commit: str, remote: str) -> None:
    """Push ``commit`` to the remote's ``branch`` as a fast-forward (never forced)."""
    ref = branch_ref(branch)
    res = git_refs.push(root, remote, f"{commit}:{ref}")
    if res.ok:
        return
    text = res.out + res.stderr.decode("utf-8", "replace")
    if (
        "[rejected]" in text
        or "non-fast-forward" in text
        or "fetch first" in text
        or "[remote rejected]" in text
    ):
        reason = (
            "its stage has promotions this clone has not fetched"
            if ("fetch first" in text or "non-fast-forward" in text)
            else "the remote refused it"
        )
        raise PushRejected(
            f"push of {branch} to {remote} was rejected ({reason}); the local "
            "stage is left as it was: run the command again with --fetch --push"
        )
    raise GitError(
        f"push of {branch} to {remote} failed: {res.reason()}; the local stage is left as it was"
    )
