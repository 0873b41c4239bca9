"""The ``loomgit`` command line: a thin layer over the library.

Subcommands live in their own modules and are imported only when run, so that
``loomgit --version`` and the commit hooks start fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import os
import sys

import click

from loomgit._version import __version__
from loomgit.errors import EXIT_INTERNAL, EXIT_USAGE, LoomgitError
from loomgit.report.escape import term_lines, term_text

# name -> (module under loomgit.cli, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("scaffold", "init", "Scaffold loomgit.yaml and hooks; --adopt for existing prompts."),
    "new": ("scaffold", "new", "Create a new prompt from the template."),
    "check": ("check", "check", "Validate prompt files and test suites."),
    "render": ("render", "render", "Render a prompt's messages with variables."),
    "list": ("history", "list_", "List prompts with their versions."),
    "log": ("history", "log", "Show the versions of one prompt."),
    "show": ("history", "show", "Show a prompt at a reference."),
    "diff": ("history", "diff", "Semantic diff between two prompt references."),
    "status": ("history", "status", "Prompts changed in the working tree and their next version."),
    "promote": ("stages", "promote", "Promote a prompt version to a stage."),
    "rollback": ("stages", "rollback", "Promote the previous version of a stage again."),
    "stages": ("stages", "stages", "Show what each stage holds."),
    "export": ("stages", "export", "Write a stage's prompts to a JSON bundle."),
    "eval": ("evals", "eval_", "Run test suites and apply quality gates."),
    "stats": ("evals", "stats", "Aggregate recorded eval runs."),
    "report": ("report", "report", "Reports: merge shards, HTML overview."),
    "ci": ("ci", "ci", "Run the pull-request regression check (GitHub Actions)."),
    "hooks": ("hooks", "hooks", "Install or remove loomgit's plain git hooks."),
    "hook": ("hooks", "hook", "Entry points used by git and pre-commit hooks."),
    "run": ("batch", "run", "Run a prompt over a dataset with gates and quarantine."),
    "cost": ("batch", "cost", "Estimate the cost of a run or a suite."),
    "lineage": ("batch", "lineage", "Where a prompt's versions went and how they did."),
    "experiment": ("experiments", "experiment", "A/B experiments between prompt versions."),
    "schema": ("schema", "schema", "Print the JSON Schema of a loomgit file format."),
    "serve": ("serve", "serve", "Serve stage prompts over HTTP (render, execute)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if self.get_command(ctx, n) is not None)

    @staticmethod
    def _available(name: str) -> bool:
        return importlib.util.find_spec(f"loomgit.cli.{COMMANDS[name][0]}") is not None

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not self._available(name):
            return None
        mod, attr, _ = COMMANDS[name]
        module = importlib.import_module(f"loomgit.cli.{mod}")
        cmd = getattr(module, attr, None)
        return cmd if isinstance(cmd, click.Command) else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, COMMANDS[n][2]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="loomgit", message="%(prog)s %(version)s")
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False),
    default=None,
    help="Run as if loomgit was started in this folder.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for internal errors.")
@click.pass_context
def cli(ctx: click.Context, directory: str | None, debug: bool) -> None:
    """loomgit: prompts kept in git, versioned by their history."""
    if directory:
        try:
            os.chdir(directory)
        except OSError as e:
            raise click.UsageError(f"-C {directory}: {e.strerror}") from None
    ctx.obj = {"debug": debug}


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: one line on stderr and an exit code for every error."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or bool(os.environ.get("LOOMGIT_DEBUG"))
    try:
        rv = cli.main(args=args, prog_name="loomgit", standalone_mode=False)
        return int(rv or 0) if isinstance(rv, int) else 0
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except click.exceptions.Abort:
        click.echo("loomgit: aborted", err=True)
        return 130
    except click.ClickException as e:
        shown = io.StringIO()
        e.show(file=shown)  # a bad value may hold ESC or a bidi override: shown escaped
        click.echo(term_lines(shown.getvalue()), err=True, nl=False)
        return EXIT_USAGE if e.exit_code == 2 else e.exit_code
    except LoomgitError as e:
        if debug:
            import traceback  # start-up: only when --debug shows one

            traceback.print_exc()
        click.echo(f"loomgit: error: {term_text(e)}", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("loomgit: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug: say so, briefly
        if debug:
            import traceback  # start-up: only when --debug shows one

            traceback.print_exc()
        else:
            click.echo(
                f"loomgit: internal error: {type(e).__name__}: {term_text(e)} "
                "(rerun with --debug for a traceback)",
                err=True,
            )
        return EXIT_INTERNAL
