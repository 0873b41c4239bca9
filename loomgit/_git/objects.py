"""The object database: one streaming ``git cat-file --batch`` reader for any number of
objects, and the writes stage branches need (blobs, trees, commits).

The reader writes requests in slices small enough to sit in the pipe buffer, then reads
the answers, so it never deadlocks and never needs a thread. Answers are read from the
pipe's file descriptor directly, never through the buffered ``proc.stdout``.

Nothing here writes the working tree, the repository's index, ``HEAD`` or a branch:
trees are built in a private index (``GIT_INDEX_FILE``) from blob ids, and commits are
made with ``commit-tree``; :mod:`loomgit._git.refs` moves branches.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from loomgit._git.run import NO_IDENTITY, git, spawn, text
from loomgit.errors import GitError

_SLICE_BYTES = 8 * 1024  # well under the smallest pipe buffer (16 KiB on macOS)


class BlobReader:
    """``with BlobReader(root) as r: r.read_many(["<sha>", "HEAD:prompts/x.prompt"])``.

    Names are anything ``git cat-file`` accepts: blob ids, ``<commit>:<path>``,
    ``:<path>`` (the index). A missing object, or one that is not a blob, reads as None.
    One git process serves every read until :meth:`close`.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = root
        self._proc: subprocess.Popen[bytes] | None = None
        self._buf = bytearray()  # read but not yet parsed (never from stdout's own buffer)
        self.reads = 0

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            self._proc = spawn(
                ["cat-file", "--batch"], self.root, stdin=True, stderr=subprocess.DEVNULL
            )
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
            except BrokenPipeError as e:
                raise GitError(f"git cat-file stopped unexpectedly in {self.root}") from e
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
                raise GitError(f"git cat-file stopped unexpectedly in {self.root}")
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


def read_many(root: str | Path, names: Iterable[str]) -> dict[str, bytes | None]:
    """``{name: bytes or None}`` for blob ids or ``<rev>:<path>`` names, in one process."""
    with BlobReader(root) as r:
        return r.read_many(names)


def read_many_objects(
    root: str | Path, names: Iterable[str]
) -> dict[str, tuple[str, bytes] | None]:
    """``{name: (blob id, bytes) or None}``, in one process."""
    with BlobReader(root) as r:
        return r.read_objects(names)


def read_blob(root: str | Path, name: str) -> bytes | None:
    """Contents of one blob (``<sha>`` or ``<commit>:<path>``), or None when missing."""
    return read_many(root, [name]).get(name)


def object_ids(root: str | Path, names: Sequence[str], kind: str = "blob") -> dict[str, str | None]:
    """``{name: object id or None}`` for names like ``<commit>:<path>`` (objects of type
    ``kind`` only), in one process."""
    wanted = [n for n in dict.fromkeys(names) if n and "\n" not in n]
    if not wanted:
        return {}
    data = text(
        ["cat-file", "--batch-check=%(objectname) %(objecttype)"],
        root,
        input=("\n".join(wanted) + "\n").encode("utf-8", "surrogateescape"),
    )
    result: dict[str, str | None] = {}
    for name, line in zip(wanted, data.splitlines()):
        parts = line.split()
        result[name] = parts[0] if len(parts) == 2 and parts[1] == kind else None
    return result


def tree_files(
    root: str | Path,
    commit: str,
    modes: Collection[str] | None = None,
    folders: Sequence[str] = (),
) -> dict[str, str]:
    """``{path: blob id}`` of every file in ``commit``'s tree (with ``modes``, only the
    files of those modes, such as ``100644``; with ``folders``, only under those)."""
    args = ["ls-tree", "-r", "-z", "--full-tree", commit]
    data = git([*args, "--", *folders] if folders else args, root).stdout
    files: dict[str, str] = {}
    want = None if modes is None else {m.encode() for m in modes}
    for rec in data.split(b"\0"):
        if not rec:
            continue
        meta, _, path = rec.partition(b"\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == b"blob" and (want is None or parts[0] in want):
            files[path.decode("utf-8", "surrogateescape")] = parts[2].decode()
    return files


def tree_entry(root: str | Path, commit: str, path: str) -> tuple[str, str] | None:
    """``(mode, blob id)`` of ``path`` in ``commit``'s tree (None: no such file there)."""
    if not path or "\n" in path:
        return None
    res = git(["ls-tree", "-z", "--full-tree", commit, "--", path], root, check=False)
    for rec in res.stdout.split(b"\0"):
        meta, _, name = rec.partition(b"\t")
        parts = meta.split()
        if name.decode("utf-8", "surrogateescape") == path and len(parts) == 3:
            if parts[1] == b"blob":
                return parts[0].decode(), parts[2].decode()
    return None


def hash_blob(root: str | Path, data: bytes) -> str:
    """Write ``data`` as a blob to the object database (no filters) and return its id."""
    return text(["hash-object", "-w", "--no-filters", "--stdin"], root, input=data).strip()


def write_tree(root: str | Path, files: Mapping[str, str]) -> str:
    """A tree holding exactly ``files`` (``{path: blob id}``), built in a private index
    (never the repository's, nor a hook's ``GIT_INDEX_FILE``)."""
    import tempfile  # on use: it pulls in shutil, bz2, lzma and random at start-up

    info = "".join(f"100644 {sha}\t{path}\n" for path, sha in sorted(files.items()))
    with tempfile.TemporaryDirectory(prefix="loomgit-stage-") as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        git(
            ["update-index", "--add", "--index-info"],
            root,
            input=info.encode("utf-8", "surrogateescape"),
            env=env,
        )
        return git(["write-tree"], root, env=env).out.strip()


def commit_tree(root: str | Path, tree: str, parent: str | None, message: str) -> str:
    """A commit of ``tree`` on ``parent`` (none for a stage's first commit)."""
    args = ["commit-tree", tree]
    if parent:
        args += ["-p", parent]
    res = git([*args, "-F", "-"], root, input=message.encode(), check=False)
    if not res.ok:
        err = res.reason()
        if "tell me who you are" in res.stderr.decode("utf-8", "replace") or "empty ident" in err:
            raise GitError(NO_IDENTITY)
        raise GitError(f"git commit-tree failed: {err}")
    return res.out.strip()
