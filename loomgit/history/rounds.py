"""Folding a stretch of history in rounds: a round that meets an include outside the
pathspec, or a move into the globs from outside them, is folded again with it covered.
A long cold pass reads git's log with two processes and, where it can, folds in two
(:mod:`loomgit.history.split`)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from loomgit._git import log as gitlog
from loomgit._git.objects import BlobReader
from loomgit.errors import GitError
from loomgit.history import split
from loomgit.history.blobs import Read
from loomgit.history.facts import FactsBuilder
from loomgit.history.fold import Folder, State
from loomgit.history.moves import Seen, follow, mark_unfollowed
from loomgit.history.partials import used_at
from loomgit.prompt.includes import blob_entry

if TYPE_CHECKING:
    from loomgit.config import Config


class Repo(Protocol):
    """What the rounds need of :class:`loomgit.history.repo.Repo`."""

    root: Path
    config: Config

    @property
    def first_parent(self) -> bool: ...

    def specs(self, covered: set[str], followed: Iterable[str] = ()) -> list[str]: ...


# A cold pass begins again at once for an include outside the pass met in the first
# twentieth of its history, up to three times (wasting at most 15% of a pass): most
# repositories add their partials early, and a whole round only to learn of them cost a
# quarter of a cold pass.
EARLY_RESTARTS = 3


def _fetcher(root: Path) -> Callable[[str, str], tuple[str, bytes] | None]:
    def fetch(commit: str, path: str) -> tuple[str, bytes] | None:
        return blob_entry(root, commit, path)  # regular files only, never a symlink

    return fetch


def fold_range(
    repo: Repo, base: State | None, sha: str, reader: BlobReader, *, lines_only: bool = False
) -> State:
    """The state at ``sha``, folded on from ``base`` (a state on ``sha``'s first-parent
    history) or from nothing. A newly met include outside the pathspec folds again.
    ``lines_only``: where each line is and which moves began it, no versions (never saved)."""
    covered = set(base.covered) if base is not None else set()
    followed = base.followed if base is not None else {}
    with BlobReader(repo.root) as ahead, _fewer_collections():
        rounds = _Rounds(repo, base, sha, reader, ahead, lines_only)
        return rounds.run(covered, followed)


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """A fold keeps almost everything it makes (records, facts, memos), so the cyclic
    garbage collector's passes over them, every 700 allocations and in full every ten
    of those tenfold, find next to nothing: while it runs, a young pass comes every
    50,000 and a full one almost never (short-lived cycles, such as a version's include
    loaders, are still collected young). About 8% of a cold pass's CPU."""
    old = gc.get_threshold()
    gc.set_threshold(50_000, 20, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*old)


class _Rounds:
    def __init__(
        self,
        repo: Repo,
        base: State | None,
        sha: str,
        reader: BlobReader,
        ahead: BlobReader,
        lines_only: bool,
    ) -> None:
        self.repo, self.base, self.sha, self.lines_only = repo, base, sha, lines_only
        self.reader, self.ahead = reader, ahead
        self.seen: Seen = {}
        self.builder = FactsBuilder()  # shared by the rounds: a text's facts are made once
        self.root = str(repo.root)
        cold = base is None and repo.first_parent
        self.chain = first_parent_chain(self.root, sha) if cold else []
        self.early = len(self.chain) // 20  # see EARLY_RESTARTS

    def folder(
        self,
        covered: set[str],
        followed: dict[str, list[list[str]]],
        restart: bool,
        read: BlobReader,
        ahead: BlobReader,
    ) -> Folder:
        st = self.base.fork() if self.base is not None else State()
        st.followed = {k: [list(e) for e in v] for k, v in followed.items()}
        return Folder(
            self.repo.config,
            st,
            read=read.read_many,
            fetch=_fetcher(self.repo.root),
            covered=covered,
            builder=self.builder,
            read_ahead=ahead.read_many,
            lines_only=self.lines_only,
            restart_before=self.early if restart else 0,
        )

    def run(self, covered: set[str], followed: dict[str, list[list[str]]]) -> State:
        # a cold pass covers at once what the last commit's prompts include (see
        # loomgit.history.partials): most includes are then not met one round late
        pre: set[str] = set()
        if self.base is None and not self.lines_only:
            pre = used_at(self.repo.config, self.repo.root, self.sha, self.reader, self.builder)
            pre -= covered
            covered = covered | pre
        rounds = restarts = 0
        for _ in range(12):
            held: list[Folder] = []

            def stop(deep: bool = rounds >= 6, held: list[Folder] = held) -> bool:
                """A move into the globs found: no use folding on without its old path."""
                return not deep and follow(self.root, held[-1], self.reader, self.seen)

            restart = restarts < EARLY_RESTARTS
            folder, done = self.round(covered, followed, restart, held, stop)
            st = folder.state
            new_includes = folder.new_includes - covered
            covered |= folder.new_includes
            if folder.restart:
                restarts += 1
                continue
            if not done or (not new_includes and stop()):
                rounds += 1  # fold again, reading the old paths too
                followed, self.base = st.followed, None
                continue
            if new_includes:
                continue
            if pre - st.covered:  # covered from the start, yet no version used it: the
                covered -= pre  # rounds are folded again as they go without that step
                pre = set()
                continue
            mark_unfollowed(self.root, folder, self.reader, self.seen)
            st.commit = self.sha
            return st
        raise GitError(  # pragma: no cover
            "includes keep changing while folding history; giving up"
        )

    def round(
        self,
        covered: set[str],
        followed: dict[str, list[list[str]]],
        restart: bool,
        held: list[Folder],
        stop: Callable[[], bool],
    ) -> tuple[Folder, bool]:
        """One fold of the stretch; ``held[-1]`` is the folder that made its state."""

        def fresh() -> Folder:
            held.append(self.folder(covered, followed, restart, self.reader, self.ahead))
            return held[-1]

        if not self.lines_only and self.base is None and split.usable(len(self.chain)):
            got = self._in_two(fresh(), covered, followed, stop)
            if got is not None:
                return got
        folder = fresh()
        streams = _log_parts(self.repo, self.base, self.sha, covered, followed)
        return folder, _fold_all(folder, streams, stop)

    def _in_two(
        self,
        folder: Folder,
        covered: set[str],
        followed: dict[str, list[list[str]]],
        stop: Callable[[], bool],
    ) -> tuple[Folder, bool] | None:
        """A long cold round from ``folder``: its first twentieth folded in this process
        (where an include met begins the pass again), then the rest in two. None: the
        processes could not share it, and it is folded again in one."""
        streams = _log_parts(self.repo, self.base, self.sha, covered, followed, max(self.early, 1))
        if len(streams) < 2:  # all of it in the first twentieth
            return folder, _fold_all(folder, streams, stop)
        try:
            if not folder.fold(iter(streams[0]), stop=stop):
                return folder, False  # stopped for a move, or to begin again
            if folder.new_includes:  # to cover: this round only looks for more
                return folder, _fold_all(folder, streams[1:], stop)
            raws = [part.read_all() for part in streams[1:]]  # whole, before the fork
        finally:
            for part in streams:
                part.close()
        rest = (c for raw in raws for c in gitlog.parse([raw]))  # each process parses
        done = split.fold_in_two(folder, rest, self._readers, stop)
        return None if done is None else (folder, done)

    def _readers(self) -> tuple[Read, Read, Callable[[], None]]:
        read, ahead = BlobReader(self.repo.root), BlobReader(self.repo.root)

        def close() -> None:
            read.close()
            ahead.close()

        return read.read_many, ahead.read_many, close


def _fold_all(folder: Folder, streams: list[gitlog.LogStream], stop: Callable[[], bool]) -> bool:
    """``folder.fold`` of every commit of ``streams``, which are closed after."""
    try:
        return folder.fold((c for part in streams for c in part), stop=stop)
    finally:
        for part in streams:
            part.close()


@lru_cache(maxsize=4)
def first_parent_chain(root: str, sha: str) -> list[str]:
    """The first-parent history of ``sha``, newest first (a commit's never changes; a
    fold's rounds and the cache lookup before them ask for it once). Not to be changed."""
    return gitlog.rev_list(root, ["--first-parent", sha, "--"])


SPLIT_AT = 4000  # first-parent commits from which a cold pass runs two git processes


def _log_parts(
    repo: Repo,
    base: State | None,
    sha: str,
    covered: set[str],
    followed: Iterable[str],
    window: int = 0,
) -> list[gitlog.LogStream]:
    """The log passes for ``base..sha``, oldest first. A long history from scratch is
    read by two git processes at once (the older half, and the newer half drained into
    memory meanwhile), so git's walk runs alongside the fold on a second core. With
    ``window`` the oldest ``window`` first-parent commits come first, from a git of their
    own, and the rest is drained into memory (by two gits when long) while they fold."""
    specs = repo.specs(covered, followed)
    if base is not None and base.commit:
        return [
            gitlog.log(
                repo.root,
                [sha, f"^{base.commit}"],
                specs,
                first_parent=repo.first_parent,
                reverse=True,
            )
        ]
    chain = first_parent_chain(str(repo.root), sha) if repo.first_parent else []
    parts, stop = [], []
    if window and len(chain) > window:
        edge = chain[-window]
        parts.append(gitlog.log(repo.root, [edge], specs, reverse=True))
        chain, stop = chain[:-window], [f"^{edge}"]
    if len(chain) < SPLIT_AT:
        parts.append(
            gitlog.log(
                repo.root,
                [sha, *stop],
                specs,
                first_parent=repo.first_parent,
                reverse=True,
                drain=bool(parts),
            )
        )
        return parts
    mid = chain[len(chain) // 2]
    parts.append(gitlog.log(repo.root, [mid, *stop], specs, reverse=True, drain=bool(parts)))
    parts.append(gitlog.log(repo.root, [sha, f"^{mid}"], specs, reverse=True, drain=True))
    return parts
