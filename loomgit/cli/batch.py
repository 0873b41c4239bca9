"""``loomgit run``, ``loomgit cost`` and ``loomgit lineage``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from loomgit.cli.output import print_json, style, table, warn
from loomgit.errors import EXIT_FAILED, UsageError

MAX_PROMOTIONS = 5

if TYPE_CHECKING:
    from loomgit.batch.pipeline import Pipeline
    from loomgit.batch.runner import BatchSummary
    from loomgit.workspace import Workspace


def _inline_asserts(values: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    """``--assert '{contains: positive}'`` (YAML flow or ``kind: value``) as mappings."""
    import loomgit._yaml as _yaml

    out = []
    for raw in values:
        text = raw if raw.strip().startswith("{") else "{" + raw + "}"
        try:
            data = _yaml.plain(_yaml.load(text))
        except _yaml.YamlError as e:
            raise UsageError(f"--assert {raw!r}: {e.message}") from None
        if not isinstance(data, dict):
            raise UsageError(
                f"--assert {raw!r}: expected an assertion such as '{{contains: positive}}'"
            )
        out.append(data)
    return tuple(out)


def _params(pairs: tuple[str, ...]) -> dict[str, Any]:
    import loomgit._yaml as _yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        k, sep, v = pair.partition("=")
        if not sep or not k:
            raise UsageError(f"--param {pair!r}: expected NAME=VALUE, as in temperature=0")
        try:
            out[k] = _yaml.plain(_yaml.load(v)) if v.strip() else ""
        except _yaml.YamlError:
            out[k] = v
    return out


def _gate(raw: str) -> Any:
    """``--gate all_pass`` or a YAML mapping such as ``{weighted: true, threshold: 0.6}``."""
    if not raw.strip().startswith("{"):
        return raw
    import loomgit._yaml as _yaml

    try:
        return _yaml.plain(_yaml.load(raw))
    except _yaml.YamlError as e:
        raise UsageError(f"--gate {raw!r}: {e.message}") from None


def _budget(raw: str | None) -> float | None:
    from loomgit.batch.cost import parse_budget

    if raw is None:
        return None
    try:
        return parse_budget(raw)
    except ValueError as e:
        raise UsageError(f"--budget: {e}") from None


def _config_budget(ws: Workspace) -> float | None:
    from loomgit.batch.cost import parse_budget
    from loomgit.errors import ConfigError

    raw = ws.config.raw.get("budget")
    if isinstance(raw, dict):
        raw = raw.get("run", raw.get("default"))
    try:
        return parse_budget(raw)
    except ValueError as e:
        raise ConfigError(f"budget: {e}", path="loomgit.yaml") from None


def _pipeline(ws: Workspace, name: str | None) -> Pipeline | None:
    if not name:
        return None
    from loomgit.batch.pipeline import load_pipeline

    return load_pipeline(ws, name)


def _abs(ws: Workspace, path: str | None) -> str | None:
    """A pipeline path (relative to the repository root) as seen from the cwd."""
    if path is None or path == "-":
        return path
    import os
    from pathlib import Path

    p = Path(path)
    full = p if p.is_absolute() else ws.root / p
    try:
        return os.path.relpath(full)
    except ValueError:  # another drive (Windows)
        return str(full)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[..., None] | None]:
    """A progress bar on stderr (terminal only): bytes of input read, counts, rate, ETA."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from loomgit.cli.output import color

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


def _print_summary(s: BatchSummary) -> None:
    ver = f" {s.version}" if s.version else ""
    click.echo(f"{style(s.prompt, bold=True)}{ver} on {s.model}: {s.records:,} record(s)")
    click.echo(f"  {style('ok', fg='green')}           {s.ok:>9,}  -> {s.output}")
    click.echo(f"  {style('quarantined', fg='yellow')}  {s.quarantined:>9,}  -> {s.quarantine}")
    click.echo(
        f"  {style('errors', fg='red')}       {s.errors:>9,}"
        + (f"  -> {s.quarantine} (kind: error; --resume retries them)" if s.errors else "")
    )
    if s.not_run:
        click.echo(f"  not run      {s.not_run:>9,}")
    parts = [f"{s.ok:,} ok", f"{s.quarantined:,} quarantined", f"{s.errors:,} errors"]
    if s.not_run:
        parts.append(f"{s.not_run:,} not run")
    click.echo(f"  counts: {s.records:,} = {' + '.join(parts)}")
    if s.reasons:
        click.echo("  quarantined at: " + ", ".join(f"{k} {v:,}" for k, v in s.reasons_sorted()))
    rate = f" · {s.processed / s.duration_s:,.1f} records/s" if s.duration_s and s.processed else ""
    extra = f" · {s.resumed:,} done earlier" if s.resumed else ""
    score = f" · mean score {s.mean_score:.2f}" if s.mean_score is not None else ""
    click.echo(
        f"  cost ${s.cost_usd:.4f} · tokens {s.input_tokens:,} in / {s.output_tokens:,} out"
        f"{score}{rate} · {s.duration_s:.1f} s{extra}"
    )
    if s.stopped == "budget":
        click.echo(style(f"stopped before exceeding the budget: {s.stop_detail}", fg="yellow"))
        click.echo("  continue with --resume and a higher --budget")
    elif s.stopped == "interrupted":
        click.echo(
            style("interrupted: finished records are saved; continue with --resume", fg="yellow")
        )
    elif s.stopped == "provider":
        click.echo(style(f"stopped: {s.stop_detail}", fg="red"))
        click.echo("  fix the provider, then continue with --resume")
    elif s.errors:
        click.echo(f"  {s.errors:,} record(s) failed on errors; --resume tries them again")


@click.command()
@click.argument("ref", required=False)
@click.option(
    "-i",
    "--input",
    "input_path",
    metavar="FILE",
    help="Records: .jsonl, .json (array) or .csv/.tsv ('-' for stdin).",
)
@click.option("-o", "--output", metavar="FILE", help="JSON Lines file for passing records.")
@click.option(
    "--quarantine",
    metavar="FILE",
    help="JSON Lines file for failing records (default OUTPUT.quarantine.jsonl).",
)
@click.option("--pipeline", metavar="NAME", help="Run pipelines/NAME.yaml (options override it).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "json", "csv", "tsv"]),
    help="Input format (default: from the file name).",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="VAR=COLUMN",
    help="Take a variable from a differently named column or field (repeatable).",
)
@click.option("--model", metavar="PROVIDER/MODEL", help="Model to use instead of the prompt's.")
@click.option(
    "--param",
    "param_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A generation parameter over the prompt's (repeatable).",
)
@click.option(
    "-j", "--concurrency", type=click.IntRange(1, 1000), help="Requests at once (default 4)."
)
@click.option(
    "--assert",
    "asserts",
    multiple=True,
    metavar="ASSERTION",
    help="An assertion for every record, e.g. '{contains: positive}' (repeatable).",
)
@click.option(
    "--gate", metavar="RULE", help="all_pass (default), majority_pass, any_pass, weighted."
)
@click.option("--no-suite", is_flag=True, help="Do not apply the suite's defaults.assert.")
@click.option("--budget", metavar="USD", help="Stop before the run costs more than this.")
@click.option("--limit", type=click.IntRange(1), help="Only the first N records.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run into the same files.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("--cache", is_flag=True, help="Use the response cache (off for batch runs).")
@click.option("--no-record", is_flag=True, help="Do not add the run to .git/loomgit/runs.sqlite.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run(
    ref: str | None,
    input_path: str | None,
    output: str | None,
    quarantine: str | None,
    pipeline: str | None,
    fmt: str | None,
    maps: tuple[str, ...],
    model: str | None,
    param_pairs: tuple[str, ...],
    concurrency: int | None,
    asserts: tuple[str, ...],
    gate: str | None,
    no_suite: bool,
    budget: str | None,
    limit: int | None,
    resume: bool,
    overwrite: bool,
    cache: bool,
    no_record: bool,
    as_json: bool,
) -> int:
    """Run a prompt over a dataset: every record rendered, answered and checked.

    Passing records go to --output with their lineage; failing ones to --quarantine with
    the reason. Exit codes: 0 done, 1 stopped by the budget, 3 provider errors (or a run
    stopped by them), 130 interrupted (continue with --resume), 2 bad usage.
    """
    from loomgit.batch.inputs import parse_map
    from loomgit.batch.runner import BatchOptions, run_batch
    from loomgit.workspace import Workspace

    ws = Workspace()
    spec = _pipeline(ws, pipeline)
    mapping = dict(spec.map) if spec else {}
    mapping.update(parse_map(maps))
    ref = ref or (spec.prompt if spec else None)
    input_path = input_path or (_abs(ws, spec.input) if spec else None)
    output = output or (_abs(ws, spec.output) if spec else None)
    quarantine = quarantine or (_abs(ws, spec.quarantine) if spec and spec.quarantine else None)
    missing = [n for n, v in (("REF", ref), ("--input", input_path), ("--output", output)) if not v]
    if missing:
        raise UsageError(f"loomgit run: missing {', '.join(missing)} (or use --pipeline NAME)")
    assert ref and input_path and output
    params = {**(spec.params if spec else {}), **_params(param_pairs)}
    inline = (spec.asserts if spec else ()) + _inline_asserts(asserts)
    use_suite = not no_suite and (spec.suite if spec and spec.suite is not None else True)
    the_budget = _budget(budget)
    if the_budget is None and spec is not None:
        the_budget = spec.budget
    if the_budget is None:
        the_budget = _config_budget(ws)
    opts = BatchOptions(
        ref=ref,
        input=input_path,
        output=output,
        quarantine=quarantine,
        format=fmt or (spec.format if spec else None),
        mapping=mapping,
        model=model or (spec.model if spec else None),
        params=params,
        concurrency=concurrency or (spec.concurrency if spec and spec.concurrency else 4),
        asserts=inline,
        use_suite=use_suite,
        gate=_gate(gate) if gate else (spec.gate if spec else None),
        budget=the_budget,
        limit=limit or (spec.limit if spec else None),
        resume=resume,
        overwrite=overwrite,
        pipeline=spec.name if spec else None,
        record=not no_record,
    )

    from loomgit.batch.runner import default_caller

    with _progress(not as_json) as progress:
        summary = run_batch(
            ws, opts, caller_factory=lambda: default_caller(ws, cache=cache), progress=progress
        )
    for w in summary.warnings:
        warn(w)
    if as_json:
        print_json(summary.to_dict())
    else:
        _print_summary(summary)
    return summary.exit_code


@click.command()
@click.argument("ref", required=False)
@click.option(
    "-i", "--input", "input_path", metavar="FILE", help="Estimate a run over these records."
)
@click.option("--cases", is_flag=True, help="Estimate an eval of the prompt's test suite.")
@click.option("--pipeline", metavar="NAME", help="Estimate pipelines/NAME.yaml.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "json", "csv", "tsv"]))
@click.option("--map", "maps", multiple=True, metavar="VAR=COLUMN")
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="PROVIDER/MODEL",
    help="Model(s) to price (repeatable; default the prompt's).",
)
@click.option("--budget", metavar="USD", help="Exit 1 when the estimate is over this.")
@click.option("--limit", type=click.IntRange(1), help="Only the first N records.")
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
def cost(
    ref: str | None,
    input_path: str | None,
    cases: bool,
    pipeline: str | None,
    fmt: str | None,
    maps: tuple[str, ...],
    models: tuple[str, ...],
    budget: str | None,
    limit: int | None,
    as_json: bool,
) -> int:
    """Estimate tokens and dollars before running (nothing is sent to a model).

    Input tokens are counted from the rendered prompts with an approximate tokenizer
    (about 4 characters per token); output tokens are the recorded average for the
    prompt and model, else max_tokens. Exits 1 when over --budget.
    """
    from loomgit.batch.cost import estimate_cases, estimate_input
    from loomgit.batch.inputs import parse_map
    from loomgit.workspace import Workspace

    ws = Workspace()
    spec = _pipeline(ws, pipeline)
    ref = ref or (spec.prompt if spec else None)
    if not ref:
        raise UsageError("loomgit cost: missing REF (or use --pipeline NAME)")
    input_path = input_path or (_abs(ws, spec.input) if spec and not cases else None)
    if input_path and cases:
        raise UsageError("--input and --cases cannot be used together")
    mapping = dict(spec.map) if spec else {}
    mapping.update(parse_map(maps))
    chosen = models or ((spec.model,) if spec and spec.model else ())
    the_budget = _budget(budget)
    if the_budget is None and spec is not None:
        the_budget = spec.budget
    if the_budget is None:
        the_budget = _config_budget(ws)
    params = dict(spec.params) if spec else {}
    if input_path:
        est = estimate_input(
            ws,
            ref,
            input_path,
            fmt=fmt or (spec.format if spec else None),
            mapping=mapping,
            models=chosen,
            budget=the_budget,
            limit=limit or (spec.limit if spec else None),
            params=params,
        )
    else:
        est = estimate_cases(ws, ref, models=chosen, budget=the_budget)
    if as_json:
        print_json(est.to_dict())
    else:
        ver = f" {est.version}" if est.version else ""
        click.echo(
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
        click.echo(
            "tokens are estimated (about 4 characters per token); "
            + "; ".join(f"{m.model}: output from {m.output.describe()}" for m in est.models)
        )
        for p in est.problems:
            click.echo(f"  skipped: {p}")
        if est.budget is not None:
            verdict = (
                style("over budget", fg="red")
                if est.over_budget
                else style("within budget", fg="green")
            )
            click.echo(f"budget ${est.budget:.2f}: {verdict}")
    return EXIT_FAILED if est.over_budget else 0


@click.command()
@click.argument("ident")
@click.option("--json", "as_json", is_flag=True, help="Print the lineage as JSON.")
def lineage(ident: str, as_json: bool) -> int:
    """Where IDENT's versions went (stages) and how each did in evals and batch runs."""
    from loomgit.batch.lineage import batch_runs, promotions
    from loomgit.batch.lineage import lineage as build
    from loomgit.workspace import Workspace

    ws = Workspace()
    pid = ws.find(ident).id
    data = build(ws, pid)
    data["promotions"] = promotions(ws, pid)
    data["batch"] = batch_runs(ws, pid)
    if as_json:
        print_json(data)
        return 0
    click.echo(style(pid, bold=True))
    for stage, p in data["stage_details"].items():
        if p is None:
            click.echo(f"  {stage}: –")
            continue
        src = f" from {str(p['source_commit'])[:7]}" if p.get("source_commit") else ""
        who = f" by {p['promoted_by']}" if p.get("promoted_by") else ""
        when = f" on {str(p['promoted_at'])[:10]}" if p.get("promoted_at") else ""
        click.echo(f"  {stage}: {p['version']}{src}{who}{when}")
    if data["promotions"]:
        click.echo("  promotions, newest first:")
    for p in data["promotions"][:MAX_PROMOTIONS]:
        what = f"rollback of {p['rollback_of']}" if p.get("rollback_of") else "promoted"
        forced = " (forced)" if p.get("forced") else ""
        click.echo(
            f"    {str(p.get('date') or '')[:19]}  {p['stage']} <- {p['version']}  "
            f"{what}{forced} by {p.get('promoted_by') or '?'}"
        )
    if len(data["promotions"]) > MAX_PROMOTIONS:
        click.echo(f"    ... {len(data['promotions']) - MAX_PROMOTIONS} earlier (see --json)")
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
        click.echo("  no versions or recorded runs yet")
    return 0


def write_html(path: str, ids: tuple[str, ...] = ()) -> int:
    """``loomgit report --html FILE``: the self-contained overview page."""
    from pathlib import Path

    from loomgit.batch.lineage import overview
    from loomgit.batch.outputs import write_atomic
    from loomgit.report.html import render_html
    from loomgit.workspace import Workspace

    ws = Workspace()
    wanted = [ws.find(i).id for i in ids] if ids else None
    page = render_html(overview(ws, wanted))
    try:
        write_atomic(Path(path), page)
    except OSError as e:
        raise UsageError(f"{path}: cannot write ({e.strerror})") from None
    click.echo(f"wrote {path}")
    return 0
