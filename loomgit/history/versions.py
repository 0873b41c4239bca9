"""Prompt versions as the library offers them: :func:`history`, :func:`versions` and the
:class:`Version` value object (:mod:`loomgit.history.lookup` loads one)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from loomgit._git.objects import BlobReader
from loomgit.errors import LoomgitError, RefError
from loomgit.history.bump import bump, classify_facts, is_final, parse_version
from loomgit.history.facts import Facts
from loomgit.history.fold import Folder, Line, Rec, State
from loomgit.history.repo import Repo, state_at
from loomgit.prompt.discover import ambiguous_id

if TYPE_CHECKING:
    from loomgit.workspace import Workspace

_FULL = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_MINOR = re.compile(r"^(\d+)\.(\d+)$")


@dataclass(frozen=True)
class Version:
    """One version of one prompt."""

    id: str  # the prompt's id at that commit
    version: str
    commit: str
    date: str
    author: str
    email: str
    subject: str
    change: str  # initial | major | minor | patch
    reasons: list[str] = field(default_factory=list)
    content_hash: str = ""
    same_as: str | None = None
    path: str = ""  # the file's path at that commit
    provisional: bool = False
    blob: str = ""
    includes: dict[str, str] | None = None  # included path -> blob id

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("blob")
        d.pop("includes")
        return d

    @property
    def summary(self) -> str:
        """``minor: message "user" changed; params.temperature 0.2 -> 0.5``"""
        return f"{self.change}: {'; '.join(self.reasons)}" if self.reasons else self.change


class History:
    """Every prompt's versions as seen from one commit."""

    def __init__(
        self,
        repo: Repo,
        commit: str | None,
        state: State,
        provisional: frozenset[str] = frozenset(),
    ) -> None:
        self.repo = repo
        self.commit = commit
        self.state = state
        self.provisional = provisional
        self._versions: dict[int, list[Version]] = {}
        self._off: set[int] | None = None

    @property
    def main_branch(self) -> str | None:
        return self.repo.main[0] if self.repo.main else None

    # --- finding a prompt ----------------------------------------------------------------
    def live(self) -> list[Entry]:
        """The prompts that exist at this commit, by id (no version line is read)."""
        out = [
            Entry(k, h[0], h[1])
            for k, h in enumerate(self.state.heads)
            if h[1] is not None and h[2] is not None
        ]
        return sorted(out, key=lambda e: e.id)

    def _alive(self, key: int) -> bool:
        return self.state.heads[key][1] is not None

    def find(self, ident: str) -> Line:
        """The line an id, an old id, a path or a unique id suffix names."""
        st = self.state
        ident = ident.strip()
        key = st.by_id.get(ident)
        same = [e for e in self.live() if e.id == ident]
        if len(same) > 1:  # two live lines share the id: never pick one of them silently
            raise ambiguous_id(ident, sorted(e.path for e in same))
        if same:
            return st.lines[same[0].key]
        rel = _relpath(self.repo, ident)
        if rel is not None and rel in st.by_path:
            return st.lines[st.by_path[rel]]
        if key is not None:
            return st.lines[key]
        if rel is not None:  # a path that was deleted or moved: search older entries
            for line in st.lines:
                if any(r.path == rel for r in line.recs):
                    return line
        tail = [e for e in self.live() if e.id.endswith("/" + ident)]
        if len(tail) == 1:
            return st.lines[tail[0].key]
        if len(tail) > 1 and len({e.id for e in tail}) == 1:
            raise ambiguous_id(tail[0].id, sorted(e.path for e in tail))
        if len(tail) > 1:
            raise RefError(f"{ident!r} is ambiguous: {', '.join(sorted({e.id for e in tail}))}")
        import difflib

        ids = [e.id for e in self.live()]
        close = difflib.get_close_matches(ident, ids, n=3)
        where = f" at {self.commit[:7]}" if self.commit else ""
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else ("; 'loomgit list' shows the prompts" if ids else "")
        )
        raise RefError(f"unknown prompt {ident!r}{where}{hint}")

    def key_for(self, path: str, ident: str | None = None) -> int | None:
        """The key of the live line at ``path`` (or holding ``ident``), without raising."""
        st = self.state
        key = st.by_path.get(path)
        if key is None and ident is not None:
            key = st.by_id.get(ident)
            if key is not None and not self._alive(key):
                key = None
        return key

    def line_for(self, path: str, ident: str | None = None) -> Line | None:
        key = self.key_for(path, ident)
        return self.state.lines[key] if key is not None else None

    # --- versions ------------------------------------------------------------------------
    def versions(self, line: Line) -> list[Version]:
        """Versions of a line, oldest first (deletions are not versions)."""
        got = self._versions.get(line.key)
        if got is None:
            if line.key in self._off_main():
                self._build_off_main()  # every such line at once, through one reader
                got = self._versions.get(line.key)
            if got is None:
                got = self._build(line)
            self._versions[line.key] = got
        return got

    def _off_main(self) -> set[int]:
        """Lines whose newest version was made off the main branch (provisional)."""
        if not self.provisional:
            return set()
        if self._off is None:
            self._off = {
                k
                for k, h in enumerate(self.state.heads)
                if h[2] is not None and h[2][1] in self.provisional
            }
        return self._off

    def _build_off_main(self) -> None:
        with FactReader(self.repo) as fr:
            for key in sorted(self._off_main()):
                if key not in self._versions:
                    self._versions[key] = self._build(self.state.lines[key], fr)

    def latest(self, line: Line) -> Version | None:
        vs = self.versions(line)
        return vs[-1] if vs else None

    def latest_of(self, key: int) -> Version | None:
        """The newest version of line ``key``, read from the summary when it is final."""
        rec, info = self.state.head_rec(key)
        if rec is None:
            return None
        if self.provisional and rec.commit in self.provisional:
            return self.latest(self.state.lines[key])
        return _version(rec, info)

    def _build(self, line: Line, fr: FactReader | None = None) -> list[Version]:
        recs = [r for r in line.recs if r.version]
        overlay = (
            self._overlay(line, recs, fr)
            if self.provisional and any(r.commit in self.provisional for r in recs)
            else {}
        )
        out = []
        for i, r in enumerate(recs):
            same_as = r.same_as
            if same_as is not None:
                same_as = overlay.get(_index_of(recs, same_as, i), (same_as,))[0]
            out.append(_version(r, line.info.get(r.commit), overlay.get(i), same_as))
        return out

    def _overlay(
        self, line: Line, recs: list[Rec], reader: FactReader | None = None
    ) -> dict[int, tuple[str, str, list[str]]]:
        """Versions made off the main branch, numbered as merging now would number them
        (compared with the last final version) and marked ``-dev.N+<sha7>``."""
        first = next(i for i, r in enumerate(recs) if r.commit in self.provisional)
        base = recs[first - 1] if first > 0 else None
        out: dict[int, tuple[str, str, list[str]]] = {}
        fr = reader or FactReader(self.repo)
        try:
            base_facts = fr.facts(base) if base is not None else None
            breaking = False
            n = 0
            for i in range(first, len(recs)):
                r = recs[i]
                n += 1
                breaking = breaking or bool((line.info.get(r.commit) or [False] * 5)[4])
                if base is None or base_facts is None:
                    v, change, reasons = (
                        self.repo.config.initial_version,
                        "initial",
                        ["first appearance"],
                    )
                else:
                    change, reasons = classify_facts(base_facts, fr.facts(r), breaking=breaking)
                    v = bump(base.version, change)
                    moves = [x for x in r.reasons if x.startswith("moved from ")]
                    reasons = reasons + [m for m in moves if m not in reasons]
                out[i] = (f"{v}-dev.{n}+{r.commit[:7]}", change, reasons)
        finally:
            if reader is None:
                fr.close()
        return out

    def base_for_next(self, line: Line) -> Version | None:
        """The version a new change is compared with: the newest final one when this
        line changed off the main branch, else the newest."""
        vs = self.versions(line)
        if any(v.provisional for v in vs):
            final = [v for v in vs if not v.provisional]
            return final[-1] if final else None
        return vs[-1] if vs else None

    def find_version(self, line: Line, spec: str) -> Version:
        vs = self.versions(line)
        if not vs:
            raise RefError(f"{line.id} has no versions yet")
        if spec == "latest":
            return vs[-1]
        if _FULL.match(spec):
            for v in reversed(vs):
                if v.version == spec or (v.provisional and v.version.split("+")[0] == spec):
                    return v
            raise RefError(
                f"{line.id} has no version {spec} (latest is {vs[-1].version}; "
                f"'loomgit log {line.id}' lists them)"
            )
        m = _MINOR.match(spec)
        if m:
            want = (int(m.group(1)), int(m.group(2)))
            for v in reversed(vs):
                p = parse_version(v.version)
                if p and p[:2] == want and is_final(v.version):
                    return v
            raise RefError(
                f"{line.id} has no version {spec}.x (latest is {vs[-1].version}; "
                f"'loomgit log {line.id}' lists them)"
            )
        raise RefError(f"{spec!r} is not a version")


@dataclass(frozen=True)
class Entry:
    """A prompt that exists at a commit: its line key, id and path."""

    key: int
    id: str
    path: str


def _version(
    rec: Rec,
    info: list[Any] | None,
    overlay: tuple[str, str, list[str]] | None = None,
    same_as: str | None = None,
) -> Version:
    info = info or ["", "", "", "", False]
    version, change, reasons = overlay if overlay else (rec.version, rec.change, rec.reasons)
    return Version(
        id=rec.id,
        version=version,
        commit=rec.commit,
        date=info[0],
        author=info[1],
        email=info[2],
        subject=info[3],
        change=change,
        reasons=list(reasons),
        content_hash=rec.hash,
        same_as=same_as if overlay or same_as else rec.same_as,
        path=rec.path,
        provisional=overlay is not None,
        blob=rec.blob,
        includes=dict(rec.inc) if rec.inc else None,
    )


def _index_of(recs: list[Rec], version: str, before: int) -> int:
    for j in range(before - 1, -1, -1):
        if recs[j].version == version:
            return j
    return -1


def _relpath(repo: Repo, ident: str) -> str | None:
    """``ident`` as a repository-relative path when it looks like one."""
    if "." not in ident.rsplit("/", 1)[-1] and "/" not in ident:
        return None
    from pathlib import Path

    p = Path(ident)
    if p.is_absolute() or p.exists():
        try:
            return p.resolve().relative_to(repo.root).as_posix()
        except ValueError:
            return None
    return ident.replace("\\", "/").removeprefix("./")


class FactReader:
    """Facts of stored versions, reading their blobs through one ``cat-file`` process."""

    def __init__(self, repo: Repo, folder: Folder | None = None) -> None:
        self.repo = repo
        self._own: BlobReader | None = None
        if folder is None:
            self._own = BlobReader(repo.root)
            folder = Folder(repo.config, State(), read=self._own.read_many, fetch=lambda c, p: None)
        self.folder = folder

    def facts(self, rec: Rec | Version) -> Facts:
        if isinstance(rec, Version):
            return self.folder.facts_for(rec.path, rec.blob, rec.includes or {})
        return self.folder.rec_facts(rec)

    def __enter__(self) -> FactReader:
        return self

    def close(self) -> None:
        if self._own is not None:
            self._own.close()

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the public functions ---------------------------------------------------------------

_MEMO: dict[tuple[str, str, str], History] = {}


def _memo_key(repo: Repo, sha: str) -> tuple[str, str, str]:
    main = repo.main
    return (str(repo.root), sha, f"{main[1] if main else ''}:{repo.store.dir.name}")


def history(ws: Workspace, ref: str = "HEAD") -> History:
    """Every prompt's versions at ``ref`` (a commit-ish). An empty repository has none."""
    repo = Repo.of(ws)
    repo.check_shallow()
    sha = repo.commit(ref)
    if sha is None:
        if ref == "HEAD":
            return History(repo, None, State())
        raise RefError(f"{ref!r} is not a commit in this repository")
    key = _memo_key(repo, sha)
    got = _MEMO.get(key)
    if got is None:
        got = History(repo, sha, state_at(repo, sha), repo.provisional(sha))
        if len(_MEMO) > 8:
            _MEMO.clear()
        _MEMO[key] = got
    return got


def folded(repo: Repo, sha: str) -> bool:
    """Whether this process or the cache has folded any of the history (so
    :func:`history` at ``sha`` is cheap)."""
    return _memo_key(repo, sha) in _MEMO or bool(repo.store.shas())


__all__ = [
    "History",
    "LoomgitError",
    "Version",
    "history",
]
