"""``loomgit promote`` and ``loomgit rollback``: one commit on a stage branch each.

The commit is built with git plumbing only (:mod:`loomgit._git.objects`) and the branch moves by
compare-and-swap: when another promotion lands first, the stage is read again and the
commit rebuilt on top of it, so concurrent promotions never lose one another.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from loomgit import _git
from loomgit._git import objects
from loomgit._git.refs import branch_ref, compare_and_swap, current_branch, delete_ref
from loomgit.errors import GitError
from loomgit.stages import source as sources
from loomgit.stages.audit import read_log
from loomgit.stages.manifest import Manifest
from loomgit.stages.remote import fetch as fetch_branches
from loomgit.stages.remote import pick_remote
from loomgit.stages.remote import push as push_branch
from loomgit.stages.source import Source
from loomgit.stages.state import (
    StageError,
    StageState,
    check_stage,
    held_on,
    previous_stage,
    read_manifest,
    read_stage,
    verify,
)

if TYPE_CHECKING:
    from loomgit.workspace import Workspace

EvalGate = Callable[["Workspace", Source], object]
"""Checks the version about to be promoted (``--require-eval``); raises to refuse it.
The layer that combines stages with evals passes one in (``loomgit.app.gate``)."""

MAX_ATTEMPTS = 60
_TRAILER_KEY_OK = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True)
class PromoteResult:
    id: str
    version: str
    stage: str
    commit: str | None  # the stage commit (the existing head for a no-op)
    previous_version: str | None
    noop: bool = False
    forced: bool = False
    source_commit: str = ""
    branch: str = ""
    rollback_of: str | None = None
    pushed_to: str | None = None
    attempts: int = 1
    fetched: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "stage": self.stage,
            "commit": self.commit,
            "previous_version": self.previous_version,
            "noop": self.noop,
            "forced": self.forced,
            "source_commit": self.source_commit,
            "branch": self.branch,
            "rollback_of": self.rollback_of,
            "pushed_to": self.pushed_to,
        }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _preflight(ws: Workspace, stage: str) -> None:
    """Checks that hold for every write: a usable repo, a known stage, full history, and
    the stage branch not checked out here (moving it would desync the working tree)."""
    _git.require_repo(ws.root)
    check_stage(ws.config, stage)
    if _git.is_shallow(ws.root):
        raise StageError(
            "this is a shallow clone, so versions and the stage order cannot be "
            "checked; fetch the full history (git fetch --unshallow; in GitHub "
            "Actions: actions/checkout with fetch-depth: 0)"
        )
    branch = branch_ref(ws.config.branch_for(stage))
    if current_branch(ws.root) == branch:
        raise StageError(
            f"the stage branch {branch.removeprefix('refs/heads/')} is checked out "
            "here; switch to another branch first (stage branches are written "
            "only by loomgit)"
        )


def _sync(ws: Workspace, stages: list[str], remote: str | None) -> tuple[str, dict[str, str]]:
    name = pick_remote(ws.root, remote)
    return name, fetch_branches(ws.root, [ws.config.branch_for(s) for s in stages], name)


def _order_refusal(ws: Workspace, src: Source, prev: str, stage: str) -> str | None:
    """Why ``src`` may not go to ``stage`` yet (None when ``prev`` holds or held this very
    content): the gate compares content hashes, not version strings, so a version number
    that names other content after a force-push does not pass."""
    held = held_on(ws, prev, src.id, src.version)
    if any(e.content_hash == src.content_hash for e in held):
        return None
    how = f"(loomgit promote {src.id} {src.version} --to {prev}) or pass --force (recorded)"
    if not held:
        return (
            f"{src.id} {src.version} has not been on {prev}, which comes before {stage}; "
            f"promote it there first {how}"
        )
    there = held[0]
    return (
        f"{src.id} {src.version} on {prev} is content {there.content_hash[:7]} from commit "
        f"{there.source_commit[:7]}; {src.version} on {_origin(ws, src)} is content "
        f"{src.content_hash[:7]} from commit {src.commit[:7]}: promote it to {prev} first {how}"
    )


def _origin(ws: Workspace, src: Source) -> str:
    """Where ``src`` was taken from, for messages: a stage, else the current branch."""
    if src.from_stage:
        return src.from_stage
    branch = current_branch(ws.root)
    return branch.removeprefix("refs/heads/") if branch else "HEAD"


def _clean_trailers(extra: Mapping[str, str] | None) -> dict[str, str]:
    out = {}
    for k, v in (extra or {}).items():
        if not k or not set(k) <= _TRAILER_KEY_OK or not k[0].isalpha():
            raise StageError(f"invalid trailer name {k!r}")
        out[k] = " ".join(str(v).split())
    return out


def _message(subject: str, body: str | None, trailers: dict[str, str]) -> str:
    parts = [subject]
    if body and body.strip():
        parts.append(body.strip())
    parts.append("\n".join(f"{k}: {v}" for k, v in trailers.items() if v))
    return "\n\n".join(parts) + "\n"


def promote(
    ws: Workspace,
    ident: str,
    version_ref: str,
    stage: str,
    *,
    message: str | None = None,
    force: bool = False,
    eval_gate: EvalGate | None = None,
    fetch: bool = False,
    push: bool = False,
    extra_trailers: Mapping[str, str] | None = None,
    remote: str | None = None,
) -> PromoteResult:
    """Put prompt ``ident`` as it was at ``version_ref`` on ``stage`` with one commit.

    ``version_ref`` is a version (``1.2.0``), a prefix (``1.2``), ``latest``, a commit-ish
    or the name of a stage (what that stage holds). The version must be (or have been) on
    the stage before ``stage`` unless ``force``; forcing is recorded as ``Forced: yes``.
    ``eval_gate`` runs when the promotion would change what the stage holds.
    """
    _preflight(ws, stage)
    prev = previous_stage(ws.config, stage)
    fetched: dict[str, str] = {}
    remote_name = None
    if fetch:
        remote_name, fetched = _sync(ws, [s for s in (prev, stage) if s], remote)
    src = sources.resolve(ws, ident, version_ref)
    extra = _clean_trailers(extra_trailers)
    order_forced = False
    refusal = None
    if prev is not None and src.from_stage != prev:
        refusal = _order_refusal(ws, src, prev, stage)
    if refusal is not None:
        if not force:
            raise StageError(refusal)
        order_forced = True
    if eval_gate is not None:
        current = read_stage(ws, stage).manifest.entries.get(src.id)
        if current is None or not current.same_content(src.entry()):
            eval_gate(ws, src)
    return write(
        ws,
        stage,
        src,
        message=message,
        forced=order_forced,
        force_unverified=force,
        push=push,
        remote=remote_name or remote,
        extra_trailers=extra,
        fetched=fetched,
    )


def write(
    ws: Workspace,
    stage: str,
    src: Source,
    *,
    message: str | None = None,
    forced: bool = False,
    force_unverified: bool = False,
    push: bool = False,
    remote: str | None = None,
    extra_trailers: dict[str, str] | None = None,
    rollback_of: str | None = None,
    fetched: dict[str, str] | None = None,
) -> PromoteResult:
    """Commit ``src`` onto ``stage`` (compare-and-swap, retried on a lost race)."""
    root = ws.root
    by = _git.identity(root)
    rng = random.Random()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        state = read_stage(ws, stage)
        base = _trusted_manifest(ws, state, force_unverified)
        current = base.entries.get(src.id)
        if current is not None and current.same_content(src.entry()) and rollback_of is None:
            pushed = None
            if push and state.head:  # nothing new here, but the remote may lack it
                pushed = pick_remote(ws.root, remote)
                push_branch(ws.root, state.branch, state.head, pushed)
            return PromoteResult(
                src.id,
                src.version,
                stage,
                state.head,
                current.version,
                noop=True,
                source_commit=current.source_commit,
                branch=state.branch,
                pushed_to=pushed,
                attempts=attempt,
                fetched=fetched or {},
            )
        entry = src.entry().stamped(by, _now(), forced)
        manifest = base.with_entry(entry)
        mblob = objects.hash_blob(root, manifest.dumps())
        tree = objects.write_tree(root, manifest.tree_files(mblob))
        trailers = {
            "Prompt": src.id,
            "Version": src.version,
            "Source-Commit": src.commit,
            "Promoted-By": by,
        }
        if forced:
            trailers["Forced"] = "yes"
        if rollback_of:
            trailers["Rollback-Of"] = rollback_of
        trailers.update(extra_trailers or {})
        if rollback_of:
            subject = f"rollback {src.id} on {stage} to {src.version} (from {rollback_of})"
        else:
            subject = f"promote {src.id} {src.version} to {stage}"
        commit = objects.commit_tree(root, tree, state.head, _message(subject, message, trailers))
        if compare_and_swap(root, state.ref, commit, state.head, f"loomgit: {subject}"):
            pushed = None
            if push:
                pushed = _push_or_restore(ws, state, commit, remote)
            return PromoteResult(
                src.id,
                src.version,
                stage,
                commit,
                current.version if current else None,
                forced=forced,
                source_commit=src.commit,
                branch=state.branch,
                rollback_of=rollback_of,
                pushed_to=pushed,
                attempts=attempt,
                fetched=fetched or {},
            )
        time.sleep(rng.uniform(0.005, 0.05) * min(attempt, 8))
    raise StageError(
        f"{stage}: the stage branch kept moving; gave up after {MAX_ATTEMPTS} "
        "attempts (too many promotions at once?); run the command again"
    )


def _trusted_manifest(ws: Workspace, state: StageState, force: bool) -> Any:
    """The manifest to build on: the head's, unless the head was tampered with."""
    problems = verify(ws, state)
    if not problems:
        return state.manifest
    if state.manifest_error and "upgrade loomgit" in state.manifest_error:
        raise StageError(f"{state.branch}: {state.manifest_error}")  # never rebuilt by --force
    if not force:
        raise StageError(
            f"{state.branch} does not match its manifest ({problems[0]}): someone "
            "changed it by hand; 'loomgit stages' shows what. --force builds the "
            "next commit from the last manifest loomgit wrote, dropping hand-made "
            "changes"
        )
    return _last_good_manifest(ws, state)


def _last_good_manifest(ws: Workspace, state: StageState) -> Any:
    for c in read_log(ws.root, state.ref):
        if not c.by_loomgit:
            continue
        manifest, _, err = read_manifest(ws.root, c.sha, state.stage)
        if err is None:
            return manifest
    return Manifest(state.stage)


def _push_or_restore(ws: Workspace, state: StageState, commit: str, remote: str | None) -> str:
    name = None
    try:
        name = pick_remote(ws.root, remote)
        push_branch(ws.root, state.branch, commit, name)
        return name
    except (StageError, GitError) as e:
        restored = _restore(ws, state, commit)
        if not restored:
            e.message += (
                f" (note: {state.branch} moved again meanwhile, so the local promotion was kept)"
            )
        raise


def _restore(ws: Workspace, state: StageState, commit: str) -> bool:
    if state.head is None:
        return delete_ref(ws.root, state.ref, commit)
    return compare_and_swap(
        ws.root, state.ref, state.head, commit, "loomgit: push rejected, promotion undone"
    )
