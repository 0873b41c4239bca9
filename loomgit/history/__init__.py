"""Versions from git history (DESIGN.md section 3).

A prompt's versions are a pure function of the history reachable from a commit: one
``git log`` pass over the prompt paths, batched blob reads, a bump per change decided by
what changed (:mod:`.bump`), cached by commit under ``.git/loomgit/history/``.

Public API::

    history(ws, ref="HEAD") -> History           every prompt's versions at a commit
    versions(ws, ident, ref="HEAD") -> [Version]  one prompt's versions, oldest first
    resolve_at(ws, ident, at) -> Resolved        ID@1.2.0 / ID@1.2 / ID@latest / ID@commit
                                                 (ID@stage: loomgit.refs.resolve_at)
    working_version(ws, prompt) -> str | None    version of a working-tree prompt
    pending_changes(ws, source) -> [Pending]     what a commit now would bump, and why
    classify(old_prompt, new_prompt) -> (change, reasons)
    read_blobs(root, [(commit, path), ...]) -> {(commit, path): bytes | None}

(``loomgit.history.versions`` is the function above; the module of that name is
``importlib.import_module("loomgit.history.versions")``.)
"""

from __future__ import annotations

from loomgit._git.objects import BlobReader, read_blobs
from loomgit.history.bump import classify
from loomgit.history.lookup import Resolved, load_version, resolve_at, versions
from loomgit.history.pending import Pending, pending_changes, working_version
from loomgit.history.repo import ShallowCloneError
from loomgit.history.versions import History, Version, history

__all__ = [
    "BlobReader",
    "History",
    "Pending",
    "Resolved",
    "ShallowCloneError",
    "Version",
    "classify",
    "history",
    "load_version",
    "pending_changes",
    "read_blobs",
    "resolve_at",
    "versions",
    "working_version",
]
