"""``loomgit report``: work with saved eval reports (merge shards; HTML is added here too)."""

from __future__ import annotations

import json

import click

from loomgit.app.html_report import write_html, write_review
from loomgit.app.reports import redactor, write_report
from loomgit.cli.evals_format import print_report
from loomgit.cli.output import echo, print_json
from loomgit.errors import LoomgitError, UsageError
from loomgit.evals.results import EvalReport
from loomgit.evals.results import merge as merge_reports
from loomgit.workspace import Workspace


@click.group("report", invoke_without_command=True)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write a self-contained HTML page to FILE: the overview (versions, stages, runs), "
    "or with --results the review page.",
)
@click.option(
    "--prompt", "prompts", multiple=True, metavar="ID", help="Only these prompts (with --html)."
)
@click.option(
    "--results",
    multiple=True,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="With --html: a review page of these eval, compare or ci JSON results "
    "(cases by prompt@ref and model; repeatable).",
)
@click.pass_context
def report(
    ctx: click.Context, html_path: str | None, prompts: tuple[str, ...], results: tuple[str, ...]
) -> int | None:
    """Reports: merge shard results, render overviews and review pages."""
    if results and not html_path:
        raise UsageError("--results goes with --html FILE (the review page to write)")
    if html_path and results:
        ws = _workspace_or_none()
        n = write_review(html_path, results, redactor(ws), list(prompts) or None)
        echo(f"wrote {html_path} ({n} case{'' if n == 1 else 's'})")
        return 0
    if html_path:
        ws = Workspace()
        write_html(ws, html_path, [ws.find(i).id for i in prompts])
        echo(f"wrote {html_path}")
        return 0
    if ctx.invoked_subcommand is None:
        echo(ctx.get_help())
    return None


def _workspace_or_none() -> Workspace | None:
    """The repository here, for its providers' secret names; results can be reviewed
    outside one too."""
    try:
        return Workspace()
    except LoomgitError:
        return None


def read_report(path: str) -> EvalReport:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise UsageError(f"{path}: cannot read ({e.strerror or e})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        line = getattr(e, "lineno", None)
        raise UsageError(f"not valid JSON ({getattr(e, 'msg', e)})", path=path, line=line) from None
    return EvalReport.from_dict(data, path)


@report.command("merge")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the merged JSON here.")
@click.option("--json", "as_json", is_flag=True, help="Print the merged report as JSON.")
@click.option("--junit", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--markdown", type=click.Path(dir_okay=False), help="Write a Markdown report here.")
@click.option("-v", "--verbose", is_flag=True, help="Show every case, passed ones too.")
def merge(
    files: tuple[str, ...],
    output: str | None,
    as_json: bool,
    junit: str | None,
    markdown: str | None,
    verbose: bool,
) -> int:
    """Join the JSON reports of `loomgit eval --shard I/N` runs and recompute every gate.

    Exits like `loomgit eval`: 0 passed, 1 a gate or distribution check failed, 3 errors.
    """
    merged = merge_reports((f, read_report(f)) for f in files)
    data = write_report(merged, redactor(), output, junit, markdown, merged.to_dict())
    if as_json:
        print_json(data)
    else:
        print_report(merged, verbose)
    return merged.exit_code
