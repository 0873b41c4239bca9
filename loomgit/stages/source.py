"""What is being promoted: a prompt version's file and included files as blobs of a commit.

A :class:`Source` names blobs already in the object database (the prompt file and its
includes at the version's commit), so promoting copies no content: the stage tree simply
points at those blobs. Version numbers come from the history module; nothing here
computes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loomgit._git.objects import BlobReader
from loomgit.errors import LoomgitError, RefError
from loomgit.prompt.includes import blob_entry, include_roots, name_allowed
from loomgit.prompt.jinja import referenced_templates
from loomgit.stages.manifest import Entry
from loomgit.stages.state import canonical_id, read_stage

if TYPE_CHECKING:
    from loomgit.workspace import Workspace

_MAX_INCLUDES = 64


@dataclass(frozen=True)
class Source:
    id: str
    version: str
    commit: str
    path: str
    content_hash: str
    blob: str
    includes: dict[str, str] = field(default_factory=dict)  # path -> blob id
    from_stage: str | None = None

    def entry(self) -> Entry:
        return Entry(
            self.id,
            self.version,
            self.content_hash,
            self.commit,
            self.path,
            self.blob,
            dict(self.includes),
        )


def from_entry(e: Entry, stage: str | None = None) -> Source:
    return Source(
        e.id, e.version, e.source_commit, e.path, e.content_hash, e.blob, dict(e.includes), stage
    )


def include_names(source: str) -> list[str]:
    """Names a template includes/imports literally (as the renderer would look them up)."""
    return referenced_templates(source)


def at_commit(
    ws: Workspace, ident: str, version: str, commit: str, path: str, content_hash: str
) -> Source:
    """The blobs of ``path`` and of every file it includes (transitively) at ``commit``."""
    with BlobReader(ws.root) as reader:
        main = f"{commit}:{path}"
        found = reader.read_objects([main]).get(main)
        if found is None:
            raise RefError(f"{ident} {version}: {path} is not in commit {commit[:12]}")
        blob, data = found
        includes: dict[str, str] = {}
        roots = include_roots(ws.config)
        todo = _names_in(data)
        seen: set[str] = set()
        while todo and len(seen) < _MAX_INCLUDES:
            name = todo.pop(0)
            if name in seen or not name_allowed(name, roots):
                continue  # rendering names a refused include
            seen.add(name)
            got = blob_entry(ws.root, commit, name)
            if got is None:
                continue  # the renderer will name the missing (or refused) include
            includes[name] = got[0]
            todo += _names_in(got[1])
    return Source(ident, version, commit, path, content_hash, blob, includes)


def _names_in(data: bytes) -> list[str]:
    try:
        return include_names(data.decode("utf-8"))
    except UnicodeDecodeError:
        return []


def resolve(ws: Workspace, ident: str, ref: str) -> Source:
    """``ref`` for prompt ``ident``: a stage name (what that stage holds) or a version
    reference the history module understands (``1.2.0``, ``1.2``, ``latest``, a commit)."""
    if ref in ws.config.stages:
        state = read_stage(ws, ref)
        if state.manifest_error:
            raise RefError(f"stage {ref!r}: {state.manifest_error} (see 'loomgit stages')")
        ident = canonical_id(ws, ident, state)
        e = state.manifest.entries.get(ident)
        if e is None:
            raise RefError(
                f"{ident!r} is not on stage {ref!r}, so there is nothing to take from it"
            )
        return from_entry(e, ref)
    return from_history(ws, ident, ref)


def from_history(ws: Workspace, ident: str, ref: str) -> Source:
    """The version ``ref`` names, as the history module computes it."""
    # on use: importing loomgit.stages (as loomgit.load does to read a stage) must not
    # load the history package, which only promotion needs
    from loomgit import history

    pid = ws.find(ident).id if _exists(ws, ident) else ident
    res = history.resolve_at(ws, pid, ref)
    if not res.version or not res.commit:
        raise RefError(
            f"{pid}@{ref} is not a committed version; only committed versions can be promoted"
        )
    if "-" in res.version or "+" in res.version:
        raise RefError(
            f"{pid}@{ref} is {res.version}, a provisional version (made off the main "
            "branch); merge it, then promote the version it gets there"
        )
    ver = next(
        (v for v in reversed(history.versions(ws, pid, res.commit)) if v.version == res.version),
        None,
    )
    if ver is None:
        raise RefError(f"{pid}: version {res.version} is not in its history at {res.commit[:12]}")
    if ver.blob and ver.includes is not None:
        return Source(
            pid, ver.version, ver.commit, ver.path, ver.content_hash, ver.blob, dict(ver.includes)
        )
    return at_commit(ws, pid, ver.version, ver.commit, ver.path, ver.content_hash)


def _exists(ws: Workspace, ident: str) -> bool:
    try:
        ws.find(ident)
        return True
    except LoomgitError:
        return False
