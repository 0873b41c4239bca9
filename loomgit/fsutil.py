"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

# text, bytes, or pieces of either (written as they come; bytes-like pieces as they are)
Data = str | bytes | Iterable[str | bytes | memoryview]


def _write_all(f: BinaryIO, data: Data) -> None:
    if isinstance(data, (str, bytes)):
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        return
    for piece in data:
        f.write(piece.encode("utf-8") if isinstance(piece, str) else piece)


def atomic_write(path: str | os.PathLike[str], data: Data, *, private: bool = False) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place
    (creating the folder); on any failure the temporary file is removed.

    The file gets the permissions the umask gives a new file (``0644`` under ``022``),
    as any file a user asks for; ``private`` files (answers cached from a model, which
    may hold what a prompt was given) are ``0600`` whatever the umask."""
    target = Path(path)
    if write_special(target, data):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    mode = 0o600 if private else 0o666  # the kernel applies the umask to the mode
    while True:
        tmp = target.parent / f".{target.name}.{os.urandom(6).hex()}.tmp"
        try:
            fd = os.open(tmp, flags, mode)
            break
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            _write_all(f, data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_special(path: Path, data: Data) -> bool:
    """Write ``data`` into ``path`` in place when it is a device, pipe or socket
    (``-o /dev/null``, ``/dev/stdout``, a FIFO): such a file is written to, never
    replaced by a renamed temporary file. False for anything else (nothing written)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return False
    with open(path, "wb") as f:
        _write_all(f, data)
    return True


def file_stamp(path: str | os.PathLike[str]) -> tuple[int, int, int] | None:
    """What changes when a file is replaced or rewritten (inode, mtime, size); None when
    it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)
