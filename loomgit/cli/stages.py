"""``loomgit promote``, ``rollback``, ``stages`` and ``export``."""

from __future__ import annotations

import click

from loomgit.app.export import export_bundle, write_bundle
from loomgit.app.gate import require_passing
from loomgit.cli.output import echo, print_json, style, table
from loomgit.stages import PromoteResult, report, stage_promotions
from loomgit.stages import promote as do_promote
from loomgit.stages import rollback as do_rollback
from loomgit.stages.mainline import with_main_notes
from loomgit.stages.remote import fetch as do_fetch
from loomgit.stages.remote import pick_remote
from loomgit.workspace import Workspace

_remote = click.option(
    "--remote",
    default=None,
    metavar="NAME",
    help="Git remote for --fetch/--push (default: origin, or the only one).",
)
_fetch = click.option(
    "--fetch", is_flag=True, help="First bring the remote's stage branches in (fast-forward only)."
)
_push = click.option(
    "--push",
    is_flag=True,
    help="Push the stage branch afterwards (never forced; a rejected push "
    "leaves the local stage as it was).",
)
_message = click.option(
    "-m",
    "--message",
    default=None,
    metavar="TEXT",
    help="Why: goes into the stage commit's message.",
)
_json = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _say(r: PromoteResult, verb: str) -> None:
    if r.noop:
        echo(f"{r.id} {r.version} is already on {r.stage}; nothing to do")
        if r.pushed_to:
            echo(f"pushed {r.branch} to {r.pushed_to}")
        return
    before = f" (was {r.previous_version})" if r.previous_version else ""
    forced = style(" [forced: stage order skipped]", fg="yellow") if r.forced else ""
    what = (
        f"rolled back {r.id} on {r.stage} to {r.version}"
        if verb == "rollback"
        else f"promoted {r.id} {r.version} to {r.stage}"
    )
    echo(f"{what}{before}: {r.branch} {(r.commit or '')[:12]}{forced}")
    if r.pushed_to:
        echo(f"pushed {r.branch} to {r.pushed_to}")


@click.command("promote")
@click.argument("ident", metavar="ID")
@click.argument("version", metavar="VERSION")
@click.option("--to", "stage", required=True, metavar="STAGE", help="The stage to promote to.")
@_message
@click.option(
    "--force", is_flag=True, help="Skip the stage order (recorded as 'Forced: yes' in the commit)."
)
@click.option(
    "--require-eval",
    is_flag=True,
    help="Run the prompt's committed suite on VERSION first; refuse on a failed gate.",
)
@_fetch
@_push
@_remote
@_json
def promote(
    ident: str,
    version: str,
    stage: str,
    message: str | None,
    force: bool,
    require_eval: bool,
    fetch: bool,
    push: bool,
    remote: str | None,
    as_json: bool,
) -> int:
    """Put prompt ID as it was at VERSION on STAGE, with one commit on the stage branch.

    VERSION is 1.2.0, 1.2 (newest 1.2.x), latest, a commit, or a stage name (what that
    stage holds). The working tree, index and current branch are never touched.
    """
    r = do_promote(
        Workspace(),
        ident,
        version,
        stage,
        message=message,
        force=force,
        eval_gate=require_passing if require_eval else None,
        fetch=fetch,
        push=push,
        remote=remote,
    )
    if as_json:
        print_json(r.to_dict())
    else:
        _say(r, "promote")
    return 0


@click.command("rollback")
@click.argument("ident", metavar="ID")
@click.option("--stage", required=True, metavar="STAGE", help="The stage to roll back.")
@click.option(
    "--to",
    "to",
    default=None,
    metavar="VERSION",
    help="Version to put back (default: the one before the current one).",
)
@_message
@_fetch
@_push
@_remote
@_json
def rollback(
    ident: str,
    stage: str,
    to: str | None,
    message: str | None,
    fetch: bool,
    push: bool,
    remote: str | None,
    as_json: bool,
) -> int:
    """Put the previous version of ID back on STAGE (a new commit; history is kept)."""
    r = do_rollback(
        Workspace(), ident, stage, to=to, message=message, fetch=fetch, push=push, remote=remote
    )
    if as_json:
        print_json(r.to_dict())
    else:
        _say(r, "rollback")
    return 0


@click.command("stages")
@click.option(
    "-n",
    "--limit",
    default=5,
    show_default=True,
    type=click.IntRange(0),
    help="Promotions to show per stage.",
)
@_fetch
@_remote
@_json
def stages(limit: int, fetch: bool, remote: str | None, as_json: bool) -> int:
    """Each stage: what it holds (id -> version), its last promotions, and any commit
    made on it by hand. Exit 1 when a stage cannot be trusted."""
    ws = Workspace()
    if fetch:
        do_fetch(
            ws.root,
            [ws.config.branch_for(s) for s in ws.config.stages],
            pick_remote(ws.root, remote),
        )
    reports = with_main_notes(ws, [report(ws, s, limit) for s in ws.config.stages])
    bad = any(r.problems for r in reports)
    if as_json:
        print_json({"stages": [r.to_dict() for r in reports], "ok": not bad})
        return 1 if bad else 0
    for i, r in enumerate(reports):
        st = r.state
        if i:
            echo()
        head = f"{st.head[:12]}" if st.head else "not created yet"
        echo(style(f"{st.stage}", bold=True) + f"  ({st.branch}, {head})")
        if st.manifest.entries:
            table(
                ["ID", "VERSION", "PROMOTED BY", "WHEN", "FROM"],
                [
                    (
                        e.id,
                        e.version
                        + (" (forced)" if e.forced else "")
                        + (" (not on main)" if e.id in r.off_main else ""),
                        e.promoted_by,
                        e.promoted_at[:19].replace("T", " "),
                        e.source_commit[:12],
                    )
                    for e in sorted(st.manifest.entries.values(), key=lambda e: e.id)
                ],
            )
        elif st.head is not None:
            echo("  holds nothing")
        for note in r.off_main.values():
            echo(style(f"  not on main: {note}", fg="yellow"))
        if r.promotions:
            echo("  last promotions:")
            for p in r.promotions:
                what = (
                    f"rollback to {p.version} (from {p.rollback_of})"
                    if p.rollback_of
                    else p.version
                )
                forced = " forced" if p.forced else ""
                echo(
                    f"    {p.commit[:12]} {p.date[:19].replace('T', ' ')} {p.id} {what}"
                    f"{forced} by {p.promoted_by} (from {p.source_commit[:12]})"
                )
        for prob in r.problems:
            echo(style(f"  problem: {prob}", fg="red"))
    if bad:
        echo(
            "\nloomgit: stage branches are written only by 'loomgit promote'; a commit "
            "made by hand is not trusted (promote with --force to rebuild from the last "
            "manifest loomgit wrote)",
            err=True,
        )
    return 1 if bad else 0


@click.command("export")
@click.option("--stage", required=True, metavar="STAGE", help="The stage to export.")
@click.option(
    "-o", "--output", required=True, metavar="FILE", help="Bundle file to write ('-' for stdout)."
)
@click.option("--id", "ids", multiple=True, metavar="ID", help="Only these prompts (repeatable).")
@click.option("--force", is_flag=True, help="Export even if the stage has hand-made changes.")
@click.option(
    "--schema",
    type=click.Choice(["1", "2"]),
    default="2",
    show_default=True,
    help="Bundle schema: 1 for applications whose loomgit reads only schema 1.",
)
def export(stage: str, output: str, ids: tuple[str, ...], force: bool, schema: str) -> int:
    """Write what STAGE holds to a JSON bundle for loomgit.load(bundle=FILE) or
    LOOMGIT_BUNDLE=FILE: applications can ship it without .git."""
    bundle = export_bundle(
        Workspace(), stage, list(ids) or None, allow_untrusted=force, schema=int(schema)
    )
    if output == "-":
        print_json(bundle)
        return 0
    path = write_bundle(bundle, output)
    n = len(bundle["prompts"])
    echo(
        f"wrote {path} ({n} prompt{'s' if n != 1 else ''} of {stage} at {bundle['commit'][:12]})",
        err=True,
    )
    return 0


def stage_log(ident: str, stage: str, as_json: bool) -> int:
    """``loomgit log ID --stage STAGE``: the promotions of one prompt, newest first."""
    proms = stage_promotions(Workspace(), ident, stage)
    if as_json:
        print_json([p.to_dict() for p in proms])
        return 0
    if not proms:
        echo(f"{ident} has never been promoted to {stage}")
        return 0
    rows = [
        (
            p.version,
            p.date[:19].replace("T", " "),
            p.commit[:12],
            p.source_commit[:12],
            p.promoted_by,
            ", ".join(
                x
                for x in (
                    f"rollback from {p.rollback_of}" if p.rollback_of else "",
                    "forced" if p.forced else "",
                )
                if x
            ),
        )
        for p in proms
    ]
    table(
        ["VERSION", "DATE", "STAGE COMMIT", "FROM", "PROMOTED BY", "NOTE"],
        rows,
        title=f"{proms[0].id} on {stage}",
    )
    return 0
