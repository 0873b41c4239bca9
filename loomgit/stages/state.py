"""Reading stages: what a stage branch holds, its audit problems, and stage references."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loomgit import _git
from loomgit._git import objects
from loomgit._git.refs import branch_ref, read_ref
from loomgit.errors import LoomgitError, RefError
from loomgit.prompt.discover import glob_for
from loomgit.prompt.includes import FILE_MODES, Roots, guarded, include_roots
from loomgit.prompt.parse import decode, parse_prompt
from loomgit.prompt.toolspec import resolve_tools
from loomgit.stages.audit import (
    Promotion,
    StageCommit,
    hand_commits,
    promotions,
    read_log,
    tree_problems,
)
from loomgit.stages.manifest import MANIFEST_FILE, Entry, Manifest, ManifestError, loads

if TYPE_CHECKING:
    from loomgit.config import Config
    from loomgit.history.lookup import Resolved
    from loomgit.stages.audit import Promotion, StageCommit
    from loomgit.workspace import Workspace


class StageError(LoomgitError):
    """A promotion or rollback that cannot be done as asked (exit 1, nothing written)."""


def check_stage(config: Config, stage: str) -> None:
    if stage not in config.stages:
        raise StageError(
            f"unknown stage {stage!r}; the stages are "
            f"{', '.join(config.stages)} (set 'stages:' in loomgit.yaml)"
        )


def previous_stage(config: Config, stage: str) -> str | None:
    i = config.stages.index(stage)
    return config.stages[i - 1] if i > 0 else None


@dataclass(frozen=True)
class StageState:
    """A stage branch as it is now."""

    stage: str
    branch: str
    head: str | None
    manifest: Manifest
    manifest_blob: str | None = None
    manifest_error: str | None = None

    @property
    def ref(self) -> str:
        return branch_ref(self.branch)


def read_manifest(root: Any, commit: str, stage: str) -> tuple[Manifest, str | None, str | None]:
    """(manifest, its blob id, error) of a stage commit; an unreadable one is empty + error."""
    name = f"{commit}:{MANIFEST_FILE}"
    found = objects.read_many_objects(root, [name]).get(name)
    if found is None:
        return Manifest(stage), None, f"{MANIFEST_FILE} is missing"
    blob, data = found
    try:
        return loads(data, stage), blob, None
    except ManifestError as e:
        return Manifest(stage), blob, str(e)


def read_stage(ws: Workspace, stage: str) -> StageState:
    check_stage(ws.config, stage)
    _git.require_repo(ws.root)
    branch = ws.config.branch_for(stage)
    head = read_ref(ws.root, branch_ref(branch))
    if head is None:
        return StageState(stage, branch, None, Manifest(stage))
    manifest, blob, err = read_manifest(ws.root, head, stage)
    return StageState(stage, branch, head, manifest, blob, err)


def stage_versions(ws: Workspace) -> dict[str, dict[str, str]]:
    """``{stage: {id: version}}`` for every configured stage (one git process in all)."""
    cfg = ws.config
    if not _git.is_repo(ws.root):
        return {s: {} for s in cfg.stages}
    names = {s: f"{branch_ref(cfg.branch_for(s))}:{MANIFEST_FILE}" for s in cfg.stages}
    blobs = objects.read_many(ws.root, names.values())
    out: dict[str, dict[str, str]] = {}
    for s, name in names.items():
        data = blobs.get(name)
        versions: dict[str, str] = {}
        if data is not None:
            try:
                versions = loads(data, s).versions()
            except ManifestError:
                versions = {}
        out[s] = versions
    return out


def held_on(ws: Workspace, stage: str, ident: str, version: str) -> list[Entry]:
    """The entries ``stage`` holds or ever held for ``ident`` at ``version``, newest
    first: one per distinct content (after a force-push one version number can name
    different content, so the order gate compares these by content hash)."""
    state = read_stage(ws, stage)
    if state.head is None:
        return []
    held: list[Entry] = []
    now = state.manifest.entries.get(ident)
    if now is not None and now.version == version:
        held.append(now)
    commits = [
        p.commit
        for p in promotions(stage, read_log(ws.root, state.ref), ident)
        if p.version == version
    ]
    blobs = objects.read_many(ws.root, [f"{c}:{MANIFEST_FILE}" for c in commits])
    for c in commits:
        data = blobs.get(f"{c}:{MANIFEST_FILE}")
        try:
            e = loads(data, stage).entries.get(ident) if data is not None else None
        except ManifestError:
            continue
        if e is not None and e.version == version:
            held.append(e)
    unique: dict[str, Entry] = {}
    for e in held:
        unique.setdefault(e.content_hash, e)
    return list(unique.values())


@dataclass(frozen=True)
class StageReport:
    """A stage for ``loomgit stages``: what it holds, recent promotions, problems."""

    state: StageState
    promotions: list[Promotion] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    hand_commits: list[StageCommit] = field(default_factory=list)
    off_main: dict[str, str] = field(default_factory=dict)  # id -> why it is not on main

    def to_dict(self) -> dict[str, Any]:
        st = self.state
        return {
            "stage": st.stage,
            "branch": st.branch,
            "commit": st.head,
            "prompts": {
                i: {
                    "version": e.version,
                    "content_hash": e.content_hash,
                    "source_commit": e.source_commit,
                    "path": e.path,
                    "promoted_by": e.promoted_by,
                    "promoted_at": e.promoted_at,
                    "forced": e.forced,
                    "on_main": i not in self.off_main,
                    "main_note": self.off_main.get(i),
                }
                for i, e in sorted(st.manifest.entries.items())
            },
            "promotions": [p.to_dict() for p in self.promotions],
            "problems": list(self.problems),
            "hand_commits": [
                {"commit": c.sha, "author": c.author, "date": c.date, "subject": c.subject}
                for c in self.hand_commits
            ],
        }


def verify(ws: Workspace, state: StageState) -> list[str]:
    """Why the stage head cannot be trusted as loomgit wrote it (empty when it can)."""
    if state.head is None:
        return []
    if state.manifest_error:
        return [state.manifest_error]
    assert state.manifest_blob is not None
    problems = tree_problems(ws.root, state.head, state.manifest.tree_files(state.manifest_blob))
    # a source commit this clone does not have (promoted elsewhere, its branch never
    # fetched) cannot be checked; the stage tree itself still holds every file
    present = objects.object_ids(
        ws.root, sorted({e.source_commit for e in state.manifest.entries.values()}), "commit"
    )
    entries = [e for e in state.manifest.entries.values() if present.get(e.source_commit)]
    names = [f"{e.source_commit}:{p}" for e in entries for p in e.files()]
    found = objects.object_ids(ws.root, names)
    for e in entries:
        for p, blob in e.files().items():
            if found.get(f"{e.source_commit}:{p}") != blob:
                problems.append(
                    f"{e.id} {e.version}: {p} is not the file of source commit "
                    f"{e.source_commit[:12]}"
                )
    return problems


def report(ws: Workspace, stage: str, limit: int = 5) -> StageReport:
    state = read_stage(ws, stage)
    if state.head is None:
        return StageReport(state)
    log = read_log(ws.root, state.ref)
    hand = hand_commits(log)
    problems = verify(ws, state)
    problems += [
        f"commit {c.sha[:12]} was not made by loomgit ({c.author}, {c.date[:10]}: {c.subject!r})"
        for c in hand
    ]
    return StageReport(state, promotions(stage, log)[:limit], problems, hand)


def stage_promotions(ws: Workspace, ident: str, stage: str) -> list[Promotion]:
    """The promotions (and rollbacks) of one prompt on ``stage``, newest first.

    ``ident`` may be an id or a path of the working tree; ids no longer in the working
    tree work too.
    """
    state = read_stage(ws, stage)
    if state.head is None:
        return []
    return promotions(stage, read_log(ws.root, state.ref), canonical_id(ws, ident, state))


def canonical_id(ws: Workspace, ident: str, state: StageState | None = None) -> str:
    """``ident`` as the id a stage knows it by (a path or id suffix of the working tree
    becomes the full id; an id only on the stage stays as given)."""
    if state is not None and ident in state.manifest.entries:
        return ident
    try:
        return ws.find(ident).id
    except LoomgitError:
        return ident


def resolve_stage(ws: Workspace, ident: str, stage: str) -> Resolved:
    """The prompt ``stage`` holds for ``ident`` (``ID@production``), with a loader that
    reads its included files as they were promoted."""
    from loomgit.history.lookup import Resolved

    state = read_stage(ws, stage)
    if state.head is None:
        raise RefError(
            f"stage {stage!r} has no promotions yet (branch {state.branch} does "
            "not exist; 'loomgit promote ID VERSION --to "
            f"{stage}' creates it)"
        )
    if state.manifest_error:
        raise RefError(f"stage {stage!r}: {state.manifest_error} (see 'loomgit stages')")
    ident = canonical_id(ws, ident, state)
    entry = state.manifest.entries.get(ident)
    if entry is None:
        held = ", ".join(sorted(state.manifest.entries)) or "nothing"
        raise RefError(f"{ident!r} is not on stage {stage!r} (it holds {held})")
    data = objects.read_blob(ws.root, entry.blob)
    if data is None:
        raise RefError(f"{ident}@{stage}: blob {entry.blob[:12]} is missing from the repository")
    glob = glob_for(ws.config, entry.path)
    prompt = parse_prompt(decode(data, entry.path), entry.path, prompt_id=ident, glob=glob)
    loader = blob_loader(ws.root, entry.includes, include_roots(ws.config))
    return Resolved(
        resolve_tools(prompt, loader),
        loader,
        entry.version,
        entry.source_commit,
    )


def blob_loader(root: Any, includes: dict[str, str], roots: Roots) -> Any:
    """An include loader over the blobs a manifest entry recorded (read on first use),
    under the include rule of :mod:`loomgit.prompt.includes`."""

    def lookup(name: str) -> tuple[str, bytes | None] | None:
        if name not in includes:
            return None
        data = objects.read_blob(root, includes[name])
        return None if data is None else (FILE_MODES[0], data)

    return guarded(lookup, roots)
