"""``loomgit-protect``: stage branches are written by ``loomgit promote`` only, so a commit
made by hand on one is refused."""

from __future__ import annotations

from pathlib import Path

from loomgit._git import refs
from loomgit.config import Config, load_config


def current_branch(root: Path) -> str | None:
    """The checked-out branch (None on a detached HEAD)."""
    ref = refs.current_branch(root)
    return ref.removeprefix("refs/heads/") if ref else None


def protect(root: Path, config: Config | None = None) -> str | None:
    """Why a hand commit on the current branch is refused (a stage branch), or None."""
    branch = current_branch(root)
    if branch is None:
        return None
    cfg = config or load_config(root)
    for stage in cfg.stages:
        if cfg.branch_for(stage) == branch:
            return (
                f"'{branch}' is the branch of stage '{stage}': only 'loomgit promote' "
                f"writes it. Switch back (git switch -) and run "
                f"'loomgit promote ID VERSION --to {stage}' instead"
            )
    return None
