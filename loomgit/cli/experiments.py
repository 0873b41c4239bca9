"""``loomgit experiment``: list, status, assign, record, conclude."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from loomgit.cli.output import echo, print_json, style, table, warn
from loomgit.errors import EXIT_FAILED, LoomgitError
from loomgit.experiments.analysis import fmt_ci, fmt_diff, fmt_value, p_text
from loomgit.experiments.api import experiment as open_experiment
from loomgit.experiments.conclude import conclude as run
from loomgit.experiments.spec import experiment_files, load_spec, name_of
from loomgit.workspace import Workspace

if TYPE_CHECKING:
    from loomgit.experiments.analysis import Status
    from loomgit.experiments.api import Experiment

_store_option = click.option(
    "--store",
    "store",
    metavar="URL",
    default=None,
    help="Outcome store URL (default: $LOOMGIT_EXPERIMENTS_URL, the experiment's store:, "
    "loomgit.yaml's experiments.store, then .git/loomgit/experiments.sqlite).",
)


def _open(name: str, store: str | None) -> Experiment:
    return open_experiment(name, store=store)


@click.group()
def experiment() -> None:
    """A/B experiments between prompt versions (experiments/NAME.yaml)."""


@experiment.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> int:
    """List the declared experiments (a broken file is a warning line and exit 1)."""
    ws = Workspace()
    rows: list[dict[str, Any]] = []
    broken = 0
    for rel in experiment_files(ws):
        try:
            spec = load_spec(ws, name_of(ws.config, rel))
        except LoomgitError as e:
            warn(str(e))
            broken += 1
            continue
        rows.append(
            {
                "name": spec.name,
                "path": rel,
                "prompt": spec.prompt,
                "metric": spec.metric.to_dict(),
                "min_samples": spec.min_samples,
                "variants": {v.name: v.ref for v in spec.variants},
            }
        )
    if as_json:
        print_json(rows)
    elif not rows:
        echo("no experiments (add experiments/NAME.yaml; see docs/experiments.md)")
    else:
        table(
            ["experiment", "prompt", "metric", "variants"],
            [
                (
                    r["name"],
                    r["prompt"],
                    r["metric"]["type"] + ":" + r["metric"]["name"],
                    ", ".join(f"{k}={v}" for k, v in r["variants"].items()),
                )
                for r in rows
            ],
        )
    return EXIT_FAILED if broken else 0


def _print_status(st: Status) -> None:

    s = st.spec
    better = "higher" if s.metric.direction == "higher" else "lower"
    echo(
        f"{s.name}: {s.metric.label} ({better} is better), {s.confidence:.0%} confidence, "
        f"min {s.min_samples} per variant"
    )
    echo(f"store: {st.store}")
    echo()
    col = "rate" if s.metric.type == "rate" else "mean"
    table(
        ["variant", "ref", "weight", "n", col, f"{s.confidence:.0%} CI", "versions"],
        [
            (
                v.name + (" (control)" if i == 0 and v.name != "control" else ""),
                v.ref,
                f"{v.weight:.0%}",
                v.n,
                fmt_value(s, v.estimate),
                fmt_ci(s, v.ci),
                ", ".join(sorted(v.versions)) or "-",
            )
            for i, v in enumerate(st.variants)
        ],
    )
    echo()
    for c in st.comparisons:
        if c.p_value is None:
            echo(
                f"{c.variant} vs {c.against}: {fmt_diff(s, c.difference)} "
                f"(p-value held back until {s.min_samples} per variant)"
            )
        else:
            echo(
                f"{c.variant} vs {c.against}: {fmt_diff(s, c.difference)} "
                f"{fmt_ci(s, c.ci, diff=True)}, {p_text(c.p_value)} ({c.test})"
            )
    colour = {"winner": "green", "collecting": "yellow"}.get(st.verdict, "cyan")
    echo(f"verdict: {style(st.message, fg=colour, bold=True)}")
    for w in st.warnings:
        warn(w)


@experiment.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@_store_option
def status(name: str, as_json: bool, store: str | None) -> int:
    """Samples, estimates with intervals, differences with p-values, and the verdict.

    No p-value and no verdict are given before every variant has min_samples outcomes.
    """
    with _open(name, store) as exp:
        st = exp.status()
    if as_json:
        print_json(st.to_dict())
    else:
        _print_status(st)
    return 0


@experiment.command()
@click.argument("name")
@click.argument("units", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print {unit: variant} as JSON.")
def assign(name: str, units: tuple[str, ...], as_json: bool) -> int:
    """Show which variant each UNIT (user id, session id...) is assigned to."""
    with _open(name, None) as exp:
        got = {u: exp.variant_name(u) for u in units}
        if as_json:
            print_json({u: {"variant": v, "ref": exp.spec.variant(v).ref} for u, v in got.items()})
        else:
            for u, v in got.items():
                echo(f"{u}\t{v}\t{exp.spec.variant(v).ref}")
    return 0


@experiment.command()
@click.argument("name")
@click.argument("unit")
@click.option(
    "--success/--failure", "success", default=None, help="The outcome, for a success-rate metric."
)
@click.option("--value", type=float, default=None, help="The outcome, for a mean metric.")
@_store_option
def record(
    name: str, unit: str, success: bool | None, value: float | None, store: str | None
) -> int:
    """Record one outcome for UNIT under the variant it is assigned to."""
    with _open(name, store) as exp:
        variant = exp.variant_name(unit)
        exp.record(variant, unit, success=success, value=value)
    echo(f"recorded {unit} -> {variant}")
    return 0


@experiment.command()
@click.argument("name")
@click.option(
    "--promote",
    is_flag=True,
    help="Promote the winner's version to the experiment's promote_to stage.",
)
@click.option(
    "--force", is_flag=True, help="Let the promotion skip the stage order (recorded in the commit)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the conclusion as JSON.")
@_store_option
def conclude(name: str, promote: bool, force: bool, as_json: bool, store: str | None) -> int:
    """Give the verdict; with --promote, put the winner on its stage.

    Exits 1 when there is no winner yet (too few outcomes, or no significant difference).
    """
    result = run(Workspace(), name, promote=promote, force=force, store=store)
    data: dict[str, Any] = result.to_dict()
    if as_json:
        print_json(data)
    else:
        st = result.status
        if st.verdict != "winner":
            echo(f"no winner: {st.message}")
        else:
            echo(
                f"winner: {st.winner} ({result.ref}, version {result.version or '?'}): {st.message}"
            )
            if result.promotion is not None:
                p = result.promotion
                echo(
                    p.get("note")
                    or f"promoted {st.spec.prompt} {p.get('version')} to {p.get('stage')} "
                    f"({str(p.get('commit') or '')[:12]})"
                )
            elif promote:
                pass
            else:
                echo(
                    f"next: loomgit experiment conclude {st.spec.name} --promote "
                    f"(puts it on {st.spec.promote_to})"
                )
    return 0 if result.status.verdict == "winner" else EXIT_FAILED
