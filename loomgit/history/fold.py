"""The version fold: history in, every prompt's version line out.

The state after a commit is a pure function of the commits folded into it (first-parent
history by default), so it can be cached by commit and continued later. Per commit:
apply its file changes, find the prompt lines whose file or included files changed,
and give each a new version, bumped by what changed since its previous version.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from loomgit._git.log import Change, Commit
from loomgit.config import Config
from loomgit.history.bump import bump, classify_facts
from loomgit.history.facts import Facts, FactsBuilder
from loomgit.prompt.discover import is_suite, match

_FM_ID = re.compile(r"^id:[ \t]*['\"]?([A-Za-z0-9_./-]+)['\"]?[ \t]*$", re.MULTILINE)
_FM_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)


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
        raw: Callable[[int], bytes] | None = None,
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
            "inc_users": {k: sorted(v) for k, v in self.inc_users.items() if v},
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
        if len(st.heads) != len(lines):
            raise ValueError("cache index and lines disagree")
        return st


def frontmatter_id(text: str) -> str | None:
    if not text.startswith("---") or text.find("id:", 0, 8192) < 0:
        return None
    head = text[3:8192]
    end = _FM_END.search(head)
    m = _FM_ID.search(head[: end.start()] if end else head)
    return m.group(1) if m else None


def decode_blob(data: bytes | None) -> str | None:
    if data is None or b"\0" in data[:8192] or len(data) > 1_000_000:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text[1:] if text.startswith("\ufeff") else text


class Folder:
    """Folds commits into a :class:`State`.

    ``read(keys)`` returns file bytes for blob ids (or other keys a caller understands,
    such as working-tree paths); ``fetch(commit, path)`` returns ``(blob id, bytes)`` of a
    path at a commit, used when an include is met that the log pass did not cover.
    """

    def __init__(
        self,
        config: Config,
        state: State,
        *,
        read: Callable[[list[str]], dict[str, bytes | None]],
        fetch: Callable[[str, str], tuple[str, bytes] | None],
        covered: set[str] | None = None,
        builder: FactsBuilder | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self._read = read
        self._fetch = fetch
        self.pass_covered = set(state.covered if covered is None else covered)
        self.builder = builder or FactsBuilder()
        self.texts: dict[str, str | None] = {}
        self.new_includes: set[str] = set()
        self._id_cache: dict[str, str | None] = {}

    # --- helpers -------------------------------------------------------------------------
    def prompt_id(self, path: str) -> str | None:
        """The id a path's glob gives it (None: not a prompt path)."""
        if path in self._id_cache:
            return self._id_cache[path]
        pid = None
        if not is_suite(path):
            for spec in self.config.prompts:
                pid = match(spec, path)
                if pid is not None:
                    break
        if len(self._id_cache) > 100_000:
            self._id_cache.clear()
        self._id_cache[path] = pid
        return pid

    def in_pass(self, path: str) -> bool:
        return self.prompt_id(path) is not None or path in self.pass_covered

    def prefetch(self, keys: Iterable[str]) -> None:
        want = [k for k in keys if k and k not in self.texts]
        if want:
            for k, data in self._read(want).items():
                self.texts[k] = decode_blob(data)

    def text(self, blob: str) -> str | None:
        if blob not in self.texts:
            self.prefetch([blob])
        return self.texts.get(blob)

    def drop_texts(self, keep: set[str]) -> None:
        self.texts = {k: v for k, v in self.texts.items() if k in keep}

    def facts_for(self, path: str, blob: str, inc_blobs: dict[str, str]) -> Facts:
        text = self.text(blob)
        if text is None:
            raw = self._read([blob]).get(blob) or b""
            return Facts(
                ok=False,
                error="not a UTF-8 text file (binary, or over 1 MB)",
                content_hash=hashlib.sha256(raw).hexdigest(),
            )
        return self.builder.from_text(
            text, path, lambda n: self.text(inc_blobs[n]) if n in inc_blobs else None
        )

    def rec_facts(self, rec: Rec) -> Facts:
        return self.facts_for(rec.path, rec.blob, rec.inc or {})

    # --- the fold ----------------------------------------------------------------------
    def fold(self, commits: Iterable[Commit], chunk: int = 500) -> None:
        batch: list[Commit] = []
        for c in commits:
            batch.append(c)
            if len(batch) >= chunk:
                self._fold_batch(batch)
                batch = []
        if batch:
            self._fold_batch(batch)

    def _fold_batch(self, batch: list[Commit]) -> None:
        keep = {b for p, b in self.state.tree.items() if p in self.state.inc_users}
        self.drop_texts(keep)
        self.prefetch(
            ch.new_blob
            for c in batch
            for ch in c.changes
            if ch.new_blob and ch.new_path and self.in_pass(ch.new_path)
        )
        for c in batch:
            self.apply(c)

    def apply(self, c: Commit) -> list[Rec]:
        """Fold one commit; returns the versions (and deletions) it made."""
        st = self.state
        st.seq += 1
        st.commit = c.sha
        st.commits[c.sha] = [st.seq, c.date, c.author, c.email, c.subject, c.breaking]
        info = [c.date, c.author, c.email, c.subject, c.breaking]
        changed: set[str] = set()
        gone: dict[int, str] = {}  # line key -> path it was deleted from
        moved: dict[int, str] = {}  # line key -> old path
        adds: list[str] = []
        touched: dict[int, list[str]] = {}
        for ch in c.changes:
            self._apply_change(ch, changed, gone, moved, adds, touched)
        for path in adds:
            self._add(path, c, gone, touched)
        out: list[Rec] = []
        for key, old_path in gone.items():
            line = st.lines[key]
            if line.path is not None:
                continue  # came back under another path in this commit
            last = line.last
            rec = Rec("", c.sha, "deleted", [], "", None, old_path, line.id, "", None)
            line.recs.append(rec)
            line.info[c.sha] = info
            st.set_head(line)
            out.append(rec)
            if last is not None and last.inc:
                for p in last.inc:
                    st.inc_users.get(p, set()).discard(key)
        for p in changed:
            for key in st.inc_users.get(p, ()):
                if st.lines[key].path is not None:
                    touched.setdefault(key, [])
        for key, path in moved.items():
            touched.setdefault(key, []).insert(0, f"moved from {path}")
        for key in sorted(touched):
            line = st.lines[key]
            rec = self._version(line, c, touched[key])
            if rec is not None:
                line.info[c.sha] = info
                out.append(rec)
            st.set_head(line)
        return out

    def _apply_change(
        self,
        ch: Change,
        changed: set[str],
        gone: dict[int, str],
        moved: dict[int, str],
        adds: list[str],
        touched: dict[int, list[str]],
    ) -> None:
        st = self.state
        if ch.old_path is not None and ch.status in "DR":
            st.tree.pop(ch.old_path, None)
            changed.add(ch.old_path)
            key = st.by_path.pop(ch.old_path, None)
            if key is not None:
                if ch.status == "R" and ch.new_path and self.prompt_id(ch.new_path) is not None:
                    st.by_path[ch.new_path] = key
                    st.lines[key].path = ch.new_path
                    moved[key] = moved.get(key, ch.old_path)
                else:
                    st.lines[key].path = None
                    gone[key] = ch.old_path
            elif ch.status == "R" and ch.new_path and self.prompt_id(ch.new_path) is not None:
                adds.append(ch.new_path)
        if ch.new_path is not None and ch.new_blob is not None:
            st.tree[ch.new_path] = ch.new_blob
            changed.add(ch.new_path)
            if ch.status in "AM":
                key = st.by_path.get(ch.new_path)
                if key is not None:
                    touched.setdefault(key, [])
                elif self.prompt_id(ch.new_path) is not None:
                    adds.append(ch.new_path)

    def _add(
        self, path: str, c: Commit, gone: dict[int, str], touched: dict[int, list[str]]
    ) -> None:
        st = self.state
        text = self.text(st.tree[path]) or ""
        pid = frontmatter_id(text) or self.prompt_id(path) or path
        key = st.by_id.get(pid)
        line = st.lines[key] if key is not None else None
        if line is not None and line.path is None and line.id == pid:
            line.path = path
            st.by_path[path] = line.key
            if line.key in gone:  # deleted and added under the same id: a move git missed
                touched[line.key] = [f"moved from {gone[line.key]}"]
            else:
                touched[line.key] = ["added again"]
            return
        line = Line(len(st.lines), pid, path)
        st.add_line(line)
        st.by_path[path] = line.key
        if key is None or st.lines[key].id != pid or st.lines[key].path is None:
            st.by_id[pid] = line.key  # a new id, or an old name now taken by a new prompt
        touched[line.key] = []

    def _include_loader(self, c: Commit, inc_blobs: dict[str, str]) -> Callable[[str], str | None]:
        st = self.state

        def load(name: str) -> str | None:
            blob = st.tree.get(name)
            if blob is None and name not in self.pass_covered and not self.in_pass(name):
                got = self._fetch(c.sha, name)
                if got is None:
                    return None
                blob, data = got
                self.texts[blob] = decode_blob(data)
                st.tree[name] = blob
                self.new_includes.add(name)
            elif blob is None and self.prompt_id(name) is None:
                got = self._fetch(c.sha, name)  # covered, but not seen since the cache began
                if got is None:
                    return None
                blob, data = got
                self.texts[blob] = decode_blob(data)
                st.tree[name] = blob
            if blob is None:
                return None
            inc_blobs[name] = blob
            return self.text(blob)

        return load

    def _version(self, line: Line, c: Commit, extra: list[str]) -> Rec | None:
        st = self.state
        path = line.path
        assert path is not None
        blob = st.tree[path]
        inc_blobs: dict[str, str] = {}
        text = self.texts[blob] if blob in self.texts else self.text(blob)
        if text is None:
            facts = self.facts_for(path, blob, {})
        elif "{%" in text:
            facts = self.builder.from_text(text, path, self._include_loader(c, inc_blobs))
            inc_blobs = {k: v for k, v in inc_blobs.items() if k in facts.includes}
        else:
            facts = self.builder.from_text(text, path)
        new_id = frontmatter_id(text or "") or self.prompt_id(path) or line.id
        last = line.last
        if (
            last is not None
            and not extra
            and last.blob == blob
            and (last.inc or {}) == inc_blobs
            and line.live_rec is not None
        ):
            return None  # e.g. only the file mode changed
        if new_id != line.id:
            holder = st.by_id.get(new_id)
            if holder is None or st.lines[holder].id != new_id or st.lines[holder].path is None:
                st.by_id[new_id] = line.key
            line.id = new_id
        if last is None:
            version, change, reasons = self.config.initial_version, "initial", ["first appearance"]
        else:
            prev = line.facts if line.facts is not None else self.rec_facts(last)
            change, reasons = classify_facts(prev, facts, breaking=c.breaking)
            if extra:
                if prev.content_hash == facts.content_hash:
                    reasons = list(extra)
                    change = "major" if c.breaking else "patch"
                    if c.breaking:
                        reasons.insert(0, "commit message marks a breaking change")
                else:
                    reasons = reasons + extra
            version = bump(last.version, change)
        rec = Rec(
            version,
            c.sha,
            change,
            reasons,
            facts.content_hash,
            line.hashes.get(facts.content_hash),
            path,
            new_id,
            blob,
            inc_blobs or None,
        )
        line.recs.append(rec)
        line.hashes[facts.content_hash] = version
        line.facts = facts
        if last is not None and last.inc:
            for p in set(last.inc) - set(inc_blobs):
                st.inc_users.get(p, set()).discard(line.key)
        for p in inc_blobs:
            st.inc_users.setdefault(p, set()).add(line.key)
            if self.prompt_id(p) is None:
                st.covered.add(p)
        return rec
