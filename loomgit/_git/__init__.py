"""The only code in loomgit that runs git.

- :mod:`.run`: the runner (pinned environment and settings, failures as ``GitError``)
  and where the repository is (``is_repo``, ``git_dir``, ``toplevel``, user identity);
- :mod:`.objects`: the one ``cat-file --batch`` reader, blob/tree/commit writes;
- :mod:`.refs`: reading refs, compare-and-swap ``update-ref``, fetch and push;
- :mod:`.log`: the one streaming ``git log`` pass history folds;
- :mod:`.index`: ``ls-files`` and diffs against the index and the working tree.
"""

from __future__ import annotations

from loomgit._git.run import (
    EMPTY_TREE,
    NULL_SHA,
    git_dir,
    identity,
    is_repo,
    is_shallow,
    require_repo,
    toplevel,
    user,
)

__all__ = [
    "EMPTY_TREE",
    "NULL_SHA",
    "git_dir",
    "identity",
    "is_repo",
    "is_shallow",
    "require_repo",
    "toplevel",
    "user",
]
