"""``loomgit list | log | show | diff | status``: versions from git history."""

from __future__ import annotations

from typing import Any

import click

from loomgit.cli.output import color, echo, echo_content, one_line, print_json, style, table, warn
from loomgit.errors import RefError, UsageError
from loomgit.history import history, pending_changes
from loomgit.history.lookup import trace
from loomgit.history.pending import Pending, uncommitted
from loomgit.prompt.discover import ambiguous_id, symlinked
from loomgit.prompt.parse import symlink_error
from loomgit.workspace import Workspace

# Start-up: references (and with them stages and their git plumbing) and semantic diffs
# are imported by the commands that use them, so that 'log' and 'status' stay as quick
# to start as the history they read.


def print_rows(rows: list[dict[str, Any]]) -> None:
    """A JSON list, one object per line: still JSON, and fast for thousands of rows
    (indented output goes through the slow pure-Python encoder)."""
    import json

    if not rows:
        echo("[]")
        return
    body = ",\n".join("  " + json.dumps(r, ensure_ascii=False, default=str) for r in rows)
    echo(f"[\n{body}\n]")


def _short_date(iso: str) -> str:
    return iso[:10] if iso else ""


def _change_text(change: str, reasons: list[str], same_as: str | None = None) -> str:
    text = f"{change}: {'; '.join(reasons)}" if reasons else change
    return text + (f" (same content as {same_as})" if same_as else "")


@click.command("list")
@click.option(
    "--ref",
    default=None,
    metavar="REF",
    help="List the prompts of a commit instead of the working tree.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def list_(ref: str | None, as_json: bool) -> int:
    """List prompts with their current version and last change.

    Without --ref this is the working tree: a prompt with uncommitted changes shows the
    version it would get (X.Y.Z-dev+<hash7>).
    """

    from loomgit.history.listing import hold_refs, unfollowed
    from loomgit.refs import listing
    from loomgit.stages.mainline import off_main
    from loomgit.stages.state import read_stage

    ws = hold_refs(Workspace())  # list moves no ref: HEAD and the main branch read once
    rows = listing(ws, ref)
    if ref is None:
        for link in symlinked(ws.config):  # skipped, never read: a link can point anywhere
            echo(f"warning: {symlink_error(link)} (skipped)", err=True)
    for u in unfollowed(ws, ref or "HEAD"):
        warn(u.message)
    notes: dict[tuple[str, str], str] = {}
    if any(v for r in rows for v in r.stages.values()):
        notes = off_main(ws, [read_stage(ws, s) for s in ws.config.stages])
    shared: dict[str, list[str]] = {}
    for r in rows:
        shared.setdefault(r.id, []).append(r.path)
    for ident, paths in shared.items():
        if len(paths) > 1:  # both are listed; render, eval and show refuse the id
            warn(f"{ambiguous_id(ident, sorted(paths)).message}")
    if as_json:
        print_rows(
            [
                {
                    **r.to_dict(),
                    "off_main": {s: n for (s, i), n in notes.items() if i == r.id},
                }
                for r in rows
            ]
        )
        return 0
    if not rows:
        echo("no prompts found (globs: " + ", ".join(g.glob for g in ws.config.prompts) + ")")
        return 0
    stages = list(ws.config.stages) if any(r.stages for r in rows) else []
    out = []
    for r in rows:
        last = r.last_commit or {}
        row = [
            r.id,
            r.version or "-",
            r.path,
            (last.get("sha") or "")[:7],
            _short_date(last.get("date", "")),
            last.get("author", ""),
        ]
        row += [
            (r.stages.get(s) or "-") + (" (not on main)" if (s, r.id) in notes else "")
            for s in stages
        ]
        out.append(row)
    headers = ["ID", "VERSION", "PATH", "COMMIT", "DATE", "AUTHOR", *[s.upper() for s in stages]]
    table(headers, out, keep=(0, 1, 3, 4))  # id, version, commit, date: never cut
    for note in notes.values():
        echo(style(f"not on main: {note}", fg="yellow"))
    return 0


@click.command()
@click.argument("ident", metavar="ID")
@click.option(
    "--ref",
    default="HEAD",
    show_default=True,
    metavar="REF",
    help="See the history as of this commit.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, newest first.")
@click.option(
    "--stage",
    default=None,
    metavar="STAGE",
    help="List the promotions of ID on this stage instead (its audit trail).",
)
def log(ident: str, ref: str, as_json: bool, stage: str | None) -> int:
    """Show the versions of one prompt, newest first, with why each was bumped.

    ID@REF (a version, stage or commit) shows the history as it was there.
    """
    if stage is not None:
        from loomgit.cli.stages import stage_log

        return stage_log(ident, stage, as_json)

    ws = Workspace()
    if "@" in ident:  # the history as of that version, stage or commit
        from loomgit.refs import resolve

        res = resolve(ws, ident)
        ident, ref = res.prompt.id, res.commit or ref
    h = history(ws, ref)
    try:
        line = trace(ws, ident, h.commit)  # an id it has only since: followed back
    except RefError:
        pending = uncommitted(ws, ident) if ref == "HEAD" else None
        if pending is None:
            raise
        return _log_uncommitted(pending, h.commit is None, as_json)
    vs = list(reversed(line.versions))
    if as_json:
        print_rows([v.to_dict() for v in vs])
        return 0
    title = f"{line.id} ({line.path})" if line.path else f"{line.id} (deleted)"
    rows = [
        (
            v.version,
            _short_date(v.date),
            v.commit[:7],
            v.author,
            _change_text(v.change, v.reasons, v.same_as),
            v.subject,
        )
        for v in vs
    ]
    table(["VERSION", "DATE", "COMMIT", "AUTHOR", "CHANGE", "SUBJECT"], rows, title=title)
    return 0


def _log_uncommitted(p: Pending, no_commits: bool, as_json: bool) -> int:
    """``log`` of a prompt no commit has yet: the version it would get, as ``list`` shows."""
    if as_json:
        print_rows([{**p.to_dict(), "commit": None, "uncommitted": True}])
        return 0
    why = "no commits yet" if no_commits else "not committed yet"
    row = (p.version or "-", "", "", "", _change_text(p.change, p.reasons), f"({why})")
    table(
        ["VERSION", "DATE", "COMMIT", "AUTHOR", "CHANGE", "SUBJECT"],
        [row],
        title=f"{p.id} ({p.path})",
    )
    return 0


@click.command()
@click.argument("ref")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print {id, version, commit, path, content_hash, text, prompt}.",
)
def show(ref: str, as_json: bool) -> int:
    """Show a prompt at a reference: ID (working tree), ID@1.2.0, ID@1.2, ID@latest,
    ID@STAGE or ID@COMMIT."""

    from loomgit.history.facts import facts_from_prompt
    from loomgit.refs import resolve

    res = resolve(Workspace(), ref)
    p = res.prompt
    digest = facts_from_prompt(p, res.loader).content_hash
    if as_json:
        print_json(
            {
                "id": p.id,
                "version": res.version,
                "commit": res.commit,
                "path": p.path,
                "content_hash": digest,
                "text": p.text,
                "prompt": p.to_dict(),
            }
        )
        return 0
    where = f"commit {res.commit[:7]}" if res.commit else "working tree"
    head = style(f"{one_line(p.id)} {one_line(res.version or '')}".rstrip(), bold=True)
    echo(f"{head}  ({one_line(p.path)}, {where})")
    echo(f"content sha256:{digest}")
    echo()
    echo_content(p.text.rstrip("\n"))
    return 0


def _print_diff_text(text: str) -> None:
    for ln in text.splitlines():
        if not color():
            echo(ln)
        elif ln.startswith(("+++", "---")):
            echo(style(ln, bold=True))
        elif ln.startswith("+"):
            echo(style(ln, fg="green"))
        elif ln.startswith("-"):
            echo(style(ln, fg="red"))
        elif ln.startswith("@@"):
            echo(style(ln, fg="cyan"))
        else:
            echo(ln)


def _print_semdiff(d: Any) -> None:
    a = d.old.label() if d.old else "(none)"
    b = d.new.label() if d.new else "(none)"
    echo(style(f"{a} -> {b}: {d.change}", bold=True))
    for r in d.reasons:
        echo(f"  - {r}")
    _echo_changes("variable", d.variables)
    if d.model:
        echo(f"  model: {d.model['from']} -> {d.model['to']}")
    _echo_changes("params", d.params)
    if d.output:
        echo(f"  output: {d.output['from']} -> {d.output['to']}")
    for m in [*d.messages, *d.includes, *d.tool_entries]:
        if m["diff"]:
            echo()
            _print_diff_text(m["diff"])
    if d.rendered:
        changed = [m for m in d.rendered if m["status"] != "same"]
        echo()
        echo(style("rendered:", bold=True) + ("" if changed else " identical"))
        for m in changed:
            if m["status"] == "error":
                echo(f"  cannot render: {m['diff']}")
            else:
                _print_diff_text(m["diff"])


@click.command()
@click.argument("refs", nargs=-1, metavar="[A] [B]")
@click.option(
    "--base",
    "base",
    default=None,
    metavar="REF",
    help="Diff every prompt changed since REF against the working tree.",
)
@click.option(
    "--render",
    "render",
    is_flag=True,
    help="Also diff the rendered messages (each side's sample, overridden by --var).",
)
@click.option(
    "--var",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A variable for --render (repeatable).",
)
@click.option(
    "--vars-file",
    type=click.Path(dir_okay=False),
    help="Variables for --render from a JSON or YAML file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the diff(s) as JSON.")
def diff(
    refs: tuple[str, ...],
    base: str | None,
    render: bool,
    pairs: tuple[str, ...],
    vars_file: str | None,
    as_json: bool,
) -> int:
    """Semantic diff between two prompt references.

    \b
      loomgit diff summarize@1.0.0 summarize@2.0.0
      loomgit diff summarize@main summarize     (working tree)
      loomgit diff summarize@1.0.0 @1.1.0       (same prompt)
      loomgit diff summarize                    (HEAD against the working tree)
      loomgit diff --base main                  (every prompt changed since main)
    """

    from loomgit.cli.variables import collect_vars
    from loomgit.history.semdiff import Side, changed_since, diff_prompts
    from loomgit.refs import resolve, split_ref

    ws = Workspace()
    limits = {"max_chars": ws.config.render_max_chars, "timeout_s": ws.config.render_timeout_s}
    if base is not None:
        if refs:
            raise UsageError("give either --base REF or references, not both")
        pairs_ = changed_since(ws, base)
    else:
        if not refs or len(refs) > 2:
            raise UsageError("expected one or two references (e.g. summarize@1.0.0 summarize)")
        a = refs[0]
        if len(refs) == 1:
            ident, at = split_ref(a)
            a, b = (f"{ident}@HEAD", ident) if at is None else (a, ident)
        else:
            b = refs[1]
            if b.startswith("@"):
                b = split_ref(a)[0] + b
        pairs_ = [(Side.of(a, resolve(ws, a)), Side.of(b, resolve(ws, b)))]
    results = []
    for old, new in pairs_:
        side = new or old
        assert side is not None
        values = collect_vars(side.prompt, pairs, vars_file) if render else None
        results.append(diff_prompts(old, new, values, render=render, limits=limits))
    if as_json:
        data = [d.to_dict() for d in results]
        print_json(data if base is not None else data[0])
        return 0
    if not results:
        echo(f"no prompt changed since {base}")
    for i, d in enumerate(results):
        if i:
            echo()
        _print_semdiff(d)
    return 0


@click.command()
@click.option("--staged", is_flag=True, help="Only staged changes (what 'git commit' takes).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def status(staged: bool, as_json: bool) -> int:
    """Prompts changed in the working tree and index, with the version each would get."""

    items = pending_changes(Workspace(), "index" if staged else "worktree", include_deleted=True)
    if as_json:
        print_rows([p.to_dict() for p in items])
        return 0
    if not items:
        echo("no prompt changes" + (" staged" if staged else ""))
        return 0
    table(
        ["ID", "PATH", "FROM", "TO", "CHANGE"],
        keep=(0,),
        rows=[
            (
                p.id,
                p.path,
                p.previous or "-",
                p.version or "(deleted)",
                _change_text(p.change, p.reasons),
            )
            for p in items
        ],
    )
    return 0


def _echo_changes(label: str, changes: dict[str, Any]) -> None:
    """``label + name: value`` / ``- name: value`` / ``~ name: from -> to`` lines."""
    for name, val in changes.get("added", {}).items():
        echo(f"  {label} + {name}: {val}")
    for name, val in changes.get("removed", {}).items():
        echo(f"  {label} - {name}: {val}")
    for name, ch in changes.get("changed", {}).items():
        echo(f"  {label} ~ {name}: {ch['from']} -> {ch['to']}")
