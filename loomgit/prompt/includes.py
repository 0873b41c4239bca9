"""The one rule for what a template may include, and the loaders that apply it.

Templates come from pull requests, so ``{% include %}`` is a way to read files. An include
resolves only to a regular file that git tracks in the tree being evaluated, under the
include roots (the fixed folders of the prompt globs plus ``includes:`` in
``loomgit.yaml``): never under ``.git/``, never through a symlink (a tracked symlink,
mode 120000, included), never with ``..`` or an absolute path. Each source goes through
:func:`guarded`: the working tree (:func:`worktree_loader`: tracked in the index and
present on disk), the index (:func:`index_loader`) and a commit (:func:`commit_loader`,
blobs only). Anything else is refused with :class:`IncludeRefused`.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loomgit._git import index, is_repo, objects
from loomgit.errors import IncludeRefused
from loomgit.prompt.discover import fixed_prefix
from loomgit.prompt.parts import INCLUDE_REF

if TYPE_CHECKING:
    from loomgit.config import Config
    from loomgit.prompt.parts import IncludeLoader, Renderable

SYMLINK_MODE = "120000"
FILE_MODES = ("100644", "100755")

# (mode, bytes) of a tracked regular file; ("", None): there but not tracked (or a link)
Entry = tuple[str, "bytes | None"]
Lookup = Callable[[str], "Entry | None"]


@dataclass(frozen=True)
class Roots:
    """Where includes may come from: the prompt globs' fixed folders and ``includes:``."""

    prompts: tuple[str, ...]
    extra: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.prompts, *self.extra)))

    def describe(self) -> str:
        if "" in self.all:
            return "only files tracked by git can be included"
        where = " or ".join(self.prompts)
        extra = f" ({', '.join(self.extra)})" if self.extra else ""
        return f"only files tracked by git under {where} or the includes: folders{extra} can be included"


def include_roots(config: Config) -> Roots:
    """The include roots ``loomgit.yaml`` gives."""
    return Roots(
        tuple(dict.fromkeys(fixed_prefix(s.glob) for s in config.prompts)), config.includes
    )


def refused(name: str, roots: Roots) -> IncludeRefused:
    return IncludeRefused(f'include "{name}" is refused: {roots.describe()}')


def name_allowed(name: str, roots: Roots) -> bool:
    """Whether ``name`` (as written in the template) may name an include at all."""
    if not name or "\\" in name or "\0" in name or name.startswith("/"):
        return False
    if re.match(r"^[A-Za-z]:", name):
        return False
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts) or any(p.lower() == ".git" for p in parts):
        return False
    return any(name.startswith(r) for r in roots.all)


def guarded(lookup: Lookup, roots: Roots, *, cache: bool = True) -> IncludeLoader:
    """A loader applying the rule over ``lookup(name)``: ``None`` for a file that does not
    exist (the renderer says "not found"), an :data:`Entry` otherwise. ``cache``: keep
    texts (blobs never change; the working tree does)."""
    texts: dict[str, str | None] = {}

    def load(name: str) -> str | None:
        if not name_allowed(name, roots):
            raise refused(name, roots)
        if cache and name in texts:
            return texts[name]
        got = lookup(name)
        if got is None:
            texts[name] = None
            return None
        mode, data = got
        if mode not in FILE_MODES or data is None:
            raise refused(name, roots)
        try:
            text: str | None = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        texts[name] = text
        return text

    def data(name: str) -> bytes | None:  # the bytes of a content part (prompt.media)
        if not name_allowed(name, roots):
            raise refused(name, roots)
        got = lookup(name)
        if got is not None and (got[0] not in FILE_MODES or got[1] is None):
            raise refused(name, roots)
        return None if got is None else got[1]

    setattr(load, "data", data)  # noqa: B010 (a function attribute: the loader stays a callable)
    return load


def _through_link(base: Path, name: str) -> bool:
    """Whether any part of ``name`` under ``base`` is a symlink (or not a plain file/dir)."""
    here = base
    for part in name.split("/"):
        here = here / part
        try:
            st = os.lstat(here)
        except OSError:
            return False
        if stat.S_ISLNK(st.st_mode):
            return True
    return not stat.S_ISREG(st.st_mode)


def worktree_loader(config: Config) -> IncludeLoader:
    """Includes from the working tree: tracked in the index and present on disk."""
    base = config.root.resolve()
    entries: dict[str, tuple[str, str]] | None = None

    def lookup(name: str) -> Entry | None:
        nonlocal entries
        if entries is None:
            entries = index.staged_entries(base) if is_repo(base) else {}
        full = base / name
        if not os.path.lexists(full):
            return None
        tracked = entries.get(name)
        if tracked is None or _through_link(base, name):
            return "", None
        try:
            return tracked[0], full.read_bytes()
        except OSError:
            return None

    return guarded(lookup, include_roots(config), cache=False)


def index_loader(root: Path, roots: Roots) -> IncludeLoader:
    """Includes from the index (what a commit would hold), never the working tree."""
    entries: dict[str, tuple[str, str]] | None = None

    def lookup(name: str) -> Entry | None:
        nonlocal entries
        if entries is None:
            entries = index.staged_entries(root)
        got = entries.get(name)
        if got is None:
            return None
        mode, blob = got
        return mode, objects.read_blob(root, blob) if mode in FILE_MODES else None

    return guarded(lookup, roots)


def commit_loader(
    root: Path, commit: str, roots: Roots, known: dict[str, bytes] | None = None
) -> IncludeLoader:
    """Includes from ``commit``'s tree (blobs, never the working tree). ``known``: path ->
    content already read for that commit (regular files the history fold recorded)."""
    recorded = dict(known or {})

    def lookup(name: str) -> Entry | None:
        if name in recorded:
            return FILE_MODES[0], recorded[name]
        got = blob_entry(root, commit, name)
        if got is not None:
            return FILE_MODES[0], got[1]
        return None if objects.tree_entry(root, commit, name) is None else ("", None)

    return guarded(lookup, roots)


def blob_entry(root: Path, commit: str, name: str) -> tuple[str, bytes] | None:
    """(blob id, bytes) of ``name`` at ``commit`` when it is a regular file, else None."""
    got = objects.tree_entry(root, commit, name)
    if got is None or got[0] not in FILE_MODES:
        return None
    data = objects.read_blob(root, got[1])
    return None if data is None else (got[1], data)


_MAX_WALK = 64


def refusals(prompt: Renderable, loader: IncludeLoader) -> list[tuple[str, int, str]]:
    """(file, line, message) for each literal include, in the prompt or the files it
    includes, that the rule refuses: ``check`` reports them without rendering."""
    out: list[tuple[str, int, str]] = []
    seen: set[str] = set()
    todo = [(prompt.path, m.line, m.source) for m in prompt.messages if not m.verbatim]
    while todo and len(seen) < _MAX_WALK:
        path, first, source = todo.pop(0)
        for m in INCLUDE_REF.finditer(source):
            name = m.group(2)
            if name in seen:
                continue
            seen.add(name)
            try:
                text = loader(name)
            except IncludeRefused as e:
                out.append((path, first + source.count("\n", 0, m.start()), e.message))
                continue
            if text is not None:
                todo.append((name, 1, text))
    return out
