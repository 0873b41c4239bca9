"""``loomgit eval`` and ``loomgit stats``."""

from __future__ import annotations

import re
from typing import Any

import click

import loomgit.evals.engine as engine
from loomgit.app.reports import eval_json, redactor, write_compare, write_eval
from loomgit.cli.evals_format import (
    all_errored_line,
    print_comparison,
    print_report,
    print_stats,
    progress_bar,
)
from loomgit.cli.output import echo, print_json
from loomgit.errors import EXIT_INFRA, UsageError
from loomgit.evals.records import stats as run_stats
from loomgit.evals.runner import parse_shard
from loomgit.evals.targets import verify_ref
from loomgit.workspace import Workspace


@click.command("eval")
@click.argument("ids", nargs=-1)
@click.option(
    "--all", "all_", is_flag=True, help="Every suite (the default when no IDS are given)."
)
@click.option("--changed", is_flag=True, help="Only prompts changed since --base.")
@click.option(
    "--base", metavar="REF", help="The reference --changed compares with (default: main)."
)
@click.option(
    "--compare",
    "compare_ref",
    metavar="BASE",
    help="Evaluate the changed prompts at BASE and now; report regressions and fixes.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["regression", "significant_regression", "never"]),
    help="With --compare: exit 1 on any case that passed at BASE and fails now "
    "(regression, the default), only on a significant regression (with --repeat N), "
    "or never.",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="PROVIDER/MODEL",
    help="Run on this model instead of the suite's providers (repeatable).",
)
@click.option("--repeat", type=click.IntRange(1, 1000), help="Samples per case.")
@click.option(
    "-j", "--concurrency", type=click.IntRange(1, 512), help="Model calls at once (default 4)."
)
@click.option("--case", "cases", multiple=True, metavar="NAME", help="Only this case (repeatable).")
@click.option("--no-cache", is_flag=True, help="Call the models even when an answer is cached.")
@click.option("--shard", metavar="I/N", help="Run the I-th of N equal parts of the cases.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Also write the JSON report here."
)
@click.option("--junit", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--markdown", type=click.Path(dir_okay=False), help="Write a Markdown report here.")
@click.option(
    "--record",
    "record_mode",
    is_flag=True,
    help="Answer from the repository's recordings and record the missing answers.",
)
@click.option(
    "--replay",
    "replay_mode",
    is_flag=True,
    help="Answer only from the repository's recordings (no network, no keys).",
)
@click.option("--no-log", is_flag=True, help="Do not append the run to .git/loomgit/runs.sqlite.")
@click.option(
    "--allow-python",
    is_flag=True,
    help="Run python: assertions (they import and run the repository's code; "
    "off unless allowed here, by LOOMGIT_ALLOW_PYTHON=1 or eval.allow_python).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show every case, passed ones too.")
def eval_(
    ids: tuple[str, ...],
    all_: bool,
    changed: bool,
    base: str | None,
    compare_ref: str | None,
    fail_on: str | None,
    models: tuple[str, ...],
    repeat: int | None,
    concurrency: int | None,
    cases: tuple[str, ...],
    no_cache: bool,
    shard: str | None,
    as_json: bool,
    output: str | None,
    junit: str | None,
    markdown: str | None,
    record_mode: bool,
    replay_mode: bool,
    no_log: bool,
    allow_python: bool,
    verbose: bool,
) -> int:
    """Run test suites (NAME.tests.yaml beside each prompt) and apply their gates.

    IDS are prompt ids, prompt paths or suite paths; every suite runs when none are given.
    Exits 0 when every gate passed, 1 when a gate or distribution check failed, 3 when
    errors (provider down, timeouts) kept cases from running and nothing failed.
    """
    if all_ and ids:
        raise UsageError("--all and IDS exclude each other")
    if base and not changed:
        raise UsageError("--base goes with --changed (to compare with BASE, use --compare BASE)")
    if changed and compare_ref:
        raise UsageError("--compare already evaluates only the changed prompts; drop --changed")
    if fail_on and not compare_ref:
        raise UsageError("--fail-on goes with --compare BASE")
    if record_mode and replay_mode:
        raise UsageError("--record and --replay exclude each other")
    mode = "record" if record_mode else "replay" if replay_mode else "live"
    ws = Workspace()
    opts = engine.options_from_config(
        ws,
        models=models,
        repeat=repeat,
        concurrency=concurrency,
        cases=cases,
        shard=parse_shard(shard) if shard else None,
    )
    use_cache = not no_cache
    if compare_ref:
        return _compare(
            ws,
            compare_ref,
            list(ids),
            opts,
            use_cache,
            not no_log,
            as_json,
            output,
            markdown,
            junit,
            verbose,
            mode,
            allow_python or None,
            fail_on or "regression",
        )
    if changed:
        refs = engine.changed_suite_refs(ws, base or _default_base(ws), list(ids) or None)
        commit = engine.head_commit(ws)
        target_list = [engine.target(ws, r, commit=commit) for r in refs]
    else:
        target_list = engine.targets(ws, list(ids) or None)
    if not target_list:
        what = "changed since " + (base or _default_base(ws)) if changed else "found"
        echo(f"no test suites {what}", err=True)
        return 0
    with progress_bar(not as_json) as progress:
        report = engine.evaluate(
            ws,
            options=opts,
            use_cache=use_cache,
            record=not no_log,
            progress=progress,
            target_list=target_list,
            mode=mode,
            allow_python=allow_python or None,
        )
    for note in report.notes:
        echo(f"loomgit: note: {note}", err=True)
    red = redactor(ws)
    write_eval(report, red, output, junit, markdown)
    if as_json:  # streamed: the document is never held whole
        for piece in eval_json(report, red):
            echo(piece, nl=False)
        echo()
        return report.exit_code
    line = all_errored_line(report)
    if line:
        echo(f"loomgit: error: {line}", err=True)
        return EXIT_INFRA
    print_report(report, verbose)
    return report.exit_code


def _default_base(ws: Any) -> str:

    for cand in ("origin/main", "main", "origin/master", "master"):
        try:
            verify_ref(ws, cand)
            return cand
        except UsageError:
            continue
    raise UsageError("--changed: give --base REF (no main or master branch found)")


def _compare(
    ws: Any,
    ref: str,
    ids: list[str],
    opts: Any,
    use_cache: bool,
    record: bool,
    as_json: bool,
    output: str | None,
    markdown: str | None,
    junit: str | None,
    verbose: bool,
    mode: str,
    allow_python: bool | None,
    fail_on: str,
) -> int:
    with progress_bar(not as_json, "compare") as progress:
        from loomgit.evals.compare import compare  # start-up: only --compare needs it

        cmp = compare(
            ws,
            ref,
            ids or None,
            options=opts,
            use_cache=use_cache,
            record=record,
            progress=progress,
            mode=mode,
            allow_python=allow_python,
            fail_on=fail_on,
        )
    data = write_compare(cmp, redactor(ws), output, junit, markdown)
    if as_json:
        for piece in data:
            echo(piece, nl=False)
        echo()
    else:
        print_comparison(cmp, verbose)
    return cmp.exit_code


@click.command("stats")
@click.option(
    "--by",
    type=click.Choice(["prompt", "version", "day", "model", "case"]),
    default="prompt",
    show_default=True,
    help="How to group the recorded samples.",
)
@click.option("--prompt", "prompt_id", metavar="ID", help="Only this prompt.")
@click.option("--since", metavar="DATE", help="Only runs on or after DATE (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def stats(by: str, prompt_id: str | None, since: str | None, as_json: bool) -> int:
    """Aggregate the eval runs recorded in .git/loomgit/runs.sqlite."""
    if since and not re.match(r"^\d{4}-\d{2}-\d{2}", since):
        raise UsageError(f"--since {since!r}: expected a date as YYYY-MM-DD")
    rows = run_stats(Workspace(), by, prompt=prompt_id, since=since)
    if as_json:
        print_json({"by": by, "rows": rows})
        return 0
    print_stats(by, rows)
    return 0
