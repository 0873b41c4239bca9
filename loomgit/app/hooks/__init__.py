"""Commit-time guards: the logic behind loomgit's git hooks and pre-commit hooks.

One module per concern:

* :mod:`~loomgit.app.hooks.snapshots`: the staged (or working-tree) content of the files a
  hook checks, read from the index with one ``git cat-file --batch``;
* :mod:`~loomgit.app.hooks.commit_check`: :func:`check_files` validates that content and
  renders each changed prompt with its ``sample`` and with the ``vars`` of every case;
* :mod:`~loomgit.app.hooks.protection`: :func:`protect` refuses hand commits on stage
  branches;
* :mod:`~loomgit.app.hooks.trailers`: :func:`update_message` / :func:`apply_trailers`
  write the ``Prompt-Version:`` trailers of the prompts a commit changes;
* :mod:`~loomgit.app.hooks.offline_eval`: :func:`run_evals` runs the suites of changed
  prompts offline (replay mode);
* :mod:`~loomgit.app.hooks.installer`: :func:`install` / :func:`uninstall` manage the
  plain scripts of ``hooks/`` in ``.git/hooks`` (or ``core.hooksPath``).

Nothing here touches the network, and nothing is printed: the CLI formats the results.

The names below are loaded on first use, so that a commit hook imports only the module
it runs (the version trailers need the history, the offline eval the eval engine; the
check needs neither).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loomgit.app.hooks.commit_check import CheckResult, check_files, check_snapshot
    from loomgit.app.hooks.installer import (
        HookAction,
        hooks_dir,
        install,
        is_ours,
        shipped_hooks_dir,
        uninstall,
    )
    from loomgit.app.hooks.offline_eval import run_evals
    from loomgit.app.hooks.protection import current_branch, protect
    from loomgit.app.hooks.snapshots import Snapshot, read_index, snapshot, staged_paths
    from loomgit.app.hooks.trailers import VersionsResult, apply_trailers, update_message

_HOME = {
    "CheckResult": "commit_check",
    "check_files": "commit_check",
    "check_snapshot": "commit_check",
    "HookAction": "installer",
    "hooks_dir": "installer",
    "install": "installer",
    "is_ours": "installer",
    "shipped_hooks_dir": "installer",
    "uninstall": "installer",
    "run_evals": "offline_eval",
    "current_branch": "protection",
    "protect": "protection",
    "Snapshot": "snapshots",
    "read_index": "snapshots",
    "snapshot": "snapshots",
    "staged_paths": "snapshots",
    "VersionsResult": "trailers",
    "apply_trailers": "trailers",
    "update_message": "trailers",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])


__all__ = [
    "apply_trailers",
    "check_files",
    "check_snapshot",
    "CheckResult",
    "current_branch",
    "HookAction",
    "hooks_dir",
    "install",
    "is_ours",
    "protect",
    "read_index",
    "run_evals",
    "shipped_hooks_dir",
    "Snapshot",
    "snapshot",
    "staged_paths",
    "uninstall",
    "update_message",
    "VersionsResult",
]
