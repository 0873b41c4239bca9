from __future__ import annotations

import click

from .output import print_json, table


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def list_(as_json: bool) -> int:
    """List the prompts of the working tree."""
    from ..workspace import Workspace

    files = Workspace().files()
    if as_json:
        print_json([{"id": f.id, "path": f.path} for f in files])
    else:
        table(["ID", "PATH"], [(f.id, f.path) for f in files])
    return 0
