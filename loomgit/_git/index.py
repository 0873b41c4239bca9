"""The index and the working tree: which files git sees, and what changed since a commit."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from loomgit._git.objects import read_many
from loomgit._git.run import run


def _paths(out: bytes) -> list[str]:
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def ls_files(root: str | Path) -> list[str]:
    """Tracked files plus untracked ones git does not ignore, as repo-relative paths."""
    out = run(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], root)
    return sorted(set(_paths(out)))


def untracked(root: str | Path, specs: Sequence[str] = ()) -> list[str]:
    """Untracked files git does not ignore (under ``specs`` when given)."""
    args = ["ls-files", "-z", "--others", "--exclude-standard"]
    if specs:
        args += ["--", *specs]
    return _paths(run(args, root))


def diff_raw(root: str | Path, base: str, specs: Sequence[str], *, cached: bool) -> bytes:
    """``git diff --raw -z -M`` from ``base`` to the index (``cached``) or the working
    tree, over ``specs``: the input of :func:`loomgit._git.log.parse_raw`."""
    args = ["diff", "--raw", "-z", "-M", "--no-abbrev", "--no-color", "--no-ext-diff"]
    if cached:
        args.append("--cached")
    return run([*args, base, "--", *specs], root)


def changed_since(root: str | Path, commit: str) -> set[str]:
    """Paths that differ between ``commit`` and the working tree: committed, staged,
    unstaged or untracked."""
    out = run(["diff", "--name-only", "-z", commit, "--"], root)
    return set(_paths(out)) | set(untracked(root))


def staged_paths(root: str | Path) -> list[str]:
    """Paths added, copied, modified or renamed in the index (what a commit changes)."""
    return _paths(run(["diff", "--cached", "--name-only", "-z", "--diff-filter=ACMRT"], root))


SYMLINK_MODE = "120000"


def staged_entries(
    root: str | Path, paths: Sequence[str] | None = None
) -> dict[str, tuple[str, str]]:
    """``{path: (mode, blob id)}`` of the stage-0 index entries (mode ``120000``: a
    symlink): all of them, or those of ``paths``. Names may hold any character (a newline
    too): they are matched literally and read NUL-separated."""
    args = ["ls-files", "-s", "-z"]
    if paths is not None:
        wanted = [p for p in dict.fromkeys(paths) if p]
        if not wanted:
            return {}
        args += ["--", *(f":(literal){p}" for p in wanted)]
    out = run(args, root)
    entries: dict[str, tuple[str, str]] = {}
    for rec in out.split(b"\0"):
        meta, tab, name = rec.partition(b"\t")
        fields = meta.decode("ascii", "replace").split()
        if tab and len(fields) == 3 and fields[2] == "0":
            entries[name.decode("utf-8", "surrogateescape")] = (fields[0], fields[1])
    return entries


def read_staged(root: str | Path, paths: Sequence[str]) -> dict[str, bytes]:
    """Staged content of those of ``paths`` that are regular files in the index (a staged
    symlink is not content: see :func:`staged_symlinks`), read by blob id in one process."""
    blobs = {p: b for p, (mode, b) in staged_entries(root, paths).items() if mode != SYMLINK_MODE}
    got = read_many(root, blobs.values())
    return {p: data for p, b in blobs.items() if (data := got.get(b)) is not None}


def staged_symlinks(root: str | Path, paths: Sequence[str]) -> list[str]:
    """Those of ``paths`` that the index holds as symlinks (mode 120000)."""
    return [p for p, (mode, _) in staged_entries(root, paths).items() if mode == SYMLINK_MODE]


def name_status(root: str | Path, base: str) -> dict[str, str]:
    """path -> status letter (A, M, D, T...) from ``base`` to the working tree, untracked
    files as A; renames are a delete and an add."""
    out = run(["diff", "--name-status", "--no-renames", "-z", base, "--"], root)
    parts = _paths(out)
    changed = {parts[i + 1]: parts[i][:1] for i in range(0, len(parts) - 1, 2)}
    for p in untracked(root):
        changed[p] = "A"
    return changed
