"""Opening a suite's data file under the tracked-file rule includes follow: a regular
file git tracks in the repository, named by a path relative to its root (never through
a symlink, never ``..``, ``.git/`` or absolute). :func:`worktree_opener` reads the
checkout, :func:`index_opener` the staged content a commit hook checks."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO

from loomgit._git import index, is_repo, objects
from loomgit.evals.suite_model import SuiteError
from loomgit.prompt.includes import FILE_MODES, Roots, name_allowed

Opener = Callable[[str], IO[bytes]]


# -- opening a data file: the tracked-file rule --------------------------------------------


def _refused(rel: str, why: str) -> SuiteError:
    return SuiteError(
        f"data file {rel!r} is refused: {why} (only regular files git tracks in the "
        "repository are read)"
    )


def _through_link(root: Path, rel: str) -> bool:
    here = root
    for part in rel.split("/"):
        here = here / part
        try:
            mode = os.lstat(here).st_mode
        except OSError:
            return False
        if stat.S_ISLNK(mode):
            return True
    return not stat.S_ISREG(mode)


def worktree_opener(root: str | Path) -> Opener:
    """Data files of the checkout: tracked in the index, a regular file on disk."""
    base = Path(root)

    def open_(rel: str) -> IO[bytes]:
        if not name_allowed(rel, Roots(("",))):
            raise _refused(rel, "not a path inside the repository")
        full = base / rel
        entry = index.staged_entries(base, [rel]).get(rel) if is_repo(base) else None
        if entry is None:
            if os.path.lexists(full):
                raise _refused(rel, "git does not track it (git add it)")
            raise SuiteError(f"data file {rel!r}: no such file")
        if entry[0] not in FILE_MODES or _through_link(base, rel):
            raise _refused(rel, "it is a symlink")
        try:
            return open(full, "rb")  # noqa: SIM115 - the reader closes it
        except OSError as e:
            raise SuiteError(f"data file {rel!r}: cannot read ({e.strerror})") from None

    return open_


def index_opener(root: str | Path) -> Opener:
    """Data files as staged (what a commit would hold), never the working tree."""

    def open_(rel: str) -> IO[bytes]:
        if not name_allowed(rel, Roots(("",))):
            raise _refused(rel, "not a path inside the repository")
        entry = index.staged_entries(root, [rel]).get(rel)
        if entry is None:
            raise SuiteError(f"data file {rel!r}: not in the index (git add it)")
        if entry[0] not in FILE_MODES:
            raise _refused(rel, "it is a symlink")
        data = objects.read_blob(root, entry[1])
        if data is None:
            raise SuiteError(f"data file {rel!r}: cannot read the staged content")
        return io.BufferedReader(io.BytesIO(data))

    return open_
