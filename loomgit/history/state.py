"""The folded state of a history: a line per prompt (its id, path and version records)
and the tree and heads after the last folded commit. :mod:`loomgit.history.fold` builds
it; :mod:`loomgit.history.cache` stores it by commit."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from loomgit.history.facts import Facts


@dataclass(slots=True)
class Rec:
    """One entry of a line: a version, or a deletion (``version == ""``)."""

    version: str
    commit: str
    change: str
    reasons: list[str]
    hash: str
    same_as: str | None
    path: str
    id: str
    blob: str
    inc: dict[str, str] | None  # included path -> blob id

    def to_json(self) -> list[Any]:
        return [
            self.version,
            self.commit,
            self.change,
            self.reasons,
            self.hash,
            self.same_as,
            self.path,
            self.id,
            self.blob,
            self.inc,
        ]

    @classmethod
    def from_json(cls, d: list[Any]) -> Rec:
        return cls(*d)


Info = list[Any]  # [date, author, email, subject, breaking] of a commit


@dataclass(slots=True)
class Line:
    """One prompt's identity through history (it survives renames and re-adds)."""

    key: int
    id: str
    path: str | None  # None while deleted
    recs: list[Rec] = field(default_factory=list)
    info: dict[str, Info] = field(default_factory=dict)  # commit -> details, for its recs
    facts: Facts | None = None  # facts of the newest version (memory only)
    hashes: dict[str, str] = field(default_factory=dict)  # content hash -> newest version

    @property
    def last(self) -> Rec | None:
        for r in reversed(self.recs):
            if r.version:
                return r
        return None

    @property
    def live_rec(self) -> Rec | None:
        """The newest version, or None when the newest entry is a deletion."""
        return self.recs[-1] if self.recs and self.recs[-1].version else None

    def index_hashes(self) -> None:
        self.hashes = {r.hash: r.version for r in self.recs if r.version}

    def copy(self) -> Line:
        return Line(
            self.key,
            self.id,
            self.path,
            list(self.recs),
            dict(self.info),
            self.facts,
            dict(self.hashes),
        )

    def to_json(self) -> list[Any]:
        return [self.id, self.path, [r.to_json() for r in self.recs], self.info]

    def row(self) -> bytes:
        """The line as a row of the cache's lines file."""
        return json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, key: int, d: list[Any]) -> Line:
        line = cls(key, d[0], d[1], [Rec(*r) for r in d[2]], d[3])
        line.index_hashes()
        return line


class Lines:
    """The lines of a state, read from the cache one at a time, when first used."""

    def __init__(
        self,
        n: int = 0,
        load: Callable[[int], Line] | None = None,
        raw: Callable[[int], bytes | memoryview] | None = None,
    ) -> None:
        self._items: list[Line | None] = [None] * n
        self._load = load
        self.raw = raw  # the cached JSON of a line never loaded (to copy it as it is)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, key: int) -> Line:
        line = self._items[key]
        if line is None:
            assert self._load is not None
            line = self._items[key] = self._load(key)
        return line

    def __iter__(self) -> Iterator[Line]:
        return (self[i] for i in range(len(self._items)))

    def append(self, line: Line) -> None:
        self._items.append(line)

    def adopt(self, rows: dict[int, bytes]) -> None:
        """The lines of ``rows`` (key -> :meth:`Line.row`, folded by another process) in
        place of these, read when first used and saved as they are."""
        load, raw = self._load, self.raw

        def load_row(key: int) -> Line:
            if key in rows:
                return Line.from_json(key, json.loads(rows[key]))
            assert load is not None
            return load(key)

        def raw_row(key: int) -> bytes | memoryview:
            if key in rows:
                return rows[key]
            assert raw is not None
            return raw(key)

        for key in rows:
            self._items[key] = None
        self._load, self.raw = load_row, raw_row

    def loaded(self, key: int) -> bool:
        return self._items[key] is not None

    def fork(self) -> Lines:
        out = Lines(0, self._load, self.raw)
        out._items = [ln.copy() if ln is not None else None for ln in self._items]
        return out


Head = list[Any]  # [id, path or None, newest version rec (json) or None, its commit info]


class State:
    """Every line at one commit, plus what folding further needs.

    ``heads`` summarises each line (id, path, newest version) so that listing prompts
    never reads the lines themselves; ``tree`` and ``commits`` are read from the cache
    only when the state is folded further.
    """

    def __init__(
        self,
        commit: str | None = None,
        seq: int = 0,
        *,
        tree: dict[str, str] | None = None,
        commits: dict[str, list[Any]] | None = None,
        fold_data: Callable[[], tuple[dict[str, str], dict[str, list[Any]]]] | None = None,
        lines: Lines | None = None,
    ) -> None:
        self.commit = commit
        self.seq = seq
        self.by_path: dict[str, int] = {}
        self.by_id: dict[str, int] = {}
        self.covered: set[str] = set()  # include paths outside the globs
        self.inc_users: dict[str, set[int]] = {}
        # a path outside the globs that a rename brought into them: [[commit, id], ...],
        # oldest first; the path is that id's prompt until the commit of the move
        self.followed: dict[str, list[list[str]]] = {}
        # line key -> [old path, why]: its first version is a move loomgit could not follow
        self.unfollowed: dict[int, list[str]] = {}
        self._heads: list[Head] = []
        self._dirty: dict[int, Line] = {}
        self.lines = lines if lines is not None else Lines()
        self._tree = tree if tree is not None or fold_data else {}
        self._commits = commits if commits is not None or fold_data else {}
        self._fold_data = fold_data

    def _ensure_fold_data(self) -> None:
        if self._tree is None or self._commits is None:
            assert self._fold_data is not None
            tree, commits = self._fold_data()
            if self._tree is None:
                self._tree = tree
            if self._commits is None:
                self._commits = commits

    @property
    def tree(self) -> dict[str, str]:
        """path -> blob id for every path the log pass covers."""
        self._ensure_fold_data()
        assert self._tree is not None
        return self._tree

    @property
    def commits(self) -> dict[str, list[Any]]:
        """sha -> [seq, date, author, email, subject, breaking] of every folded commit."""
        self._ensure_fold_data()
        assert self._commits is not None
        return self._commits

    @property
    def heads(self) -> list[Head]:
        """Per line: [id, path or None, newest version rec (json) or None, its commit info]."""
        if self._dirty:
            for key, line in self._dirty.items():
                rec = line.last
                self._heads[key] = [
                    line.id,
                    line.path,
                    rec.to_json() if rec else None,
                    line.info.get(rec.commit) if rec else None,
                ]
            self._dirty = {}
        return self._heads

    @heads.setter
    def heads(self, value: list[Head]) -> None:
        self._heads, self._dirty = value, {}

    def add_line(self, line: Line) -> None:
        self.lines.append(line)
        self._heads.append([line.id, line.path, None, None])

    def set_head(self, line: Line) -> None:
        self._dirty[line.key] = line

    def head_rec(self, key: int) -> tuple[Rec | None, Info | None]:
        h = self.heads[key]
        return (Rec(*h[2]) if h[2] else None), h[3]

    def fork(self) -> State:
        """A copy that can be folded further without touching this one."""
        st = State(
            self.commit,
            self.seq,
            tree=dict(self.tree),
            commits=dict(self.commits),
            lines=self.lines.fork(),
        )
        st.by_path, st.by_id = dict(self.by_path), dict(self.by_id)
        st.covered = set(self.covered)
        st.inc_users = {k: set(v) for k, v in self.inc_users.items()}
        st.followed = {k: [list(e) for e in v] for k, v in self.followed.items()}
        st.unfollowed = {k: list(v) for k, v in self.unfollowed.items()}
        st.heads = [list(h) for h in self.heads]
        return st

    def index(self) -> dict[str, Any]:
        """The small part of the state: everything but the lines, the tree, the commits."""
        return {
            "commit": self.commit,
            "seq": self.seq,
            "covered": sorted(self.covered),
            "by_path": self.by_path,
            "by_id": self.by_id,
            "heads": self.heads,
            "inc_users": {k: sorted(v) for k, v in sorted(self.inc_users.items()) if v},
            "followed": self.followed,
            "unfollowed": [[k, *v] for k, v in sorted(self.unfollowed.items())],
        }

    @classmethod
    def from_index(
        cls,
        d: dict[str, Any],
        lines: Lines,
        fold_data: Callable[[], tuple[dict[str, str], dict[str, list[Any]]]],
    ) -> State:
        st = cls(d["commit"], d["seq"], tree=None, commits=None, fold_data=fold_data, lines=lines)
        st.by_path, st.by_id = d["by_path"], d["by_id"]
        st.covered = set(d["covered"])
        st.heads = d["heads"]
        st.inc_users = {k: set(v) for k, v in d["inc_users"].items()}
        st.followed = d["followed"]
        st.unfollowed = {int(e[0]): list(e[1:]) for e in d["unfollowed"]}
        if len(st.heads) != len(lines):
            raise ValueError("cache index and lines disagree")
        return st
