"""Git plumbing for stage branches: blobs, trees, commits and compare-and-swap ref moves.

Nothing here reads or writes the working tree, the repository's index, ``HEAD`` or the
current branch: trees are built in a temporary index (``GIT_INDEX_FILE``) from blob ids,
commits are made with ``commit-tree``, and a branch moves only with
``update-ref REF NEW OLD``, which git applies atomically and only if the branch still
points at ``OLD``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from loomgit.errors import GitError

NULL_SHA = "0" * 40


def git(
    args: Sequence[str],
    root: str | Path,
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git ARGS`` in ``root``; a failure (with ``check``) becomes :class:`GitError`."""
    full_env = dict(os.environ)
    full_env.setdefault("GIT_TERMINAL_PROMPT", "0")
    full_env["LC_ALL"] = "C"
    # a caller's GIT_INDEX_FILE (set by a hook, say) must never redirect our writes
    full_env.pop("GIT_INDEX_FILE", None)
    if env:
        full_env.update(env)
    try:
        proc = subprocess.run(
            ["git", *args], cwd=root, input=input, capture_output=True, env=full_env
        )
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if check and proc.returncode != 0:
        raise GitError(f"git {args[0]} failed: {last_line(proc.stderr, proc.returncode)}")
    return proc


def last_line(stderr: bytes, code: int) -> str:
    lines = [ln for ln in stderr.decode("utf-8", "replace").strip().splitlines() if ln.strip()]
    return (
        lines[-1].removeprefix("fatal: ").removeprefix("error: ")
        if lines
        else f"exit status {code}"
    )


def out(args: Sequence[str], root: str | Path, **kw: object) -> str:
    return git(args, root, **kw).stdout.decode("utf-8", "replace")  # type: ignore[arg-type]


def branch_ref(branch: str) -> str:
    return branch if branch.startswith("refs/") else f"refs/heads/{branch}"


def read_ref(root: str | Path, ref: str) -> str | None:
    """The commit ``ref`` points at, or None when it does not exist."""
    proc = git(["rev-parse", "--verify", "-q", f"{ref}^{{commit}}"], root, check=False)
    sha = proc.stdout.decode().strip()
    return sha if proc.returncode == 0 and sha else None


def is_shallow(root: str | Path) -> bool:
    return out(["rev-parse", "--is-shallow-repository"], root, check=False).strip() == "true"


def current_branch(root: str | Path) -> str | None:
    """``refs/heads/...`` that HEAD is on, or None when detached."""
    proc = git(["symbolic-ref", "-q", "HEAD"], root, check=False)
    ref = proc.stdout.decode().strip()
    return ref or None


def read_blob(root: str | Path, name: str) -> bytes | None:
    """Contents of a blob (``<sha>`` or ``<commit>:<path>``), or None when missing."""
    proc = git(["cat-file", "blob", name], root, check=False)
    return proc.stdout if proc.returncode == 0 else None


def object_ids(root: str | Path, names: Sequence[str], kind: str = "blob") -> dict[str, str | None]:
    """``{name: object id or None}`` for names like ``<commit>:<path>`` (objects of type
    ``kind`` only), in one process."""
    wanted = [n for n in dict.fromkeys(names) if n and "\n" not in n]
    if not wanted:
        return {}
    data = git(
        ["cat-file", "--batch-check=%(objectname) %(objecttype)"],
        root,
        input=("\n".join(wanted) + "\n").encode(),
    ).stdout.decode()
    result: dict[str, str | None] = {}
    for name, line in zip(wanted, data.splitlines()):
        parts = line.split()
        result[name] = parts[0] if len(parts) == 2 and parts[1] == kind else None
    return result


def tree_files(root: str | Path, commit: str) -> dict[str, str]:
    """``{path: blob id}`` of every file in ``commit``'s tree."""
    data = git(["ls-tree", "-r", "-z", "--full-tree", commit], root).stdout
    files: dict[str, str] = {}
    for rec in data.split(b"\0"):
        if not rec:
            continue
        meta, _, path = rec.partition(b"\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == b"blob":
            files[path.decode("utf-8", "surrogateescape")] = parts[2].decode()
    return files


def hash_blob(root: str | Path, data: bytes) -> str:
    """Write ``data`` as a blob to the object database (no filters) and return its id."""
    return out(["hash-object", "-w", "--no-filters", "--stdin"], root, input=data).strip()


def write_tree(root: str | Path, files: Mapping[str, str]) -> str:
    """A tree holding exactly ``files`` (``{path: blob id}``), built in a private index."""
    info = "".join(f"100644 {sha}\t{path}\n" for path, sha in sorted(files.items()))
    with tempfile.TemporaryDirectory(prefix="loomgit-stage-") as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        git(["update-index", "--add", "--index-info"], root, input=info.encode(), env=env)
        return out(["write-tree"], root, env=env).strip()


def identity(root: str | Path) -> str:
    """``Name <email>`` git will write as the author (environment first, then config)."""
    proc = git(["var", "GIT_AUTHOR_IDENT"], root, check=False)
    ident = proc.stdout.decode("utf-8", "replace").strip()
    if proc.returncode != 0 or ">" not in ident:
        raise GitError(
            "git has no user identity for the promotion commit; set it with "
            "git config user.name / user.email"
        )
    return ident[: ident.rindex(">") + 1]


def commit_tree(root: str | Path, tree: str, parent: str | None, message: str) -> str:
    """A commit of ``tree`` on ``parent`` (none for a stage's first commit)."""
    args = ["commit-tree", tree]
    if parent:
        args += ["-p", parent]
    proc = git(args + ["-F", "-"], root, input=message.encode(), check=False)
    if proc.returncode != 0:
        err = last_line(proc.stderr, proc.returncode)
        if "tell me who you are" in proc.stderr.decode("utf-8", "replace") or "empty ident" in err:
            raise GitError(
                "git has no user identity for the promotion commit; set it with "
                "git config user.name / user.email"
            )
        raise GitError(f"git commit-tree failed: {err}")
    return proc.stdout.decode().strip()


def compare_and_swap(root: str | Path, ref: str, new: str, old: str | None, reason: str) -> bool:
    """Move ``ref`` to ``new`` only if it still points at ``old`` (None: must not exist).

    Returns False when another writer moved it first (the caller re-reads and retries).
    """
    proc = git(
        ["update-ref", "-m", reason, "--create-reflog", ref, new, old or NULL_SHA],
        root,
        check=False,
    )
    if proc.returncode == 0:
        return True
    err = proc.stderr.decode("utf-8", "replace")
    if any(
        s in err
        for s in (
            "but expected",
            "cannot lock ref",
            "already exists",
            "unable to resolve reference",
            "is at ",
            "reference already",
        )
    ):
        return False
    raise GitError(f"git update-ref failed: {last_line(proc.stderr, proc.returncode)}")


def read_blobs(root: str | Path, shas: Sequence[str]) -> dict[str, bytes | None]:
    """Contents of many blobs in one ``git cat-file --batch`` process."""
    wanted = [s for s in dict.fromkeys(shas) if s and "\n" not in s]
    if not wanted:
        return {}
    data = git(["cat-file", "--batch"], root, input=("\n".join(wanted) + "\n").encode()).stdout
    result: dict[str, bytes | None] = {}
    pos = 0
    for name in wanted:
        nl = data.index(b"\n", pos)
        header = data[pos:nl].split()
        pos = nl + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            result[name] = data[pos : pos + size]
            pos += size + 1
        elif len(header) == 3:
            pos += int(header[2]) + 1
            result[name] = None
        else:
            result[name] = None  # "<name> missing"
    return result
