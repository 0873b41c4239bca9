"""The one streaming history pass: ``git log -z --raw -M`` over the prompt paths.

``--raw`` is ``--name-status`` plus the blob ids of both sides, so no ``ls-tree`` or
per-file process is ever needed: the blob ids go straight to ``git cat-file --batch``.
Everything here is plain data; nothing is parsed as a prompt.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loomgit import gitio
from loomgit.errors import GitError

NULL_SHA = "0" * 40
_MARK = "\x01"
# %H parents date name email body; the body is last and is read by position, so it may
# hold anything but NUL.
_FORMAT = "%x01%H%x00%P%x00%aI%x00%an%x00%ae%x00%B%x00"
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE:", re.MULTILINE)
_BANG_SUBJECT = re.compile(r"^[A-Za-z][\w-]*(?:\([^)\n]*\))?!:")
_FILE_MODES = ("100644", "100755")
# git settings that would change what ``git log`` prints; pinned for every call
_PINNED = (
    "-c",
    "log.showSignature=false",
    "-c",
    "diff.relative=false",
    "-c",
    "core.quotePath=false",
    "-c",
    "log.follow=false",
    "-c",
    "log.showRoot=true",
    "-c",
    "log.diffMerges=first-parent",
)


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
        import tempfile

        self._err = tempfile.TemporaryFile()  # a file: a chatty git never blocks on it
        env = dict(os.environ, LC_ALL="C", GIT_TERMINAL_PROMPT="0")
        try:
            self._proc = subprocess.Popen(
                args, cwd=root, stdout=subprocess.PIPE, stderr=self._err, env=env
            )
        except FileNotFoundError:
            self._err.close()
            raise GitError("git is not installed or not on PATH") from None
        self._chunks: list[bytes] = []
        self._eof = False
        self._thread = None
        if drain:
            import threading

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
            msg = err.splitlines()[-1] if err else f"exit status {rc}"
            raise GitError(f"git log failed: {msg.removeprefix('fatal: ')}")

    def _finish(self) -> tuple[int, str]:
        if self._closed:
            return 0, ""
        self._closed = True
        proc = self._proc
        assert proc.stdout is not None
        if self._thread is None and not self._eof and proc.poll() is None:
            proc.kill()  # stopped early: git's output is not wanted any more
        if self._thread is not None:
            self._thread.join()
        proc.stdout.close()
        rc = proc.wait()
        self._err.seek(0)
        err = self._err.read().decode("utf-8", "replace").strip()
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
        "git",
        *_PINNED,
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


# --- small repository facts, one process each ------------------------------------------


@dataclass(frozen=True)
class RepoInfo:
    git_dir: Path  # the common git dir (shared by worktrees)
    shallow: bool


def repo_info(root: str | Path) -> RepoInfo:
    out = gitio.text(["rev-parse", "--git-common-dir", "--is-shallow-repository"], root)
    lines = out.splitlines()
    git_dir = Path(lines[0])
    if not git_dir.is_absolute():
        git_dir = Path(root) / git_dir
    return RepoInfo(git_dir=git_dir, shallow=len(lines) > 1 and lines[1].strip() == "true")


def resolve_commit(root: str | Path, rev: str) -> str | None:
    """The full sha ``rev`` names, or None (unborn HEAD, unknown name)."""
    if rev.startswith("-"):
        return None
    out = gitio.run(
        ["rev-parse", "-q", "--verify", "--end-of-options", f"{rev}^{{commit}}"], root, check=False
    )
    sha = out.decode().strip()
    return sha if re.fullmatch(r"[0-9a-f]{40,64}", sha) else None


def branch_refs(root: str | Path) -> dict[str, str]:
    """refname -> sha for local branches and origin's remote branches, plus ``origin/HEAD``'s
    target under the key ``"origin/HEAD"``."""
    out = gitio.text(
        [
            "for-each-ref",
            "--format=%(refname)%00%(objectname)%00%(symref)",
            "refs/heads",
            "refs/remotes/origin",
        ],
        root,
        check=False,
    )
    refs: dict[str, str] = {}
    for line in out.splitlines():
        name, _, rest = line.partition("\0")
        sha, _, sym = rest.partition("\0")
        if name == "refs/remotes/origin/HEAD" and sym:
            refs["origin/HEAD"] = sym.removeprefix("refs/remotes/origin/")
        else:
            refs[name] = sha
    return refs


def main_ref(root: str | Path, configured: str | None) -> tuple[str, str] | None:
    """(name, sha) of the main branch: ``main_branch`` from the config, else the remote's
    default branch, else ``main`` or ``master``; local branches before ``origin/`` ones."""
    refs = branch_refs(root)
    names = [configured] if configured else [refs.get("origin/HEAD"), "main", "master"]
    for name in names:
        if not name:
            continue
        for full in (
            f"refs/heads/{name}",
            f"refs/remotes/origin/{name}",
            f"refs/remotes/{name}",
            name,
        ):
            if full in refs:
                return full.removeprefix("refs/heads/").removeprefix("refs/remotes/"), refs[full]
    return None


def rev_list(root: str | Path, args: Sequence[str]) -> list[str]:
    return gitio.text(["rev-list", *args], root).split()
