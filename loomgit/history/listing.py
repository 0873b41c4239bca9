"""``loomgit list``: every prompt with its current version and last change, annotated
with the versions stages hold when the caller gives them (:func:`loomgit.refs.listing`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loomgit.errors import LoomgitError
from loomgit.findings import Finding, warning
from loomgit.history.pending import pending_changes
from loomgit.history.repo import Repo, lines_state
from loomgit.history.repo import hold_refs as hold_refs  # for the list command
from loomgit.history.versions import History, Version, folded, history

if TYPE_CHECKING:
    from loomgit.workspace import Workspace


@dataclass(frozen=True)
class Listed:
    id: str
    path: str
    version: str | None
    content_hash: str
    last_commit: dict[str, str] | None  # {sha, date, author, subject} of the newest version
    modified: bool = False  # uncommitted changes (the version is then a -dev version)
    stages: dict[str, str | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "version": self.version,
            "content_hash": self.content_hash,
            "last_commit": self.last_commit,
            "modified": self.modified,
            "stages": dict(self.stages),
        }


def _last(v: Version | None) -> dict[str, str] | None:
    if v is None:
        return None
    return {"sha": v.commit, "date": v.date, "author": v.author, "subject": v.subject}


def listing(
    ws: Workspace,
    ref: str | None = None,
    stages: Mapping[str, Mapping[str, str]] | None = None,
) -> list[Listed]:
    """Prompts of the working tree (``ref=None``; uncommitted ones get a ``-dev`` version)
    or of a commit, sorted by id. ``stages``: ``{stage: {id: version}}`` to annotate with."""
    h = history(ws, ref or "HEAD")
    stages = stages or {}
    rows: list[Listed] = []

    def with_stages(pid: str) -> dict[str, str | None]:
        return {s: stages.get(s, {}).get(pid) for s in ws.config.stages} if stages else {}

    if ref is not None:
        for e in h.live():
            v = h.latest_of(e.key)
            assert v is not None
            rows.append(
                Listed(e.id, e.path, v.version, v.content_hash, _last(v), stages=with_stages(e.id))
            )
        return rows
    pend = {p.path: p for p in pending_changes(ws, "worktree")}
    for pf in ws.files():
        key = h.key_for(pf.path, pf.id)
        committed = h.latest_of(key) if key is not None else None
        p = pend.get(pf.path)
        if p is not None:
            rows.append(
                Listed(
                    pf.id,
                    pf.path,
                    p.version,
                    p.content_hash,
                    _last(committed),
                    modified=True,
                    stages=with_stages(pf.id),
                )
            )
        elif committed is not None:
            rows.append(
                Listed(
                    pf.id,
                    pf.path,
                    committed.version,
                    committed.content_hash,
                    _last(committed),
                    stages=with_stages(pf.id),
                )
            )
        else:  # ignored by git, or otherwise unseen: no version
            rows.append(Listed(pf.id, pf.path, None, "", None, stages=with_stages(pf.id)))
    return sorted(rows, key=lambda r: r.id)


@dataclass(frozen=True)
class Unfollowed:
    """A prompt whose first version is a move loomgit could not follow."""

    id: str
    path: str
    old_path: str
    why: str

    @property
    def message(self) -> str:
        return (
            f"{self.id}: its history begins with a move from {self.old_path} that loomgit "
            f"could not follow: {self.why}; versions before the move are not counted"
        )


def unfollowed_findings(ws: Workspace) -> list[Finding]:
    """``check``'s warnings for :func:`unfollowed` prompts at HEAD (none outside a git
    repository, before the first commit, or in a shallow clone)."""
    try:
        found = unfollowed(ws)
    except LoomgitError:
        return []
    return [warning(u.path, None, u.message) for u in found]


def moves_history(ws: Workspace, ref: str = "HEAD") -> History:
    """Where each prompt is at ``ref`` and the moves that began its line: :func:`history`
    when some history is folded already, else a lines-only fold, which reads no prompt
    text (its versions are not real, and it is not saved)."""
    repo = Repo.of(ws)
    repo.check_shallow()
    sha = repo.commit(ref)
    if sha is None or folded(repo, sha):
        return history(ws, ref)
    return History(repo, sha, lines_state(repo, sha))


def unfollowed(ws: Workspace, ref: str = "HEAD") -> list[Unfollowed]:
    """The prompts at ``ref`` whose history begins with a move from a path loomgit could
    not follow (a rename git did not detect, or an old file that is not a prompt)."""
    h = moves_history(ws, ref)
    if h.commit is None:
        return []
    out = []
    for e in h.live():
        got = h.state.unfollowed.get(e.key)
        if got is not None:
            out.append(Unfollowed(e.id, e.path, got[0], got[1]))
    return out
