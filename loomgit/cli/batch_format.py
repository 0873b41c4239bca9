"""What ``loomgit run``, ``cost`` and ``lineage`` print: the progress bar, the run's
summary, the estimate table and a prompt's lineage."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from loomgit.batch.cost import Estimate
from loomgit.batch.model import BatchSummary
from loomgit.cli.output import color, echo, style, table


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[..., None] | None]:
    """A progress bar on stderr (terminal only): bytes of input read, counts, rate, ETA."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    started = time.monotonic()
    console = Console(stderr=True, no_color=not color())
    with Progress(
        TextColumn("run"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[counts]}"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("run", total=None, counts="", rate="")

        def update(s: BatchSummary, pos: int, size: int | None) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(
                task,
                total=size or None,
                completed=pos,
                counts=f"{s.ok:,} ok · {s.quarantined:,} quarantined · {s.errors:,} errors",
                rate=f"{s.processed / elapsed:,.1f} rec/s",
            )

        yield update


def print_summary(s: BatchSummary) -> None:
    ver = f" {s.version}" if s.version else ""
    echo(f"{style(s.prompt, bold=True)}{ver} on {s.model}: {s.records:,} record(s)")
    echo(f"  {style('ok', fg='green')}           {s.ok:>9,}  -> {s.output}")
    echo(f"  {style('quarantined', fg='yellow')}  {s.quarantined:>9,}  -> {s.quarantine}")
    echo(
        f"  {style('errors', fg='red')}       {s.errors:>9,}"
        + (f"  -> {s.quarantine} (kind: error; --resume retries them)" if s.errors else "")
    )
    if s.not_run:
        echo(f"  not run      {s.not_run:>9,}")
    parts = [f"{s.ok:,} ok", f"{s.quarantined:,} quarantined", f"{s.errors:,} errors"]
    if s.not_run:
        parts.append(f"{s.not_run:,} not run")
    echo(f"  counts: {s.records:,} = {' + '.join(parts)}")
    if s.reasons:
        echo("  quarantined at: " + ", ".join(f"{k} {v:,}" for k, v in s.reasons_sorted()))
    rate = f" · {s.processed / s.duration_s:,.1f} records/s" if s.duration_s and s.processed else ""
    extra = f" · {s.resumed:,} done earlier" if s.resumed else ""
    score = f" · mean score {s.mean_score:.2f}" if s.mean_score is not None else ""
    echo(
        f"  cost ${s.cost_usd:.4f} · tokens {s.input_tokens:,} in / {s.output_tokens:,} out"
        f"{score}{rate} · {s.duration_s:.1f} s{extra}"
    )
    if s.stopped == "budget":
        echo(style(f"stopped before exceeding the budget: {s.stop_detail}", fg="yellow"))
        echo("  continue with --resume and a higher --budget")
    elif s.stopped == "interrupted":
        echo(style("interrupted: finished records are saved; continue with --resume", fg="yellow"))
    elif s.stopped == "provider":
        echo(style(f"stopped: {s.stop_detail}", fg="red"))
        echo("  fix the provider, then continue with --resume")
    elif s.errors:
        echo(f"  {s.errors:,} record(s) failed on errors; --resume tries them again")


def print_estimate(est: Estimate) -> None:
    ver = f" {est.version}" if est.version else ""
    echo(
        f"{style(est.prompt, bold=True)}{ver}: {est.records:,} request(s) from "
        f"{est.source}" + (f" ({est.skipped:,} record(s) skipped)" if est.skipped else "")
    )
    rows = []
    for m in est.models:
        price = f"${m.price.input:g} / ${m.price.output:g}" if m.price else "unknown"
        rows.append(
            [
                m.model,
                f"{m.input_tokens:,}",
                f"{m.output_tokens:,} ({m.output.basis})",
                price,
                "–" if m.cost_usd is None else f"${m.cost_usd:.4f}",
                "–" if m.max_cost_usd is None else f"${m.max_cost_usd:.4f}",
            ]
        )
    table(
        [
            "model",
            "input tokens",
            "output tokens",
            "price /1M in/out",
            "expected",
            "at max_tokens",
        ],
        rows,
    )
    echo(
        "tokens are estimated (about 4 characters per token); "
        + "; ".join(f"{m.model}: output from {m.output.describe()}" for m in est.models)
    )
    for p in est.problems:
        echo(f"  skipped: {p}")
    if est.budget is not None:
        verdict = (
            style("over budget", fg="red")
            if est.over_budget
            else style("within budget", fg="green")
        )
        echo(f"budget ${est.budget:.2f}: {verdict}")


MAX_PROMOTIONS = 5


def print_lineage(pid: str, data: dict[str, Any]) -> None:
    echo(style(pid, bold=True))
    for stage, p in data["stage_details"].items():
        if p is None:
            echo(f"  {stage}: –")
            continue
        src = f" from {str(p['source_commit'])[:7]}" if p.get("source_commit") else ""
        who = f" by {p['promoted_by']}" if p.get("promoted_by") else ""
        when = f" on {str(p['promoted_at'])[:10]}" if p.get("promoted_at") else ""
        echo(f"  {stage}: {p['version']}{src}{who}{when}")
    if data["promotions"]:
        echo("  promotions, newest first:")
    for p in data["promotions"][:MAX_PROMOTIONS]:
        what = f"rollback of {p['rollback_of']}" if p.get("rollback_of") else "promoted"
        forced = " (forced)" if p.get("forced") else ""
        echo(
            f"    {str(p.get('date') or '')[:19]}  {p['stage']} <- {p['version']}  "
            f"{what}{forced} by {p.get('promoted_by') or '?'}"
        )
    if len(data["promotions"]) > MAX_PROMOTIONS:
        echo(f"    ... {len(data['promotions']) - MAX_PROMOTIONS} earlier (see --json)")
    rows = []
    for v in reversed(data["versions"]):
        r = v.get("runs") or {}
        rows.append(
            [
                v["version"],
                v.get("bump") or "",
                (v.get("commit") or "")[:7],
                (v.get("date") or "")[:10],
                ", ".join(v.get("stages") or []),
                str(r.get("evals", 0)),
                str(r.get("batch_runs", 0)),
                f"{r['records']:,}" if r else "0",
                "–" if r.get("pass_rate") is None else f"{r['pass_rate']:.0%}",
                "–" if r.get("mean_score") is None else f"{r['mean_score']:.2f}",
                f"${r['cost_usd']:.4f}" if r else "–",
                ", ".join(r.get("models") or []),
            ]
        )
    if rows:
        table(
            [
                "version",
                "bump",
                "commit",
                "date",
                "stages",
                "evals",
                "batch",
                "records",
                "pass",
                "score",
                "cost",
                "models",
            ],
            rows,
        )
    else:
        echo("  no versions or recorded runs yet")
