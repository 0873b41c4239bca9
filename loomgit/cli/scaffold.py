"""``loomgit init`` (and ``init --adopt``) and ``loomgit new``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loomgit.app.scaffold import init as do_init
from loomgit.app.scaffold import new as do_new
from loomgit.cli.output import echo
from loomgit.errors import UsageError
from loomgit.workspace import Workspace

if TYPE_CHECKING:
    from loomgit.app.adopt import Adoption


@click.command()
@click.option(
    "--adopt",
    is_flag=True,
    help="Propose prompt globs for the prompt-like files already in the repository "
    "and write loomgit.yaml from them (no sample prompt).",
)
@click.option("--yes", "-y", is_flag=True, help="With --adopt: write without asking.")
def init(adopt: bool, yes: bool) -> int:
    """Scaffold loomgit.yaml, a sample prompt and suite, a GitHub workflow and a
    .pre-commit-config.yaml in the current git repository. Existing files are kept.

    With --adopt, loomgit.yaml lists the prompts already there instead: each proposed
    glob is shown with how many files it lists, example ids and how far back their
    history goes, and written on confirmation (--yes for scripts)."""
    root = Workspace().root
    if yes and not adopt:
        raise UsageError("--yes goes with --adopt")
    if adopt:
        return _adopt(root, yes)
    for w in do_init(root):
        echo(f"created {w.path}" if w.created else f"skipped {w.path} (already exists)")
    return 0


def _adopt(root: Path, yes: bool) -> int:
    from loomgit.app.adopt import ADOPT_FILES, propose, write
    from loomgit.config import CONFIG_FILE

    adoption = propose(root)
    if not adoption.proposals:
        raise UsageError(
            f"no prompt-like files among the {adoption.tracked} files git does not ignore "
            "(*.prompty, *.prompt.yml, *.prompt, folders of system.md, .md/.txt under "
            "prompts/); nothing written: run 'loomgit init' for a sample prompt"
        )
    _show(adoption)
    if (root / CONFIG_FILE).exists():
        raise UsageError(
            f"{CONFIG_FILE} already exists; not overwritten: add the globs above to its "
            "'prompts:' list, or move it away and rerun"
        )
    files = ", ".join([CONFIG_FILE, *(r for r in ADOPT_FILES if not (root / r).exists())])
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(
                "nothing written: stdin is not a terminal to confirm on; rerun with --yes"
            )
        if not click.confirm(f"Write {files}?", default=False):
            echo("nothing written")
            return 0
    for w in write(root, adoption):
        echo(f"created {w.path}" if w.created else f"skipped {w.path} (already exists)")
    echo("next: loomgit list; loomgit check; pre-commit install")
    return 0


def _show(adoption: Adoption) -> None:
    n = sum(len(p.paths) for p in adoption.proposals)
    echo(f"{n} prompt-like file(s) among the {adoption.tracked} files git does not ignore:")
    for p in adoption.proposals:
        echo("")
        ident = f', id "{p.id}"' if p.id else ""
        echo(f"  {p.glob}  ({p.kind}{ident})")
        examples = ", ".join(p.ids[:2]) + (", ..." if len(p.ids) > 2 else "")
        echo(f"    {len(p.paths)} prompt(s), e.g. {examples}")
        if p.commits:
            echo(f"    history: {p.commits} commit(s) since {p.first}")
        else:
            echo("    history: none yet (not committed)")
        for path in p.docs[:2]:
            echo(f"    note: {path} looks like documentation; the glob lists it as a prompt")
        for path, why in p.bad_ids[:2]:
            echo(f"    note: {path}: {why}")
        if len(p.bad_ids) > 2:
            echo(f"    note: {len(p.bad_ids) - 2} more file(s) whose id is refused")
    for ident, paths in list(adoption.duplicates.items())[:3]:
        echo(f"  note: id {ident!r} is claimed by {', '.join(paths)}; 'loomgit check' names it")
    if len(adoption.duplicates) > 3:
        echo(f"  note: {len(adoption.duplicates) - 3} more id(s) claimed twice")
    echo("")
    echo("loomgit.yaml:")
    echo("  prompts:")
    for p in adoption.proposals:
        echo(f"    - {p.entry()}")
    echo("")


@click.command()
@click.argument("prompt_id")
@click.option("--description", "-d", default="", help="The prompt's description.")
def new(prompt_id: str, description: str) -> int:
    """Create a new prompt PROMPT_ID (e.g. support/summarize) from the template."""
    w = do_new(Workspace(), prompt_id, description)
    echo(f"created {w.path}")
    return 0
