"""What a hook checks: the staged (or working-tree) content of a few files, copied into a
temporary folder that looks like a workspace.

The index is read with one ``git cat-file --batch``, so a hook never reads the other
prompts of a large repository.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

from loomgit._git import index
from loomgit.config import CONFIG_FILE, Config, load_config
from loomgit.errors import UsageError
from loomgit.evals.data_source import Opener, index_opener, worktree_opener
from loomgit.evals.datasets import data_files
from loomgit.evals.suite import parse_suite
from loomgit.prompt.discover import PROMPT_SUFFIXES, SUITE_SUFFIX, is_suite
from loomgit.prompt.includes import include_roots, index_loader, worktree_loader
from loomgit.prompt.render import IncludeLoader
from loomgit.workspace import Workspace

SOURCES = ("index", "worktree")


def read_index(root: Path, paths: Sequence[str]) -> dict[str, bytes]:
    """Staged content of ``paths`` (those in the index), in one ``git cat-file --batch``."""
    return index.read_staged(root, paths)


def staged_paths(root: Path) -> list[str]:
    """Paths added, copied, modified or renamed in the index (what the commit changes)."""
    return index.staged_paths(root)


def suite_path(prompt_path: str) -> str:
    """The suite file that belongs to a prompt file (``a/b.prompt`` -> ``a/b.tests.yaml``)."""
    return re.sub(r"\.[^./]+$", "", prompt_path) + SUITE_SUFFIX


def _related(path: str) -> list[str]:
    """Files that checking ``path`` needs besides itself: its suite, or a suite's prompt."""
    if is_suite(path):
        base = path[: -len(SUITE_SUFFIX)]
        return [base + s for s in PROMPT_SUFFIXES]
    return [suite_path(path)]


class Snapshot(Workspace):
    """A workspace over a temporary folder holding only the files a hook checks; its
    suites' data files are read from the repository (``data_opener``), tracked only."""

    def __init__(self, root: Path, loader: IncludeLoader, data_opener: Opener) -> None:
        self.root = root
        self._loader = loader
        self.data_opener = data_opener

    @cached_property
    def loader(self) -> IncludeLoader:
        return self._loader


@contextmanager
def snapshot(
    root: Path,
    paths: Sequence[str],
    source: str = "index",
    select: Callable[[Config, str], bool] | None = None,
) -> Iterator[Snapshot]:
    """A :class:`Snapshot` of ``paths``, their suites or prompts, and ``loomgit.yaml``,
    taken from the index (``source="index"``) or the working tree.

    ``select(config, path)``: keep only the paths it accepts, judged by the
    ``loomgit.yaml`` being checked, before anything else is read (so that a hook given
    every file of a large repository reads only its prompts and suites)."""
    if source not in SOURCES:
        raise UsageError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    with tempfile.TemporaryDirectory(prefix="loomgit-hook-") as tmp:
        base = Path(tmp).resolve()
        if select is not None:
            _store(base, _read(root, [CONFIG_FILE], source))
            config = load_config(base)
            paths = [p for p in paths if select(config, p)]
        wanted = list(
            dict.fromkeys([CONFIG_FILE, *paths, *(r for p in paths for r in _related(p))])
        )
        if select is not None:
            wanted.remove(CONFIG_FILE)
        _store(base, _read(root, wanted, source))
        opener = index_opener(root) if source == "index" else worktree_opener(root)
        yield Snapshot(base, _lazy_loader(root, base, source), opener)


def suites_naming(root: Path, data_paths: Sequence[str], source: str = "index") -> list[str]:
    """The suite files (staged, or in the working tree) whose ``cases:`` name one of
    ``data_paths``: a changed data file is a change to them. Read only when a hook is
    given a data file."""
    wanted = set(data_paths)
    suites = [p for p in index.staged_entries(root) if is_suite(p)]
    found = []
    for rel, data in _read(root, suites, source).items():
        text = data.decode("utf-8", "replace")
        if not any(p in text for p in wanted):
            continue  # cannot name it: no need to parse
        suite, _ = parse_suite(text, rel)
        if suite is not None and wanted & set(data_files(suite)):
            found.append(rel)
    return found


def _read(root: Path, wanted: Sequence[str], source: str) -> dict[str, bytes]:
    if source == "index":
        return read_index(root, wanted) if wanted else {}
    data = {}
    for rel in wanted:
        full = root / rel
        if full.is_file() and not full.is_symlink():  # a link is never read
            try:
                data[rel] = full.read_bytes()
            except OSError:
                continue
    return data


def _store(base: Path, data: dict[str, bytes]) -> None:
    for rel, content in data.items():
        target = base / rel
        if base not in target.resolve().parents:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _lazy_loader(root: Path, snap: Path, source: str) -> IncludeLoader:
    """The include loader of a snapshot, made on the first include (most prompts have
    none, and a hook must stay fast). Its roots come from the loomgit.yaml being checked."""
    made: list[IncludeLoader] = []

    def load(name: str) -> str | None:
        if not made:
            if source == "index":
                made.append(index_loader(root, include_roots(load_config(snap))))
            else:
                made.append(worktree_loader(load_config(root)))
        return made[0](name)

    return load


def relpath(root: Path, path: str) -> str:
    """``path`` (absolute, or relative to the current folder) relative to ``root``."""
    return relpaths(root, [path])[0]


def relpaths(root: Path, paths: Sequence[str]) -> list[str]:
    """:func:`relpath` of each of ``paths``, resolving each folder once (the pre-commit
    framework may pass every file of a large repository)."""
    top = str(root.resolve())
    cwd = os.getcwd()
    folders: dict[str, str | None] = {}  # folder as given -> resolved, relative to root
    out = []
    for path in paths:
        # folders resolved, the file itself never: a symlinked prompt is checked as the
        # link it is, not as the file it points to
        parent, name = os.path.split(path)
        folder = folders.get(parent, "")
        if folder == "":
            real = os.path.realpath(os.path.join(cwd, parent))
            if real == top:
                folder = "."
            elif real.startswith(top + os.sep):
                folder = os.path.relpath(real, top)
            else:
                folder = None
            folders[parent] = folder
        if folder is None or not name:
            out.append(path.replace(os.sep, "/"))
        elif folder == ".":
            out.append(name)
        else:
            out.append(f"{folder}/{name}".replace(os.sep, "/"))
    return out
