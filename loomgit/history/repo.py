"""Computing the fold state at a commit: from the cache, by continuing a cached state,
by cutting a newer cached state back, or from scratch, always with one ``git log`` pass
and one ``git cat-file --batch`` process."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from loomgit import _git
from loomgit._git import log as gitlog
from loomgit._git import refs
from loomgit._git.objects import BlobReader
from loomgit.errors import GitError
from loomgit.history.cache import CacheError, Store
from loomgit.history.fold import Line, State
from loomgit.history.rounds import fold_range

if TYPE_CHECKING:
    from loomgit.config import Config
    from loomgit.workspace import Workspace


class ShallowCloneError(GitError):
    """Versions need the whole history; a shallow clone does not have it."""


@dataclass
class Repo:
    """What one history call needs to know about the repository."""

    root: Path
    config: Config
    held: dict[str, str | None] | None = None  # commits resolved while refs are held

    @classmethod
    def of(cls, ws: Workspace) -> Repo:
        held = ws.__dict__.get("_history_repo")
        if isinstance(held, Repo):
            return held
        _git.require_repo(ws.root)
        return cls(ws.root, ws.config)

    @cached_property
    def git_dir(self) -> Path:
        """The common git dir (shared by worktrees): the cache lives under it."""
        gd = _git.git_dir(self.root)
        if gd is None:
            raise GitError(f"{self.root} is not a git repository (run 'git init' first)")
        return gd

    @cached_property
    def store(self) -> Store:
        return Store(self.git_dir, self.config)

    @property
    def first_parent(self) -> bool:
        return self.config.history != "full"

    @cached_property
    def main(self) -> tuple[str, str] | None:
        return main_ref(self.root, self.config.main_branch)

    def check_shallow(self) -> None:
        if _git.is_shallow(self.root):
            raise ShallowCloneError(
                "this is a shallow clone, and prompt versions are computed from the whole "
                "history: run 'git fetch --unshallow' (in GitHub Actions, give "
                "actions/checkout 'fetch-depth: 0')"
            )

    def commit(self, rev: str) -> str | None:
        if self.held is None:
            return refs.resolve_commit(self.root, rev)
        if rev not in self.held:
            self.held[rev] = refs.resolve_commit(self.root, rev)
        return self.held[rev]

    def specs(self, covered: set[str], followed: Iterable[str] = ()) -> list[str]:
        """Pathspecs of the prompt globs, the includes met so far and the old paths of
        moves into the globs (many of those are read through one wider glob each: the
        fold takes only the paths it follows, and git's matching slows with every spec)."""
        globs, literal = _widen(followed)
        return gitlog.pathspecs([g.glob for g in self.config.prompts] + globs, covered | literal)

    def provisional(self, sha: str) -> frozenset[str]:
        """Commits of ``sha``'s history not on the main branch (their versions are
        provisional); empty when there is no main branch or ``sha`` is on it."""
        main = self.main
        if main is None or main[1] == sha:
            return frozenset()
        args = ["--first-parent"] if self.first_parent else []
        return frozenset(gitlog.rev_list(self.root, [*args, sha, f"^{main[1]}", "--"]))


def hold_refs(ws: Workspace) -> Workspace:
    """For a command that moves no ref: the refs (HEAD, the main branch) are read once for
    the rest of ``ws``'s use, not once per history call (a warm ``list`` asked git for them
    four times). Nothing else holds them, so a library caller sees refs move."""
    if _git.is_repo(ws.root):  # else each call says why, as before
        ws.__dict__["_history_repo"] = Repo(ws.root, ws.config, {})
    return ws


_GLOB_CHARS = frozenset("*?[]\\")


def _widen(paths: Iterable[str]) -> tuple[list[str], set[str]]:
    """Paths grouped by file name: a group of several is one ``DIR/**/NAME`` glob (DIR:
    the deepest folder they share; ``DIR/*/NAME`` when each is one folder below it), a
    path alone or with glob characters stays literal."""
    groups: dict[str, list[str]] = {}
    literal: set[str] = set()
    for p in paths:
        if _GLOB_CHARS.intersection(p):
            literal.add(p)
        else:
            groups.setdefault(p.rsplit("/", 1)[-1], []).append(p)
    globs = []
    for name, group in sorted(groups.items()):
        if len(group) == 1:
            literal.add(group[0])
            continue
        dirs = [g.split("/")[:-1] for g in group]
        common: list[str] = []
        for parts in zip(*dirs, strict=False):
            if len(set(parts)) != 1:
                break
            common.append(parts[0])
        # one level below what they share (DIR/*/NAME) when that is all: git matches a
        # single-level glob faster than ** (a 2,800-commit walk: 148 against 170 ms)
        depth = {len(d) for d in dirs}
        middle = "*" if depth == {len(common) + 1} else "**"
        globs.append("/".join([*common, middle, name]))
    return globs, literal


def main_ref(root: Path, configured: str | None) -> tuple[str, str] | None:
    """(name, sha) of the main branch: ``main_branch`` from the config, else the remote's
    default branch, else ``main`` or ``master``; local branches before ``origin/`` ones."""
    found = refs.branch_refs(root)
    names = [configured] if configured else [found.get("origin/HEAD"), "main", "master"]
    for name in names:
        if not name:
            continue
        for full in (
            f"refs/heads/{name}",
            f"refs/remotes/origin/{name}",
            f"refs/remotes/{name}",
            name,
        ):
            if full in found:
                return full.removeprefix("refs/heads/").removeprefix("refs/remotes/"), found[full]
    return None


def truncate(src: State, upto: str, sha: str) -> State:
    """``src`` cut back to the commit ``upto`` on its history, as the state at ``sha``."""
    commits = src.commits
    limit = commits[upto][0]
    st = State(
        commit=sha, seq=limit, tree={}, commits={s: v for s, v in commits.items() if v[0] <= limit}
    )
    st.covered = set(src.covered)
    for p, entries in src.followed.items():
        kept = [list(e) for e in entries if commits[e[0]][0] <= limit]
        if kept:
            st.followed[p] = kept
    order: list[tuple[int, int, str]] = []
    for line in src.lines:
        recs = [r for r in line.recs if commits.get(r.commit, [limit + 1])[0] <= limit]
        live = recs[-1] if recs and recs[-1].version else None
        new = Line(
            line.key,
            recs[-1].id if recs else line.id,
            live.path if live else None,
            recs,
            {c: i for c, i in line.info.items() if c in st.commits},
        )
        new.index_hashes()
        st.add_line(new)
        if recs:
            st.set_head(new)
        if live is not None:
            st.by_path[live.path] = line.key
            st.tree[live.path] = live.blob
            for p, b in (live.inc or {}).items():
                st.tree[p] = b
                st.inc_users.setdefault(p, set()).add(line.key)
        order += [(commits[r.commit][0], line.key, r.id) for r in recs]
    for _, key, rid in sorted(order):
        st.by_id[rid] = key
    for line in st.lines:  # a live prompt keeps its own id
        if line.path is not None:
            st.by_id[line.id] = line.key
    st.unfollowed = {k: list(v) for k, v in src.unfollowed.items() if st.lines[k].recs}
    return st


def _cuttable(src: State, upto: str) -> bool:
    """Whether ``src`` cut back to ``upto`` equals a fold to ``upto``: not when a move
    into the globs after ``upto`` made an old path a prompt path before it."""
    limit = src.commits[upto][0]
    return all(
        e[0] in src.commits and src.commits[e[0]][0] <= limit
        for entries in src.followed.values()
        for e in entries
    )


def state_at(repo: Repo, sha: str) -> State:
    """The fold state at commit ``sha`` (cached under ``.git/loomgit/history/``)."""
    store = repo.store
    st = store.load(sha) if store.has(sha) else None
    if st is not None:
        store.touch(sha)
        return st
    cached = store.shas()
    with BlobReader(repo.root) as reader:
        base: State | None = None
        if cached and repo.first_parent:  # the nearest cached state on the line
            wanted = set(cached)
            with closing(gitlog.first_parent_walk(repo.root, sha)) as walk:  # stops git
                for s in walk:
                    if s in wanted and (base := store.load(s)) is not None:
                        break
            if base is None:
                cut = _truncated(repo, sha, cached[:3])
                if cut is not None:
                    return cut
        try:
            st = fold_range(repo, base, sha, reader)
        except CacheError:  # the cached base went away while in use: start afresh
            st = fold_range(repo, None, sha, reader)
    store.save(st)
    return st


def lines_state(repo: Repo, sha: str) -> State:
    """The lines at ``sha`` and the moves that began them, without their versions: a
    lines-only fold, which reads no prompt text (``check``'s warnings about moves on a
    repository whose history was never folded). Not saved: its versions are not real."""
    with BlobReader(repo.root) as reader:
        return fold_range(repo, None, sha, reader, lines_only=True)


def _truncated(repo: Repo, sha: str, candidates: list[str]) -> State | None:
    for s in candidates:
        src = repo.store.load(s)
        if src is None:
            continue
        last = gitlog.rev_list(
            repo.root,
            ["--first-parent", "-1", sha, "--", *repo.specs(src.covered, src.followed)],
        )
        if not last:
            return State(commit=sha)
        try:
            if last[0] in src.commits and _cuttable(src, last[0]):
                return truncate(src, last[0], sha)
        except CacheError:
            continue
    return None
