"""Versions that uncommitted changes would get: ``loomgit status``, the commit-message
hook, and the version shown for a working-tree prompt."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loomgit._git import EMPTY_TREE, index
from loomgit._git import log as gitlog
from loomgit._git.objects import BlobReader
from loomgit.errors import LoomgitError, UsageError
from loomgit.history.bump import bump, classify_facts
from loomgit.history.facts import Facts, FactsBuilder
from loomgit.history.fold import Folder, Line, State
from loomgit.history.repo import Repo
from loomgit.history.versions import FactReader, History, Version, history
from loomgit.prompt.discover import glob_for
from loomgit.prompt.includes import FILE_MODES

if TYPE_CHECKING:
    from loomgit.prompt.model import Prompt
    from loomgit.workspace import Workspace

UNCOMMITTED = "0" * 40
_WT = "wt:"


@dataclass(frozen=True)
class Pending:
    """A prompt that an uncommitted change would give a new version."""

    id: str
    path: str
    version: str | None  # None for a deleted prompt
    change: str  # initial | major | minor | patch | deleted
    reasons: list[str]
    content_hash: str
    previous: str | None  # the version it replaces
    status: str  # added | modified | renamed | deleted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def summary(self) -> str:
        return f"{self.change}: {'; '.join(self.reasons)}" if self.reasons else self.change


def prospective(
    h: History,
    line: Line | None,
    facts: Facts,
    *,
    breaking: bool = False,
    fr: FactReader | None = None,
) -> tuple[str, str, list[str], Version | None]:
    """(version, change, reasons, base) a change to ``facts`` would get if committed now."""
    base = h.base_for_next(line) if line is not None else None
    if base is None:
        return h.repo.config.initial_version, "initial", ["first appearance"], None
    own = fr or FactReader(h.repo)
    try:
        change, reasons = classify_facts(own.facts(base), facts, breaking=breaking)
    finally:
        if fr is None:
            own.close()
    return bump(base.version, change), change, reasons, base


def dev_version(version: str, content_hash: str) -> str:
    return f"{version}-dev+{content_hash[:7]}"


def working_version(ws: Workspace, prompt: Prompt) -> str | None:
    """The version of a working-tree prompt: its committed version when unchanged,
    else ``X.Y.Z-dev+<hash7>``; None outside git or when history cannot be read."""
    try:
        h = history(ws, "HEAD")
        builder = FactsBuilder(lambda p: glob_for(ws.config, p))
        facts = builder.from_text(prompt.text, prompt.path, ws.loader)
        key = h.key_for(prompt.path, prompt.id)
        latest = h.latest_of(key) if key is not None else None
        if latest is not None and latest.content_hash == facts.content_hash:
            return latest.version
        line = h.state.lines[key] if key is not None else None
        version, *_ = prospective(h, line, facts)
        return dev_version(version, facts.content_hash)
    except LoomgitError:
        return None


def _diff(repo: Repo, h: History, source: str) -> list[gitlog.Change]:
    specs = repo.specs(h.state.covered)
    base = h.commit or EMPTY_TREE
    raw = index.diff_raw(repo.root, base, specs, cached=source == "index")
    changes = gitlog.parse_raw(raw)
    if source == "worktree":
        kept = []
        for c in changes:
            if c.new_path is None:
                kept.append(c)
                continue
            if c.status == "M" and c.old_blob and _same_blob(repo.root / c.new_path, c.old_blob):
                continue  # only the file mode changed: no new content
            kept.append(
                gitlog.Change(c.status, c.old_path, c.new_path, c.old_blob, _WT + c.new_path)
            )
        # a committed file git lists as deleted and as untracked is one the index does
        # not know (an empty or missing index, GIT_INDEX_FILE pointing to a new file):
        # the working-tree file compares with the commit, not as a move to itself
        deleted = {c.old_path: c for c in kept if c.new_path is None and c.old_path}
        for p in index.untracked(repo.root, specs):
            if (repo.root / p).is_symlink():
                continue  # a symlink is never a prompt or an include
            gone = deleted.pop(p, None)
            if gone is None:
                kept.append(gitlog.Change("A", None, p, None, _WT + p))
                continue
            kept.remove(gone)
            if not (gone.old_blob and _same_blob(repo.root / p, gone.old_blob)):
                kept.append(gitlog.Change("M", p, p, gone.old_blob, _WT + p))
        changes = kept
    return changes


def _same_blob(path: Path, blob: str) -> bool:
    """Whether the file's bytes are the blob ``blob`` (git's sha1 object id)."""
    if len(blob) != 40:
        return False  # a sha256 repository: let the content compare decide
    import hashlib

    try:
        data = path.read_bytes()
    except OSError:
        return False
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == blob


def pending_changes(
    ws: Workspace,
    source: str = "index",
    *,
    message: str = "",
    include_deleted: bool = False,
    base: str | None = None,
) -> list[Pending]:
    """Prompts the staged (``source="index"``) or all uncommitted (``"worktree"``) changes
    give a new version, with that version (``X.Y.Z`` for the index, ``X.Y.Z-dev+<hash7>``
    for the working tree) and why. ``message``: the commit message, if known. ``base``:
    the commit the new one will follow (default HEAD; ``HEAD^`` or the empty tree for an
    ``--amend``, which replaces HEAD)."""
    if source not in ("index", "worktree"):
        raise UsageError(f"source must be 'index' or 'worktree', not {source!r}")
    repo = Repo.of(ws)
    if base == EMPTY_TREE:
        h = History(repo, None, State())
    else:
        h = history(ws, base or "HEAD")
    changes = _diff(repo, h, source)
    if not changes:
        return []
    root = repo.root
    with BlobReader(root) as reader:

        def read(keys: list[str]) -> dict[str, bytes | None]:
            out: dict[str, bytes | None] = {}
            blobs = [k for k in keys if not k.startswith(_WT)]
            out.update(reader.read_many(blobs))
            for k in keys:
                if k.startswith(_WT):
                    try:
                        out[k] = (root / k[len(_WT) :]).read_bytes()
                    except OSError:
                        out[k] = None
            return out

        staged: dict[str, tuple[str, str]] = {}

        def fetch(commit: str, path: str) -> tuple[str, bytes] | None:
            if source == "worktree":
                if (root / path).is_symlink():
                    return None
                try:
                    return _WT + path, (root / path).read_bytes()
                except OSError:
                    return None
            if not staged:  # the index, listed once for every include this commit reads
                staged.update(index.staged_entries(root))
            mode, blob = staged.get(path, ("", ""))
            if mode not in FILE_MODES:
                return None
            return reader.read_objects([blob]).get(blob)

        fork = h.state.fork()
        folder = Folder(repo.config, fork, read=read, fetch=fetch)
        breaking = gitlog.is_breaking(message) if message else False
        commit = gitlog.Commit(
            UNCOMMITTED, (), "", "", "", message.split("\n", 1)[0], breaking, tuple(changes)
        )
        recs = folder.apply(commit)
        fr = FactReader(repo, folder)
        out: list[Pending] = []
        for rec in recs:
            key = fork.by_path.get(rec.path) if rec.version else None
            old_line = h.state.lines[key] if key is not None and key < len(h.state.lines) else None
            if not rec.version:
                if include_deleted:
                    old = h.state.by_path.get(rec.path)
                    prev = h.latest_of(old) if old is not None else None
                    out.append(
                        Pending(
                            rec.id,
                            rec.path,
                            None,
                            "deleted",
                            ["file deleted"],
                            "",
                            prev.version if prev else None,
                            "deleted",
                        )
                    )
                continue
            prev = h.latest(old_line) if old_line is not None else None
            version, change, reasons = rec.version, rec.change, rec.reasons
            if h.provisional and old_line is not None:
                facts = fork.lines[key].facts  # type: ignore[index]
                assert facts is not None
                version, change, reasons, _ = prospective(
                    h, old_line, facts, breaking=breaking, fr=fr
                )
                moves = [x for x in rec.reasons if x.startswith("moved from ")]
                reasons = reasons + [m for m in moves if m not in reasons]
            if source == "worktree":
                version = dev_version(version, rec.hash)
            status = (
                "added"
                if prev is None
                else (
                    "renamed"
                    if any(x.startswith("moved from ") for x in rec.reasons)
                    else "modified"
                )
            )
            out.append(
                Pending(
                    rec.id,
                    rec.path,
                    version,
                    change,
                    list(reasons),
                    rec.hash,
                    prev.version if prev else None,
                    status,
                )
            )
    return sorted(out, key=lambda p: p.id)


def uncommitted(ws: Workspace, ident: str) -> Pending | None:
    """The version a working-tree prompt that no commit has yet would get (what
    ``loomgit list`` shows for it), or None when ``ident`` names no such prompt."""
    try:
        path = ws.find(ident).path
    except LoomgitError:
        return None
    return next((p for p in pending_changes(ws, "worktree") if p.path == path), None)


__all__ = ["Pending", "pending_changes", "prospective", "uncommitted", "working_version"]
