"""``loomgit init`` and ``loomgit new``."""

from __future__ import annotations

import click

from loomgit.app.scaffold import init as do_init
from loomgit.app.scaffold import new as do_new
from loomgit.cli.output import echo
from loomgit.workspace import Workspace


@click.command()
def init() -> int:
    """Scaffold loomgit.yaml, a sample prompt and suite, a GitHub workflow and a
    .pre-commit-config.yaml in the current git repository. Existing files are kept."""
    for w in do_init(Workspace().root):
        echo(f"created {w.path}" if w.created else f"skipped {w.path} (already exists)")
    return 0


@click.command()
@click.argument("prompt_id")
@click.option("--description", "-d", default="", help="The prompt's description.")
def new(prompt_id: str, description: str) -> int:
    """Create a new prompt PROMPT_ID (e.g. support/summarize) from the template."""
    w = do_new(Workspace(), prompt_id, description)
    echo(f"created {w.path}")
    return 0
