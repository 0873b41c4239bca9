"""``loomgit eval`` and ``loomgit stats``."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from loomgit.cli.output import is_tty, print_json, style
from loomgit.errors import EXIT_INFRA, UsageError

if TYPE_CHECKING:
    from loomgit.evals.compare import Comparison
    from loomgit.evals.results import EvalReport

MAX_ROWS = 40
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x9b]")
RESULT_COLOUR = {"passed": "green", "failed": "red", "error": "yellow", "skipped": "blue"}
RESULT_WORD = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "skipped": "SKIP"}


def clean(text: object, limit: int = 120) -> str:
    """One printable line (model output can hold terminal escapes)."""
    s = " ".join(_CONTROL.sub(" ", str(text)).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], colours: Sequence[str | None]
) -> None:
    """Rich on a terminal (cells as Text, never markup), aligned columns otherwise."""
    if is_tty():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        from loomgit.cli.output import color

        t = Table(show_edge=False, header_style="bold", pad_edge=False)
        for h in headers:
            t.add_column(h, overflow="fold")
        for r, c in zip(rows, colours):
            cells = [Text(x) for x in r]
            if c:
                cells[0].stylize(c)
            t.add_row(*cells)
        Console(no_color=not color(), highlight=False, soft_wrap=False).print(t)
        return
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for r in rows:
        click.echo("  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip())


@contextmanager
def progress_bar(enabled: bool, label: str = "eval") -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr when it is a terminal; None otherwise."""
    if not (enabled and sys.stderr.isatty() and is_tty()):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _fmt_ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.0f} ms"


def _fmt_score(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def print_report(report: EvalReport, verbose: bool = False) -> None:
    res = [r for r in report.results if r.status != "skipped" or verbose]
    repeat = any(len(r.samples) > 1 for r in res)
    shown = res if verbose or len(res) <= MAX_ROWS else [r for r in res if r.status != "passed"]
    headers = (
        ["result", "prompt", "case", "provider", "score"]
        + (["pass rate"] if repeat else [])
        + ["latency", "why"]
    )
    rows, colours = [], []
    for r in shown:
        row = [
            RESULT_WORD[r.status],
            clean(r.prompt, 40),
            clean(r.case, 40),
            clean(r.provider, 30),
            _fmt_score(r.score),
        ]
        if repeat:
            row.append("–" if r.pass_rate is None else f"{r.pass_rate:.0%} of {len(r.samples)}")
        row += [_fmt_ms(r.latency_ms), clean(r.why(), 100)]
        rows.append(row)
        colours.append(RESULT_COLOUR[r.status])
    if rows:
        _table(headers, rows, colours)
    hidden = len(res) - len(shown)
    if hidden:
        click.echo(f"({hidden} passed cases not shown; -v shows every case)")
    click.echo()
    for su in report.suites:
        c = su.counts()
        val = su.gate_value
        shown_val = (
            ""
            if val is None
            else (f", score {val:.2f}" if su.gate.rule == "weighted" else f", {val:.0%} passed")
        )
        word = style(su.gate_status, fg=RESULT_COLOUR[su.gate_status], bold=True)
        version = f" {su.version}" if su.version else ""
        click.echo(
            f"{su.prompt}{version}: gate {su.gate.describe()} {word} "
            f"({c['passed']} passed, {c['failed']} failed, {c['error']} errors{shown_val})"
        )
        for ch, st in zip(su.checks, su.check_status):
            mark = {
                True: style("ok", fg="green"),
                False: style("FAILED", fg="red", bold=True),
                None: style("no data", fg="yellow"),
            }[st]
            value = "–" if ch.value is None else f"{ch.value:.4g}"
            click.echo(f"  {ch.check}: {value} {mark}")
    errs = Counter(clean(s.error, 160) for r in report.results for s in r.samples if s.error)
    errs.update(clean(r.error_msg, 160) for r in report.results if r.error_msg)
    if errs:
        click.echo(
            style(f"errors ({sum(errs.values())} samples, not counted as failures):", fg="yellow")
        )
        for msg, n in errs.most_common(5):
            click.echo(f"  {n} × {msg}")
        if len(errs) > 5:
            click.echo(f"  … and {len(errs) - 5} other errors (see --json)")
    s = report.summary()
    rate = "–" if s["pass_rate"] is None else f"{s['pass_rate']:.1%}"
    verdict = style(report.status, fg=RESULT_COLOUR[report.status], bold=True)
    click.echo(
        f"{verdict}: {s['cases']} cases, {s['passed']} passed, {s['failed']} failed, "
        f"{s['errors']} errors · pass rate {rate} · ${s['cost_usd']:.4f} · {s['duration_s']:.1f} s"
    )


def print_comparison(cmp: Comparison, verbose: bool = False) -> None:
    if cmp.unchanged:
        click.echo(f"unchanged since {cmp.base_ref} (not evaluated): {', '.join(cmp.unchanged)}")
    if not cmp.prompts:
        click.echo(f"no prompt with a suite changed since {cmp.base_ref}")
        return
    rows = []
    for p in cmp.prompts:

        def rate(v: float | None) -> str:
            return "–" if v is None else f"{v:.0%}"

        rows.append(
            [
                clean(p.prompt, 40),
                f"{p.base_version or '–'} → {p.head_version or '–'}",
                f"{rate(p.base_pass_rate)} → {rate(p.head_pass_rate)}",
                f"{_fmt_score(p.base_score)} → {_fmt_score(p.head_score)}",
                f"{p.base_status or 'new'} → {p.head_status}",
                str(p.regressions),
                str(p.fixes),
            ]
        )
    _table(
        ["prompt", "version", "pass rate", "score", "gate", "regressions", "fixes"],
        rows,
        [None] * len(rows),
    )
    changed = [c for c in cmp.cases if verbose or c.change in ("regression", "fix", "error")]
    if changed:
        click.echo()
        colour = {"regression": "red", "fix": "green", "error": "yellow"}
        _table(
            ["change", "prompt", "case", "provider", "score", "why"],
            [
                [
                    c.change,
                    clean(c.prompt, 40),
                    clean(c.case, 40),
                    clean(c.provider, 30),
                    f"{_fmt_score(c.base_score)} → {_fmt_score(c.head_score)}",
                    clean(c.why, 100),
                ]
                for c in changed
            ],
            [colour.get(c.change) for c in changed],
        )
    click.echo()
    verdict = style(
        cmp.verdict, fg={"regressed": "red", "error": "yellow"}.get(cmp.verdict, "green"), bold=True
    )
    click.echo(
        f"{verdict}: {len(cmp.regressions)} regressions, {len(cmp.fixes)} fixes against "
        f"{cmp.base_ref}"
    )


def write_file(path: str, text: str) -> None:
    """Write atomically: a report is whole or absent."""
    from loomgit.fsutil import atomic_write

    p = Path(path)
    try:
        atomic_write(p, text)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from None


def write_outputs(
    report: EvalReport,
    output: str | None,
    junit: str | None,
    markdown: str | None,
    data: dict[str, Any] | None = None,
) -> None:
    if output:
        write_file(
            output, json.dumps(data or report.to_dict(), indent=2, ensure_ascii=False) + "\n"
        )
    if junit:
        from loomgit.report.junit import to_junit

        write_file(junit, to_junit(report))
    if markdown:
        from loomgit.report.markdown import report_markdown

        write_file(markdown, report_markdown(report))


def all_errored_line(report: EvalReport) -> str | None:
    """One line when errors kept every case from running (server down, no key...)."""
    s = report.summary()
    if not s["errors"] or s["passed"] or s["failed"]:
        return None
    msgs: Counter[str] = Counter()
    for r in report.results:
        if r.status == "error":
            msgs.update([s.error for s in r.samples if s.error] or [r.error or "error"])
    root = [m for m in msgs if not m.startswith("not run: ") and " not called — " not in m]
    first = max(root, key=lambda m: msgs[m]) if root else msgs.most_common(1)[0][0]
    return f"{s['errors']} of {s['cases']} cases could not run: {clean(first, 300)}"


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
@click.option("-v", "--verbose", is_flag=True, help="Show every case, passed ones too.")
def eval_(
    ids: tuple[str, ...],
    all_: bool,
    changed: bool,
    base: str | None,
    compare_ref: str | None,
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
    verbose: bool,
) -> int:
    """Run test suites (NAME.tests.yaml beside each prompt) and apply their gates.

    IDS are prompt ids, prompt paths or suite paths; every suite runs when none are given.
    Exits 0 when every gate passed, 1 when a gate or distribution check failed, 3 when
    errors (provider down, timeouts) kept cases from running and nothing failed.
    """
    from loomgit.evals import engine
    from loomgit.evals.runner import parse_shard
    from loomgit.workspace import Workspace

    if all_ and ids:
        raise UsageError("--all and IDS exclude each other")
    if base and not changed:
        raise UsageError("--base goes with --changed (to compare with BASE, use --compare BASE)")
    if changed and compare_ref:
        raise UsageError("--compare already evaluates only the changed prompts; drop --changed")
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
        )
    if changed:
        refs = engine.changed_suite_refs(ws, base or _default_base(ws), list(ids) or None)
        commit = engine.head_commit(ws)
        target_list = [engine.target(ws, r, commit=commit) for r in refs]
    else:
        target_list = engine.targets(ws, list(ids) or None)
    if not target_list:
        what = "changed since " + (base or _default_base(ws)) if changed else "found"
        click.echo(f"no test suites {what}", err=True)
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
        )
    data = report.to_dict() if (as_json or output) else None
    write_outputs(report, output, junit, markdown, data)
    if as_json:
        print_json(data)
        return report.exit_code
    line = all_errored_line(report)
    if line:
        click.echo(f"loomgit: error: {line}", err=True)
        return EXIT_INFRA
    print_report(report, verbose)
    return report.exit_code


def _default_base(ws: Any) -> str:
    from loomgit.evals.compare import verify_ref

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
) -> int:
    from loomgit.evals.compare import compare

    with progress_bar(not as_json, "compare") as progress:
        cmp = compare(
            ws,
            ref,
            ids or None,
            options=opts,
            use_cache=use_cache,
            record=record,
            progress=progress,
            mode=mode,
        )
    if output:
        write_file(output, json.dumps(cmp.to_dict(), indent=2, ensure_ascii=False) + "\n")
    if markdown:
        from loomgit.report.markdown import compare_markdown

        write_file(markdown, compare_markdown(cmp))
    if junit:
        from loomgit.report.junit import to_junit

        write_file(junit, to_junit(cmp.head))
    if as_json:
        print_json(cmp.to_dict())
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
    from loomgit.evals.records import stats as run_stats
    from loomgit.workspace import Workspace

    if since and not re.match(r"^\d{4}-\d{2}-\d{2}", since):
        raise UsageError(f"--since {since!r}: expected a date as YYYY-MM-DD")
    rows = run_stats(Workspace(), by, prompt=prompt_id, since=since)
    if as_json:
        print_json({"by": by, "rows": rows})
        return 0
    if not rows:
        click.echo("no recorded runs yet (run 'loomgit eval' first)")
        return 0
    keys = {
        "prompt": ["prompt"],
        "version": ["prompt", "version"],
        "day": ["day"],
        "model": ["model"],
        "case": ["prompt", "case_name"],
    }[by]

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{v:.1%}"

    table_rows = [
        [clean(r.get(k) or "–", 40) for k in keys]
        + [
            str(r["runs"]),
            str(r["samples"]),
            pct(r["pass_rate"]),
            _fmt_score(r["mean_score"]),
            _fmt_ms(r["p50_latency_ms"]),
            _fmt_ms(r["p95_latency_ms"]),
            str(r["tokens"]),
            f"${r['cost_usd']:.4f}",
            str(r["errors"]),
        ]
        for r in rows
    ]
    _table(
        [k.replace("case_name", "case") for k in keys]
        + ["runs", "samples", "pass rate", "score", "p50", "p95", "tokens", "cost", "errors"],
        table_rows,
        [None] * len(table_rows),
    )
    return 0
