"""``loomgit run``, ``loomgit cost`` and ``loomgit lineage``."""

from __future__ import annotations

import click

from loomgit.batch.estimate import estimate_cases, estimate_input
from loomgit.batch.lineage import lineage as build
from loomgit.batch.lineage import promotions
from loomgit.batch.runner import BatchOptions, default_caller, run_batch
from loomgit.batch.usage import batch_runs
from loomgit.cli.batch_args import (
    budget_value,
    config_budget,
    from_root,
    gate_value,
    inline_asserts,
    param_values,
    pipeline_spec,
)
from loomgit.cli.batch_format import print_estimate, print_lineage, print_summary, progress_bar
from loomgit.cli.output import print_json, warn
from loomgit.errors import EXIT_FAILED, UsageError
from loomgit.inputs.mapping import parse_map
from loomgit.workspace import Workspace


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
@click.option(
    "--allow-python",
    is_flag=True,
    help="Run python: assertions (local code; also LOOMGIT_ALLOW_PYTHON=1 or eval.allow_python).",
)
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
    allow_python: bool,
    as_json: bool,
) -> int:
    """Run a prompt over a dataset: every record rendered, answered and checked.

    Passing records go to --output with their lineage; failing ones to --quarantine with
    the reason. Exit codes: 0 done, 1 stopped by the budget, 3 provider errors (or a run
    stopped by them), 130 interrupted (continue with --resume), 2 bad usage.
    """
    ws = Workspace()
    spec = pipeline_spec(ws, pipeline)
    mapping = dict(spec.map) if spec else {}
    mapping.update(parse_map(maps))
    ref = ref or (spec.prompt if spec else None)
    input_path = input_path or (from_root(ws, spec.input) if spec else None)
    output = output or (from_root(ws, spec.output) if spec else None)
    quarantine = quarantine or (
        from_root(ws, spec.quarantine) if spec and spec.quarantine else None
    )
    missing = [n for n, v in (("REF", ref), ("--input", input_path), ("--output", output)) if not v]
    if missing:
        raise UsageError(f"loomgit run: missing {', '.join(missing)} (or use --pipeline NAME)")
    assert ref and input_path and output
    params = {**(spec.params if spec else {}), **param_values(param_pairs)}
    inline = (spec.asserts if spec else ()) + inline_asserts(asserts)
    use_suite = not no_suite and (spec.suite if spec and spec.suite is not None else True)
    the_budget = budget_value(budget)
    if the_budget is None and spec is not None:
        the_budget = spec.budget
    if the_budget is None:
        the_budget = config_budget(ws)
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
        gate=gate_value(gate) if gate else (spec.gate if spec else None),
        budget=the_budget,
        limit=limit or (spec.limit if spec else None),
        resume=resume,
        overwrite=overwrite,
        pipeline=spec.name if spec else None,
        record=not no_record,
        allow_python=allow_python or None,
    )

    with progress_bar(not as_json) as progress:
        summary = run_batch(
            ws, opts, caller_factory=lambda: default_caller(ws, cache=cache), progress=progress
        )
    for w in summary.warnings:
        warn(w)
    if as_json:
        print_json(summary.to_dict())
    else:
        print_summary(summary)
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
    ws = Workspace()
    spec = pipeline_spec(ws, pipeline)
    ref = ref or (spec.prompt if spec else None)
    if not ref:
        raise UsageError("loomgit cost: missing REF (or use --pipeline NAME)")
    input_path = input_path or (from_root(ws, spec.input) if spec and not cases else None)
    if input_path and cases:
        raise UsageError("--input and --cases cannot be used together")
    mapping = dict(spec.map) if spec else {}
    mapping.update(parse_map(maps))
    chosen = models or ((spec.model,) if spec and spec.model else ())
    the_budget = budget_value(budget)
    if the_budget is None and spec is not None:
        the_budget = spec.budget
    if the_budget is None:
        the_budget = config_budget(ws)
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
        print_estimate(est)
    return EXIT_FAILED if est.over_budget else 0


@click.command()
@click.argument("ident")
@click.option("--json", "as_json", is_flag=True, help="Print the lineage as JSON.")
def lineage(ident: str, as_json: bool) -> int:
    """Where IDENT's versions went (stages) and how each did in evals and batch runs."""
    ws = Workspace()
    pid = ws.find(ident).id
    data = build(ws, pid)
    data["promotions"] = promotions(ws, pid)
    data["batch"] = batch_runs(ws, pid)
    if as_json:
        print_json(data)
        return 0
    print_lineage(pid, data)
    return 0
