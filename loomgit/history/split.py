"""A long cold fold in two processes, each building the versions of every other line.

The parent folds the first stretch of the round alone (:mod:`loomgit.history.rounds`),
then forks. From there both processes fold every commit and keep every line's path and
id: the cheap part, on which they must agree. Each builds the facts and versions only
of the lines whose key has its parity: the costly part. The child sends its lines back
as cache rows and the parent takes them in, giving the state one process makes; a
digest of the shared part checks that they agreed. A round that meets an include
outside the pass, or reads a file from a commit, after the fork is folded again in one
process: the order of those reads matters. So is one whose child fails or disagrees,
or when the system refuses the fork.

Only on Linux, with two cores free, from a process running no other thread (``fork``
copies one thread; a lock another thread held would stay held in the child).
"""

from __future__ import annotations

import gc
import hashlib
import os
import sys
import threading
from collections.abc import Callable, Iterator

from loomgit._git.log import Commit
from loomgit.history.blobs import Read
from loomgit.history.fold import Folder
from loomgit.prompt import names

PROCESSES_AT = 500  # first-parent commits from which a cold pass folds in two processes


def usable(commits: int) -> bool:
    """Whether a cold fold of ``commits`` first-parent commits is split in two (asked
    before the round starts any thread of its own)."""
    return (
        commits >= PROCESSES_AT
        and sys.platform.startswith("linux")
        and threading.active_count() == 1
        and _cores() >= 2
    )


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def shared(folder: Folder) -> str:
    """A digest of what both processes must agree on."""
    st = folder.state
    parts = (
        st.seq,
        st.commit,
        sorted(st.by_path.items()),
        sorted(st.by_id.items()),
        sorted(st.tree.items()),
        sorted(st.commits),
        [(ln.id, ln.path) for ln in st.lines],
        folder.orphans,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _result(folder: Folder, done: bool) -> bytes:
    import pickle

    st = folder.state
    rows = _rows(folder)
    inc = {p: [k for k in keys if folder.owns(k)] for p, keys in st.inc_users.items()}
    heads = st.heads
    return pickle.dumps(
        {
            "ok": done and folder.clean,
            "digest": shared(folder),
            "rows": rows,  # as the cache writes them
            "heads": {key: heads[key] for key in rows},
            "inc": inc,
            "covered": sorted(st.covered),
            "shapes": names.learnt(),
        },
        protocol=pickle.HIGHEST_PROTOCOL,
    )


def _rows(folder: Folder) -> dict[int, bytes]:
    """This process's lines as cache rows (each process encodes its own)."""
    return {ln.key: ln.row() for ln in folder.state.lines if folder.owns(ln.key)}


def _take(folder: Folder, data: bytes, own: dict[int, bytes]) -> bool:
    """The child's lines into the parent's state (with ``own``, the parent's rows);
    False when they may disagree."""
    import pickle

    got = pickle.loads(data)
    if not (got["ok"] and folder.clean and got["digest"] == shared(folder)):
        return False
    st = folder.state
    heads = st.heads  # the parent's own, made current, with the child's lines replaced
    for key, head in got["heads"].items():
        heads[key] = head
    st.lines.adopt({**own, **got["rows"]})
    for keys in st.inc_users.values():  # the child's lines' are as the child left them
        keys.difference_update([k for k in keys if not folder.owns(k)])
    for p, got_keys in got["inc"].items():
        if got_keys:
            st.inc_users.setdefault(p, set()).update(got_keys)
    st.covered.update(got["covered"])
    names.keep(got["shapes"])
    return True


def fold_in_two(
    folder: Folder,
    rest: Iterator[Commit],
    readers: Callable[[], tuple[Read, Read, Callable[[], None]]],
    stop: Callable[[], bool],
) -> bool | None:
    """Fold ``rest`` on from ``folder``'s state with a forked child sharing the lines:
    True when the fold ran to the end, False when ``stop()`` ended it (as in one
    process), None when the round must be folded again in one process (the folder's
    state is then of no use). ``readers()`` gives the child its blob readers and a
    function closing them."""
    import signal  # on use (as pickle is): neither is wanted at a commit hook's start-up

    if threading.active_count() != 1 or folder.new_includes:
        return None
    try:
        r, w = os.pipe()
    except OSError:  # out of file descriptors: one process will do
        return None
    gc.freeze()  # what both processes hold is never scanned: no copy of its pages either
    try:
        pid = os.fork()
    except OSError:  # out of processes or memory
        gc.unfreeze()
        os.close(r)
        os.close(w)
        return None
    if pid == 0:  # pragma: no cover - the child; its lines are checked by the parent
        os.close(r)
        code = 1
        try:
            read, ahead, close = readers()
            folder.split((2, 1), read, ahead)
            try:
                data = _result(folder, folder.fold(rest))
            finally:
                close()
            with os.fdopen(w, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    reaped = False
    try:
        folder.split((2, 0))
        done = folder.fold(rest, stop=stop)
        if not done:  # stopped for a move (the rounds go on as in one process), or not clean
            return False if folder.clean else None
        own = _rows(folder)  # while the child encodes its own
        with os.fdopen(r, "rb") as inp:
            r = -1
            data = inp.read()
        _, status = os.waitpid(pid, 0)
        reaped = True
        if status != 0 or not data or not _take(folder, data, own):
            return None
        return True
    finally:
        gc.unfreeze()
        if r != -1:
            os.close(r)
        if not reaped:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # pragma: no cover - it had ended
                pass
            os.waitpid(pid, 0)
