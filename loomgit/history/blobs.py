"""Batched blob reads: one ``git cat-file --batch`` process for any number of objects.

Requests are written in slices small enough to sit in the pipe buffer, then the answers
are read, so the reader never deadlocks and never needs a thread. Answers are read from
the pipe's file descriptor directly, never through the buffered ``proc.stdout``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

from loomgit.errors import GitError

_SLICE_BYTES = 8 * 1024  # well under the smallest pipe buffer (16 KiB on macOS)


class BlobReader:
    """``with BlobReader(root) as r: r.read_many(["<sha>", "HEAD:prompts/x.prompt"])``.

    Names are anything ``git cat-file`` accepts: blob ids, ``<commit>:<path>``,
    ``:<path>`` (the index). A missing object reads as None.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = root
        self._proc: subprocess.Popen[bytes] | None = None
        self._buf = bytearray()  # read but not yet parsed (never from stdout's own buffer)
        self.reads = 0

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            env = dict(os.environ, LC_ALL="C", GIT_TERMINAL_PROMPT="0")
            try:
                self._proc = subprocess.Popen(
                    ["git", "cat-file", "--batch"],
                    cwd=self.root,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    env=env,
                )
            except FileNotFoundError:
                raise GitError("git is not installed or not on PATH") from None
        return self._proc

    def read(self, name: str) -> bytes | None:
        return self.read_many([name])[name]

    def read_many(self, names: Iterable[str]) -> dict[str, bytes | None]:
        return {k: (v[1] if v else None) for k, v in self.read_objects(names).items()}

    def read_objects(self, names: Iterable[str]) -> dict[str, tuple[str, bytes] | None]:
        """Like :meth:`read_many`, with each blob's id: ``{name: (blob id, bytes) or None}``."""
        wanted = list(dict.fromkeys(n for n in names if n and "\n" not in n))
        out: dict[str, tuple[str, bytes] | None] = {}
        if not wanted:
            return out
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        i = 0
        while i < len(wanted):
            batch: list[str] = []
            size = 0
            while i < len(wanted) and (not batch or size + len(wanted[i]) < _SLICE_BYTES):
                batch.append(wanted[i])
                size += len(wanted[i]) + 1
                i += 1
            try:
                proc.stdin.write(
                    "".join(n + "\n" for n in batch).encode("utf-8", "surrogateescape")
                )
                proc.stdin.flush()
            except BrokenPipeError:
                raise GitError("git cat-file stopped unexpectedly") from None
            for name, answer in zip(batch, self._answers(proc.stdout.fileno(), len(batch))):
                out[name] = answer
        self.reads += len(wanted)
        return out

    def _answers(self, fd: int, n: int) -> list[tuple[str, bytes] | None]:
        """``n`` answers, parsed from raw reads of whatever git has written (git writes
        each object apart, so a buffered readline-and-read per object costs twice)."""
        buf = self._buf
        pos = 0
        out: list[tuple[str, bytes] | None] = []

        def more() -> None:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise GitError("git cat-file stopped unexpectedly")
            buf.extend(chunk)

        for _ in range(n):
            nl = buf.find(b"\n", pos)
            while nl < 0:
                more()
                nl = buf.find(b"\n", pos)
            parts = bytes(buf[pos:nl]).split()
            if len(parts) != 3 or not parts[2].isdigit():  # "<name> missing" and the like
                out.append(None)
                pos = nl + 1
                continue
            end = nl + 1 + int(parts[2])
            while len(buf) < end + 1:
                more()
            out.append(
                (parts[0].decode(), bytes(buf[nl + 1 : end])) if parts[1] == b"blob" else None
            )
            pos = end + 1
        del buf[:pos]
        return out

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
            proc.stdout.close()
            proc.wait()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_blobs(
    root: str | Path, items: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], bytes | None]:
    """``{(commit, path): bytes or None}`` through one ``git cat-file --batch`` process.

    ``commit`` may be any commit-ish; ``""`` reads the index (``:path``).
    """
    names = {(c, p): f"{c}:{p}" for c, p in items}
    with BlobReader(root) as r:
        got = r.read_many(names.values())
    return {k: got.get(n) for k, n in names.items()}
