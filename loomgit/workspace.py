"""A repository as loomgit sees it: its root, its configuration, its prompt files."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

from loomgit.config import Config, find_root, load_config
from loomgit.prompt.discover import PromptFile, discover, list_files, read, resolve_id
from loomgit.prompt.includes import worktree_loader
from loomgit.prompt.model import IncludeLoader, Prompt
from loomgit.prompt.toolspec import resolve_tools


class Workspace:
    """Entry point for library users: ``Workspace(".").prompt("support/summarize")``."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.root: Path = find_root(path)

    @cached_property
    def config(self) -> Config:
        return load_config(self.root)

    @cached_property
    def loader(self) -> IncludeLoader:
        return worktree_loader(self.config)

    @cached_property
    def tracked(self) -> list[str]:
        """Every candidate file of the tree (:func:`list_files`), listed once per workspace:
        a command that looks at prompts, suites and experiments asks git once."""
        return list_files(self.root)

    def files(self) -> list[PromptFile]:
        return discover(self.config, self.tracked)

    def find(self, ident: str) -> PromptFile:
        return resolve_id(self.config, ident)

    def prompt(self, ident: str) -> Prompt:
        """The working-tree prompt for an id or a path (its ``$ref`` tools read)."""
        return resolve_tools(read(self.config, self.find(ident)), self.loader)

    def render(
        self, ident: str, variables: dict[str, object] | None = None
    ) -> list[dict[str, Any]]:
        cfg = self.config
        return self.prompt(ident).render(
            variables,
            loader=self.loader,
            max_chars=cfg.render_max_chars,
            timeout_s=cfg.render_timeout_s,
        )
