"""``loomgit hooks install|uninstall`` and the ``loomgit hook ...`` entry points that git
hooks and pre-commit hooks run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loomgit._git import require_repo
from loomgit.cli.output import echo, one_line, print_json, style
from loomgit.config import find_root
from loomgit.errors import EXIT_FAILED

if TYPE_CHECKING:
    from loomgit.app.hooks.installer import HookAction

# Each command imports the one service module it runs, inside the command, so that a
# commit hook loads neither the history (version trailers) nor the eval engine.

SOURCE_HELP = (
    "Where file content is read: the index (what the commit will hold), the "
    "working tree, or auto (the working tree under the pre-commit framework, "
    "which stashes unstaged edits first; else the index)."
)


def _root() -> Path:
    root = find_root()
    require_repo(root)
    return root


# --------------------------------------------------------------------------- hooks


@click.group()
def hooks() -> None:
    """Install or remove loomgit's plain git hooks (for teams without pre-commit)."""


@hooks.command()
@click.option(
    "--force", is_flag=True, help="Replace hooks that are not loomgit's (kept as NAME.pre-loomgit)."
)
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def install(force: bool, as_json: bool) -> None:
    """Copy the pre-commit and prepare-commit-msg hooks into the repository's hooks
    folder (core.hooksPath when set, else .git/hooks)."""
    from loomgit.app.hooks.installer import install as do_install

    _report(do_install(_root(), force=force), as_json)


@hooks.command()
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def uninstall(as_json: bool) -> None:
    """Remove loomgit's hooks (only its own), restoring hooks that install --force set aside."""
    from loomgit.app.hooks.installer import uninstall as do_uninstall

    _report(do_uninstall(_root()), as_json)


def _report(actions: list[HookAction], as_json: bool) -> None:
    if as_json:
        print_json(
            [{"hook": a.name, "path": a.path, "action": a.action, "note": a.note} for a in actions]
        )
        return
    for a in actions:
        echo(f"{a.action:>9}  {a.path}" + (f"  ({a.note})" if a.note else ""))


# --------------------------------------------------------------------------- hook


@click.group()
def hook() -> None:
    """Entry points run by git hooks and by the pre-commit framework."""


def _source(source: str) -> str:
    if source == "auto":
        return "worktree" if os.environ.get("PRE_COMMIT") == "1" else "index"
    return source


def _run_check(files: tuple[str, ...], source: str, strict: bool, as_json: bool) -> int:
    from loomgit.app.hooks.commit_check import check_files

    src = _source(source)
    result = check_files(_root(), list(files) if files or src != "index" else None, src)
    ok = result.ok(strict)
    if as_json:
        print_json(
            {
                "ok": ok,
                "checked": result.checked,
                "renders": result.renders,
                "findings": [f.to_dict() for f in result.findings],
            }
        )
        return 0 if ok else EXIT_FAILED
    for f in result.findings:
        colour = "red" if f.level == "error" else "yellow"
        echo(one_line(f).replace(f": {f.level}: ", ": " + style(f.level, fg=colour) + ": ", 1))
    if not ok:
        bad = result.errors or result.findings
        what = "error(s)" if result.errors else "warning(s) (--strict)"
        echo(
            f"loomgit-check: {len(bad)} {what} in {len({f.path for f in bad})} file(s); "
            "the commit is blocked. "
            "Fix them and stage the fix (git add).",
            err=True,
        )
    return 0 if ok else EXIT_FAILED


@hook.command("check")
@click.argument("files", nargs=-1, type=click.Path())
@click.option(
    "--source",
    type=click.Choice(["auto", "index", "worktree"]),
    default="auto",
    show_default=True,
    help=SOURCE_HELP,
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
def check_cmd(files: tuple[str, ...], source: str, strict: bool, as_json: bool) -> int:
    """Validate and render the given prompt and suite FILES (default: those staged).

    Everything `loomgit check` reports, plus a render of each prompt with its sample and
    with the vars of each case of its suite. Files that are not prompts or suites are
    ignored. Exits 1 when there is an error.
    """
    return _run_check(files, source, strict, as_json)


@hook.command("protect")
def protect_cmd() -> int:
    """Refuse a commit made by hand on a stage branch (stage branches are written only by
    `loomgit promote`)."""
    return _protect()


def _protect() -> int:
    from loomgit.app.hooks.protection import protect

    why = protect(_root())
    if why:
        echo(f"loomgit-protect: commit refused: {why}.", err=True)
        return EXIT_FAILED
    return 0


@hook.command("versions")
@click.argument("msgfile", type=click.Path(dir_okay=False))
@click.argument("source", required=False)
@click.argument("sha", required=False)
def versions_cmd(msgfile: str, source: str | None, sha: str | None) -> int:
    """Append one `Prompt-Version: ID X.Y.Z (change: reasons)` trailer per prompt the staged
    changes bump to the commit message in MSGFILE (git's prepare-commit-msg arguments;
    under pre-commit, SOURCE and SHA come from its environment). Trailers already there
    are replaced, so --amend never repeats them."""
    from loomgit.app.hooks.trailers import update_message

    source = source or os.environ.get("PRE_COMMIT_COMMIT_MSG_SOURCE") or None
    sha = sha or os.environ.get("PRE_COMMIT_COMMIT_OBJECT_NAME") or None
    result = update_message(_root(), msgfile, source, sha)
    if result.note:
        echo(f"loomgit-versions: {result.note}", err=True)
    return 0


@hook.command("eval")
@click.argument("files", nargs=-1, type=click.Path())
@click.option(
    "--strict", is_flag=True, help="Block also when cases could not run offline (no recording)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the eval report as JSON.")
def eval_cmd(files: tuple[str, ...], strict: bool, as_json: bool) -> int:
    """Run the suites of the changed prompts (FILES, default: those staged) offline.

    Models answer from the repository's recordings (see `loomgit eval --record`), `echo`
    answers with the rendered prompt, nothing touches the network. Exits 1 when a gate
    fails. Cases that cannot run offline are reported but block only with --strict (exit 3).
    """
    from loomgit.app.hooks.offline_eval import run_evals
    from loomgit.evals.results import EvalReport

    report: EvalReport | None = run_evals(_root(), list(files) if files else None)
    if report is None:
        if as_json:
            print_json(None)
        else:
            echo("loomgit-eval: no test suite for the changed prompts")
        return 0
    if as_json:
        print_json(report.to_dict())
    else:
        from loomgit.cli.evals_format import print_report

        print_report(report)
    rc = report.exit_code
    if rc == EXIT_FAILED:
        echo("loomgit-eval: a quality gate failed; the push (or commit) is blocked.", err=True)
        return rc
    if rc and not strict:
        echo(
            "loomgit-eval: some cases could not run offline (not counted; record them "
            "with 'loomgit eval --record'); not blocking (--strict blocks)",
            err=True,
        )
        return 0
    return rc


@hook.command("pre-commit")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def pre_commit_cmd(strict: bool) -> int:
    """What the plain pre-commit hook runs: protect, then check the staged files."""
    rc = _protect()
    if rc:
        return rc
    return _run_check((), "index", strict, False)
