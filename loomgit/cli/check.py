"""``loomgit check``."""

from __future__ import annotations

import click

from loomgit.app import check as checks
from loomgit.cli.output import echo, one_line, print_json, style
from loomgit.errors import EXIT_FAILED
from loomgit.workspace import Workspace


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option(
    "--portable",
    is_flag=True,
    help="Also name each template construct outside the portable subset (other languages).",
)
def check(paths: tuple[str, ...], as_json: bool, strict: bool, portable: bool) -> int:
    """Validate prompt files and test suites (all of them when no PATHS are given).

    Each finding is one line: PATH:LINE: LEVEL: MESSAGE. Exits 1 when there is an error.
    """
    ws = Workspace()
    findings = checks.check(ws, list(paths) if paths else None)
    if not paths:  # the whole repository: also what its history says about the prompts
        from loomgit.history.listing import unfollowed_findings

        findings += unfollowed_findings(ws)
    if portable:
        findings += checks.check_portable(ws, list(paths) if paths else None)
    failed = any(f.level == "error" or strict for f in findings)
    if as_json:
        print_json({"ok": not failed, "findings": [f.to_dict() for f in findings]})
    else:
        for f in findings:
            colour = "red" if f.level == "error" else "yellow"
            echo(one_line(f).replace(f": {f.level}: ", ": " + style(f.level, fg=colour) + ": ", 1))
        errors = sum(f.level == "error" for f in findings)
        warnings = len(findings) - errors
        echo(
            f"loomgit check: {errors} error(s), {warnings} warning(s)"
            if findings
            else "loomgit check: no problems found",
            err=True,
        )
    return EXIT_FAILED if failed else 0
