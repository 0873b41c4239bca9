"""The version fold: history in, every prompt's version line out.

The state after a commit is a pure function of the commits folded into it (first-parent
history by default), so it can be cached by commit and continued later. Per commit:
apply its file changes, find the prompt lines whose file or included files changed,
and give each a new version, bumped by what changed since its previous version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from loomgit._git.log import Change, Commit
from loomgit.config import Config
from loomgit.history.blobs import Ahead, Read, chunks, decode_blob
from loomgit.history.bump import bump, classify_facts
from loomgit.history.facts import Facts, FactsBuilder, meet_includes, not_text
from loomgit.history.memo import allowed
from loomgit.history.paths import Paths
from loomgit.history.state import Line, Lines, Rec, State
from loomgit.prompt.discover import glob_for
from loomgit.prompt.frontmatter import frontmatter_id
from loomgit.prompt.includes import include_roots
from loomgit.prompt.media import has_media


class Folder(Paths):
    """Folds commits into a :class:`State`.

    ``read(keys)`` returns file bytes for blob ids (or other keys a caller understands,
    such as working-tree paths); ``fetch(commit, path)`` returns ``(blob id, bytes)`` of a
    path at a commit, used when an include is met that the log pass did not cover.
    ``read_ahead``: a second reader, for the thread that reads the next batch's blobs.
    ``lines_only`` (``check`` on a cold cache): no versions, and the state is not saved.
    ``share`` (set by :meth:`split`): ``(n, i)``, this process builds the versions of
    the lines whose key is ``i`` modulo ``n`` and only places the others.
    ``restart_before``: an include outside the pass met at or before this many commits
    ends the fold at once (``restart``), to be folded again with it covered: a round in
    which the first include comes early then costs little, not a whole pass.
    """

    def __init__(
        self,
        config: Config,
        state: State,
        *,
        read: Read,
        fetch: Callable[[str, str], tuple[str, bytes] | None],
        covered: set[str] | None = None,
        builder: FactsBuilder | None = None,
        read_ahead: Read | None = None,
        lines_only: bool = False,
        restart_before: int = 0,
    ) -> None:
        super().__init__(config, state, read, covered)
        self.share: tuple[int, int] | None = None
        self.fetched = 0  # files read from a commit by an include
        self.restart_before = restart_before
        self.restart = False
        self.lines_only = lines_only
        self._read_ahead = read_ahead
        self._fetch = fetch
        self.builder = builder or FactsBuilder(lambda p: glob_for(config, p))
        self.new_includes: set[str] = set()
        # (commit, first parent, path, line key) of each line a commit began with an add:
        # :mod:`loomgit.history.moves` asks git whether it was a move from outside the pass
        self.orphans: list[tuple[str, str, str, int]] = []
        self.include_roots = include_roots(config)

    def facts_for(self, path: str, blob: str, inc_blobs: dict[str, str]) -> Facts:
        text = self.text(blob)
        if text is None:
            return not_text(self._read([blob]).get(blob) or b"")

        def load(n: str) -> str | None:
            return self.text(inc_blobs[n]) if n in inc_blobs else None

        def data(n: str) -> bytes | None:  # a content part's bytes (prompt.media)
            return self._read([inc_blobs[n]]).get(inc_blobs[n]) if n in inc_blobs else None

        setattr(load, "data", data)  # noqa: B010
        return self.builder.from_text(text, path, load)

    def rec_facts(self, rec: Rec) -> Facts:
        return self.facts_for(rec.path, rec.blob, rec.inc or {})

    def fold(
        self, commits: Iterable[Commit], chunk: int = 500, stop: Callable[[], bool] | None = None
    ) -> bool:
        """Fold ``commits``; False when ``stop()``, asked after a commit that began many
        lines (as a restructure does), ended it. Each batch's blobs are read ahead."""
        ahead: tuple[list[Commit], Ahead | None] | None = None
        for batch in chunks(commits, chunk):
            if ahead is not None and ahead[1] is not None:
                ahead[1].join()  # its reader is free for the next batch
            more = self._read_ahead if len(batch) >= chunk else None  # more may follow
            nxt = Ahead(more, self._wanted(batch)) if more is not None else None
            if ahead is not None and not self._fold_batch(*ahead, stop=stop):
                if nxt is not None:
                    nxt.join()
                return False
            ahead = (batch, nxt)
        return self._fold_batch(*ahead, stop=stop) if ahead is not None else True

    def split(
        self, share: tuple[int, int], read: Read | None = None, ahead: Read | None = None
    ) -> None:
        """From here on, build the versions of this share of the lines only (and read
        through ``read``/``ahead``, a forked process's own readers)."""
        self.share, self.fetched = share, 0
        if read is not None:
            self._read, self._read_ahead = read, ahead

    def owns(self, key: int) -> bool:
        """Whether this process builds the versions of the line ``key`` (every line
        until :meth:`split`)."""
        return self.share is None or key % self.share[0] == self.share[1]

    @property
    def clean(self) -> bool:
        """No include outside the pass met and no file read from a commit (since the
        split): a fold in which the order the lines are folded in does not matter."""
        return not self.new_includes and not self.fetched

    def _wanted(self, batch: list[Commit]) -> list[str]:
        skip = "M" if self.lines_only else ""  # only an added file's frontmatter (its id)
        return [
            ch.new_blob
            for c in batch
            for ch in c.changes
            if ch.new_blob and ch.new_path and ch.status != skip and self.in_pass(ch.new_path)
        ]

    def _fold_batch(
        self,
        batch: list[Commit],
        ahead: Ahead | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> bool:
        keep = {b for p, b in self.state.tree.items() if p in self.state.inc_users}
        self.drop_texts(keep)
        if ahead is not None:
            for k, data in ahead.join().items():
                self.texts.setdefault(k, decode_blob(data))
        self.prefetch(self._wanted(batch))  # what the read ahead could not know of
        for c in batch:
            before = len(self.orphans)
            self.apply(c)
            if self.restart or (self.share is not None and not self.clean):
                return False
            if stop is not None and len(self.orphans) - before >= 10 and stop():
                return False
        return True

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
            made = self._version(line, c, touched[key])
            if made is not None:
                line.info[c.sha] = info
                out.append(made)
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
                there = st.by_path.get(ch.new_path)
                if there is not None:  # already moved (history: full, the merge of a move)
                    touched.setdefault(there, [])
                else:
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
        if c.parents:
            self.orphans.append((c.sha, c.parents[0], path, line.key))

    def _include_loader(self, c: Commit, inc_blobs: dict[str, str]) -> Callable[[str], str | None]:
        st = self.state

        def load(name: str) -> str | None:
            if not allowed(name, self.include_roots):
                return None  # never recorded; rendering the version names the refusal
            blob = st.tree.get(name)
            new = blob is None and name not in self.pass_covered and not self.in_pass(name)
            if new or (blob is None and self.prompt_id(name) is None):
                got = self._fetch(c.sha, name)  # new to the pass, or not since the cache
                if got is None:
                    return None
                blob, data = got
                self.fetched += 1
                self.texts[blob] = decode_blob(data)
                st.tree[name] = blob
                if new:
                    self.new_includes.add(name)
                    self.restart = self.restart or st.seq <= self.restart_before
            if blob is None:
                return None
            inc_blobs[name] = blob
            return self.text(blob)

        def data(name: str) -> bytes | None:  # a content part's bytes (prompt.media)
            if load(name) is None and name not in inc_blobs:
                return None
            return self._read([inc_blobs[name]]).get(inc_blobs[name])

        setattr(load, "data", data)  # noqa: B010
        return load

    def _rename(self, line: Line, new_id: str) -> None:  # a line with a path takes new_id
        by_id, lines = self.state.by_id, self.state.lines
        holder = by_id.get(new_id) if new_id != line.id else line.key
        if holder is None or lines[holder].id != new_id or lines[holder].path is None:
            by_id[new_id] = line.key
        line.id = new_id

    def _line_rec(self, line: Line, c: Commit, blob: str) -> Rec | None:
        """A lines-only entry: where the line is, and its id (read only when added)."""
        last = line.last
        if last is not None and last.blob == blob and line.live_rec is not None:
            return None
        assert line.path is not None
        if self.lines_only and last is not None and last.path != line.path:
            self._rename(line, self.prompt_id(line.path) or line.id)
        version = self.config.initial_version
        rec = Rec(version, c.sha, "lines", [], blob, None, line.path, line.id, blob, None)
        line.recs.append(rec)
        return rec

    def _placed(
        self, line: Line, c: Commit, blob: str, new_id: str, extra: list[str]
    ) -> Rec | None:
        """A line another process versions: its path and id as the full fold leaves them
        (it renames when it makes a version; with the same file and no move it makes
        none, or one for a changed include, whose id is then the one it has)."""
        last = line.last
        if not extra and last is not None and last.blob == blob and line.live_rec is not None:
            return None
        self._rename(line, new_id)
        return self._line_rec(line, c, blob)

    def _version(self, line: Line, c: Commit, extra: list[str]) -> Rec | None:
        st = self.state
        path = line.path
        assert path is not None
        blob = st.tree[path]
        if self.lines_only:
            return self._line_rec(line, c, blob)
        text = self.texts[blob] if blob in self.texts else self.text(blob)
        new_id = frontmatter_id(text or "") or self.prompt_id(path) or line.id
        if self.new_includes:  # this round folds again, reading them: only look for more
            meet_includes(self.builder, text, path, self._include_loader(c, {}))
            self._rename(line, new_id)  # as the full fold renames: later adds join alike
            return self._line_rec(line, c, blob)
        if not self.owns(line.key):
            return self._placed(line, c, blob, new_id, extra)
        inc_blobs: dict[str, str] = {}
        if text is None:
            facts = self.facts_for(path, blob, {})
        elif "{%" in text or "$ref" in text or has_media(text):  # includes, tool files, parts
            facts = self.builder.from_text(text, path, self._include_loader(c, inc_blobs))
            inc_blobs = {k: v for k, v in inc_blobs.items() if k in facts.includes}
        else:
            facts = self.builder.from_text(text, path)
        last = line.last
        if (
            last is not None
            and not extra
            and last.blob == blob
            and (last.inc or {}) == inc_blobs
            and line.live_rec is not None
        ):
            return None  # e.g. only the file mode changed
        self._rename(line, new_id)
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


__all__ = ["Folder", "Line", "Lines", "Rec", "State", "decode_blob"]
