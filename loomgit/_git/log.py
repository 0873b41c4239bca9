"""The one streaming history pass: ``git log -z --raw -M`` over the prompt paths.

``--raw`` is ``--name-status`` plus the blob ids of both sides, so no ``ls-tree`` or
per-file process is ever needed: the blob ids go straight to ``git cat-file --batch``.
Everything here is plain data; nothing is parsed as a prompt. The settings the output
depends on (``log.showRoot``, ``log.diffMerges``, ...) are pinned by :mod:`.run`.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loomgit._git.run import NULL_SHA, failure, run, spawn, text
from loomgit.errors import GitError

_MARK = "\x01"
# %H parents date name email body; the body is last and is read by position, so it may
# hold anything but NUL.
_FORMAT = "%x01%H%x00%P%x00%aI%x00%an%x00%ae%x00%B%x00"
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE:", re.MULTILINE)
_BANG_SUBJECT = re.compile(r"^[A-Za-z][\w-]*(?:\([^)\n]*\))?!:")
_FILE_MODES = ("100644", "100755")


@dataclass(frozen=True)
class Change:
    """One file change of a commit, as ``git log --raw`` reports it."""

    status: str  # A M D R T (C is read as A)
    old_path: str | None
    new_path: str | None
    old_blob: str | None
    new_blob: str | None


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    date: str
    author: str
    email: str
    subject: str
    breaking: bool
    changes: tuple[Change, ...] = field(default=())


def is_breaking(message: str) -> bool:
    """Conventional Commits' marks: a ``BREAKING CHANGE:`` footer or ``type!:`` subject."""
    return bool(_BANG_SUBJECT.match(message) or _BREAKING_FOOTER.search(message))


def pathspecs(globs: Iterable[str], literal: Iterable[str] = ()) -> list[str]:
    """git pathspecs for loomgit globs (git's ``:(glob)`` magic has the same ``**`` rules)."""
    out = [f":(glob){g}" for g in globs]
    out += [f":(literal){p}" for p in sorted(set(literal))]
    return out


def _tokens(stream: Iterable[bytes]) -> Iterator[str]:
    rest = b""
    for chunk in stream:
        rest += chunk
        parts = rest.split(b"\0")
        rest = parts.pop()
        for p in parts:
            yield p.decode("utf-8", "surrogateescape")
    if rest:
        yield rest.decode("utf-8", "surrogateescape")


def parse_raw(data: bytes) -> list[Change]:
    """The changes in ``git diff --raw -z`` output."""
    marker = _MARK.encode() + b"x" + b"\0" * 5 + b"\0"
    commits = list(parse([marker, data]))
    return list(commits[0].changes) if commits else []


def parse(stream: Iterable[bytes]) -> Iterator[Commit]:
    """Commits from the NUL-separated output of ``git log -z --raw --format=_FORMAT``."""
    toks = _tokens(stream)
    head: list[str] | None = None
    changes: list[Change] = []

    def build(h: list[str]) -> Commit:
        body = h[5]
        return Commit(
            sha=h[0],
            parents=tuple(h[1].split()),
            date=h[2],
            author=h[3],
            email=h[4],
            subject=body.split("\n", 1)[0].strip(),
            breaking=is_breaking(body),
            changes=tuple(changes),
        )

    for tok in toks:
        if tok.startswith(_MARK):
            if head is not None:
                yield build(head)
            head = [tok[1:]]
            for _ in range(5):
                head.append(next(toks, ""))
            changes = []
            continue
        t = tok.lstrip("\n")
        if not t.startswith(":"):
            continue
        meta = t[1:].split()
        if len(meta) < 5:
            continue
        old_mode, new_mode, old_blob, new_blob, status = meta[:5]
        kind = status[0]
        src: str | None
        dst: str | None
        if kind in "RC":
            src, dst = next(toks, ""), next(toks, "")
        else:
            src = dst = next(toks, "")
        old_ok, new_ok = old_mode in _FILE_MODES, new_mode in _FILE_MODES
        if kind == "C":
            kind, src = "A", None
        elif kind == "T":  # a symlink became a file or the reverse
            kind = "M"
        if kind in "MR":  # a side that is not a regular file does not count
            if not old_ok and not new_ok:
                continue
            if not old_ok:
                kind = "A"
            elif not new_ok:
                kind, dst = "D", None
        elif (kind == "A" and not new_ok) or (kind == "D" and not old_ok):
            continue
        changes.append(
            Change(
                status=kind,
                old_path=None if kind == "A" else src,
                new_path=None if kind == "D" else dst,
                old_blob=None if kind == "A" or old_blob == NULL_SHA else old_blob,
                new_blob=None if kind == "D" or new_blob == NULL_SHA else new_blob,
            )
        )
    if head is not None:
        yield build(head)


class LogStream:
    """A running ``git log``: iterate it for its commits, close it when done (also when
    it was never iterated). With ``drain`` a thread reads git's output into memory as
    it comes, so git runs at full speed while the caller is busy with something else."""

    def __init__(self, root: str | Path, args: list[str], drain: bool = False) -> None:
        import tempfile  # on use: it pulls in shutil, bz2, lzma and random at start-up

        self._args = args
        self._err = tempfile.TemporaryFile()  # a file: a chatty git never blocks on it
        try:
            self._proc = spawn(args, root, stderr=self._err)
        except GitError:
            self._err.close()
            raise
        self._chunks: list[bytes] = []
        self._eof = False
        self._thread: threading.Thread | None = None
        if drain:
            self._thread = threading.Thread(target=self._drain, daemon=True)
            self._thread.start()
        self._closed = False

    def _drain(self) -> None:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        try:
            while chunk := os.read(fd, 1 << 16):
                self._chunks.append(chunk)
        except OSError:
            pass

    def _raw(self) -> Iterator[bytes]:
        if self._thread is not None:
            self._thread.join()
            yield from self._chunks
            self._chunks = []
            self._eof = True
            return
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while chunk := os.read(fd, 1 << 16):
            yield chunk
        self._eof = True

    def __iter__(self) -> Iterator[Commit]:
        try:
            yield from parse(self._raw())
        finally:
            rc, err = self._finish()
        if rc != 0:
            raise failure(self._args, err, rc)

    def read_all(self) -> bytes:
        """Everything git writes, once it has ended (the stream is then closed)."""
        try:
            data = b"".join(self._raw())
        finally:
            rc, err = self._finish()
        if rc != 0:
            raise failure(self._args, err, rc)
        return data

    def lines(self) -> Iterator[str]:
        """Each line git writes (a stream of object names, such as rev-list's)."""
        rest = b""
        try:
            for chunk in self._raw():
                *done, rest = (rest + chunk).split(b"\n")
                for line in done:
                    yield line.decode()
            if rest:
                yield rest.decode()
        finally:
            rc, err = self._finish()
        if rc != 0:
            raise failure(self._args, err, rc)

    def _finish(self) -> tuple[int, bytes]:
        if self._closed:
            return 0, b""
        self._closed = True
        proc = self._proc
        assert proc.stdout is not None
        if not self._eof and proc.poll() is None:
            proc.kill()  # stopped early: git's output is not wanted any more
        if self._thread is not None:
            self._thread.join()
        proc.stdout.close()
        rc = proc.wait()
        self._err.seek(0)
        err = self._err.read()
        self._err.close()
        return (rc if rc > 0 else 0), err

    def close(self) -> None:
        self._finish()


def log(
    root: str | Path,
    revs: Sequence[str],
    specs: Sequence[str],
    *,
    first_parent: bool = True,
    reverse: bool = False,
    drain: bool = False,
) -> LogStream:
    """Start ``git log`` over the commits of ``revs`` touching ``specs``: newest first,
    or oldest first with ``reverse`` (git then walks first and streams the diffs while
    the caller works). Iterate the result for :class:`Commit` objects; close it after."""
    args = [
        "log",
        "-z",
        "--raw",
        "--no-abbrev",
        "-M",
        "--no-color",
        "--encoding=UTF-8",
        f"--format={_FORMAT}",
    ]
    if first_parent:
        args += ["--first-parent", "-m"]
    else:
        args += ["--topo-order", "--diff-merges=first-parent"]
    if reverse:
        args.append("--reverse")
    return LogStream(root, [*args, *revs, "--", *specs], drain=drain)


@dataclass(frozen=True)
class Moved:
    """A rename or deletion of a whole-tree diff (:func:`moves`)."""

    status: str  # R or D
    old_path: str
    new_path: str | None
    old_blob: str
    old_regular: bool  # the old side was a regular file (not a symlink or submodule)


def moves(root: str | Path, pairs: Sequence[tuple[str, str]]) -> dict[str, list[Moved]]:
    """The renames and deletions of each ``(commit, parent)`` over the whole tree (no
    pathspec, so a rename from a path outside the prompt globs is seen): one ``git
    diff-tree --stdin -M`` process for all of them."""
    if not pairs:
        return {}
    args = ["diff-tree", "--stdin", "-z", "-r", "-M", "--raw", "--no-abbrev", "--diff-filter=RD"]
    data = run(args, root, input="".join(f"{c} {p}\n" for c, p in pairs).encode())
    out: dict[str, list[Moved]] = {}
    toks = iter(data.decode("utf-8", "surrogateescape").split("\0"))
    cur: list[Moved] | None = None
    for tok in toks:
        if not tok.startswith(":"):
            if tok.strip():
                cur = out.setdefault(tok.strip(), [])
            continue
        old_mode, _new_mode, old_blob, _new_blob, status = tok[1:].split()[:5]
        src = next(toks, "")
        dst = next(toks, "") if status[0] == "R" else None
        if cur is not None:
            cur.append(Moved(status[0], src, dst, old_blob, old_mode in _FILE_MODES))
    return out


def rev_list(root: str | Path, args: Sequence[str]) -> list[str]:
    return text(["rev-list", *args], root).split()


def first_parent_walk(root: str | Path, sha: str) -> Generator[str, None, None]:
    """The commits of ``sha``'s first-parent history, newest first, as git walks them;
    closing the iterator stops git (finding the nearest cached ancestor reads a line or
    two, not a history of 20,000 commits). git starts at the first ``next``."""
    yield from LogStream(root, ["rev-list", "--first-parent", sha, "--"]).lines()


def formatted(root: str | Path, rev: str, fmt: str, limit: int | None = None) -> str:
    """``git log --format=FMT REV`` (every commit, merges included), newest first."""
    args = ["log", f"--format={fmt}"]
    if limit:
        args.append(f"-n{limit}")
    return text([*args, rev, "--"], root)


def messages(root: str | Path, revs: str, path: str) -> list[str]:
    """The messages of the commits in ``revs`` (``base..head``) that touch ``path``."""
    out = text(["log", "--format=%B%x00", revs, "--", path], root, check=False)
    return [m.strip() for m in out.split("\0") if m.strip()]


def add_trailers(root: str | Path, message: str, trailers: Sequence[tuple[str, str]]) -> str:
    """``message`` with ``Key: value`` trailers added at its end, as ``git
    interpret-trailers`` places them (after any trailers already there)."""
    args = ["interpret-trailers", "--if-exists", "add", "--if-missing", "add", "--where", "end"]
    for key, value in trailers:
        args += ["--trailer", f"{key}: {value}"]
    out = run(args, root, input=message.encode("utf-8", "surrogateescape"))
    return out.decode("utf-8", "surrogateescape")
