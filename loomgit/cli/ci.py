"""``loomgit ci``: the pull-request check (what the GitHub Action runs)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import click

from loomgit.app.ci import (
    CiSettings,
    EvalArgs,
    default_report_path,
    publish,
    publish_comment,
    report_failure,
    run_ci,
    split_args,
    split_list,
)
from loomgit.cli.evals import eval_
from loomgit.cli.output import echo, print_json, warn
from loomgit.errors import LoomgitError, UsageError
from loomgit.github import ActionsEnv, Annotation
from loomgit.report import pr_comment
from loomgit.workspace import Workspace


@click.command()
@click.option(
    "--base",
    envvar="LOOMGIT_CI_BASE",
    metavar="REF",
    help="Compare with this ref (default: the pull request's base commit).",
)
@click.option(
    "--prompts",
    envvar="LOOMGIT_CI_PROMPTS",
    metavar="IDS",
    help="Only these prompt ids or globs (comma- or newline-separated).",
)
@click.option(
    "--fail-on",
    envvar="LOOMGIT_CI_FAIL_ON",
    default="regression",
    show_default=True,
    type=click.Choice(["regression", "significant_regression", "gate", "never"]),
    help="regression: a case that passed at the base fails; significant_regression: a "
    "suite or case is significantly worse (with --repeat N in --args); gate: a changed "
    "prompt's gate fails; never: report only.",
)
@click.option(
    "--comment/--no-comment",
    envvar="LOOMGIT_CI_COMMENT",
    default=True,
    show_default=True,
    help="Create or update the pull-request comment.",
)
@click.option(
    "--comment-key",
    envvar="LOOMGIT_CI_COMMENT_KEY",
    default="loomgit",
    show_default=True,
    help="One comment per key (for several loomgit jobs).",
)
@click.option(
    "--offline",
    envvar="LOOMGIT_CI_OFFLINE",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "true", "false"]),
    help="Use the echo/replay providers: auto does for forks without API keys.",
)
@click.option(
    "--offline-model",
    envvar="LOOMGIT_CI_OFFLINE_MODEL",
    default="",
    metavar="MODEL",
    help="The model offline runs use (default: replay/<model> where responses are "
    "recorded, else echo).",
)
@click.option(
    "--allow-python/--no-allow-python",
    envvar="LOOMGIT_CI_ALLOW_PYTHON",
    default=False,
    show_default=True,
    help="Run python: assertions (code from the pull request; also allowed by "
    "LOOMGIT_ALLOW_PYTHON=1 or eval.allow_python in the base branch's loomgit.yaml).",
)
@click.option(
    "--args",
    "args_",
    envvar="LOOMGIT_CI_ARGS",
    metavar="FLAGS",
    help="Extra 'loomgit eval' flags, e.g. '--repeat 3 --concurrency 8'.",
)
@click.option(
    "--event",
    type=click.Path(dir_okay=False),
    default=None,
    help="Event file (default: $GITHUB_EVENT_PATH).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to write the Markdown report (default: $RUNNER_TEMP/loomgit/report.md, "
    "else .git/loomgit/ci/report.md); the JSON goes beside it.",
)
@click.option(
    "--comment-only",
    is_flag=True,
    help="Evaluate nothing: create or update the comment from the report an earlier "
    "'loomgit ci' wrote (at --report).",
)
@click.option(
    "--artifact-url",
    envvar="LOOMGIT_CI_ARTIFACT_URL",
    default="",
    metavar="URL",
    help="With --comment-only: link the workflow artifact the report was uploaded in.",
)
@click.option("--markdown", "as_markdown", is_flag=True, help="Print the Markdown report.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def ci(
    base: str | None,
    prompts: str | None,
    fail_on: str,
    comment: bool,
    comment_key: str,
    offline: str,
    offline_model: str,
    allow_python: bool,
    args_: str | None,
    event: str | None,
    report_path: str | None,
    comment_only: bool,
    artifact_url: str,
    as_markdown: bool,
    as_json: bool,
) -> int:
    """Evaluate the prompts a pull request changes, at its base and at its head.

    Reads the GitHub Actions environment (GITHUB_EVENT_PATH, GITHUB_API_URL,
    GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_STEP_SUMMARY, GITHUB_OUTPUT...), writes the
    job summary and step outputs, keeps one pull-request comment up to date, and exits
    0 (passed), 1 (failed under --fail-on) or 3 (errors kept cases from running).
    Outside GitHub, pass --base REF.
    """
    environ = dict(os.environ)
    if event:
        environ["GITHUB_EVENT_PATH"] = event
    try:
        settings = CiSettings(
            base=base or None,
            prompts=split_list(prompts),
            fail_on=fail_on,
            comment=comment,
            comment_key=comment_key or "loomgit",
            offline=offline,
            allow_python=allow_python,
            args=split_args(args_),
            offline_model=offline_model.strip(),
        )
        if comment_only:
            return _comment_only(settings, environ, report_path, artifact_url.strip())
        eval_args = parse_eval_args(settings.args)
        env = ActionsEnv.from_environ(environ)
        ws = Workspace()
        report = run_ci(ws, settings, env, environ, eval_args, notify=_notifier(env))
    except Exception as e:
        what = str(e) if isinstance(e, LoomgitError) else f"internal error: {type(e).__name__}: {e}"
        report_failure(environ, what)
        raise
    out = publish(
        report,
        settings,
        env,
        environ,
        ws.root,
        report_path,
        _notifier(env),
        secret_names=ws.config.secret_env_names(),
    )
    if as_json:
        print_json(
            {**out.data, "report_path": str(out.path), "comment_url": out.comment_url or None}
        )
    elif as_markdown:
        echo(out.markdown)
    else:
        for line in pr_comment.plain(out.report):
            echo(line)
        echo(f"report: {out.path}")
    return report.exit_code


def _comment_only(
    settings: CiSettings, environ: dict[str, str], report_path: str | None, artifact_url: str
) -> int:
    """``--comment-only``: the comment from an earlier run's report (the action's last
    step, once the report is uploaded and its artifact URL known)."""
    env = ActionsEnv.from_environ(environ)
    if report_path:
        path = Path(report_path)
    elif environ.get("RUNNER_TEMP"):
        path = default_report_path(Path("."), environ)
    else:
        path = default_report_path(Workspace().root, environ)
    url = publish_comment(settings, env, environ, path, _notifier(env), artifact_url or None)
    if url:
        echo(f"comment: {url}")
    return 0


def parse_eval_args(args: tuple[str, ...]) -> EvalArgs:
    """The ``args`` input, parsed by ``loomgit eval``'s own options so each flag means
    exactly what it means there; only the flags that make sense in a compare are allowed."""
    try:
        ctx = eval_.make_context("loomgit eval", list(args), resilient_parsing=False)
    except click.ClickException as e:
        raise UsageError(f"args: {e.format_message()}") from None
    p = ctx.params
    allowed = {"models", "repeat", "concurrency", "cases", "no_cache", "shard"}
    extra = sorted(k for k, v in p.items() if v not in (None, False, ()) and k not in allowed)
    if "ids" in extra:
        raise UsageError(
            f"args: {' '.join(p['ids'])!r}: choose prompts with the `prompts` "
            "input (--prompts), not in args"
        )
    if extra:
        flags = {q.name: max(q.opts, key=len) for q in eval_.params if q.opts}
        names = ", ".join(flags.get(x, x) for x in extra)
        raise UsageError(
            f"args: {names} cannot be used with loomgit ci (allowed: --model, "
            "--repeat, --concurrency, --case, --no-cache, --shard)"
        )
    return EvalArgs(
        tuple(p["models"]),
        p["repeat"],
        p["concurrency"],
        tuple(p["cases"]),
        bool(p["no_cache"]),
        p["shard"],
    )


def _notifier(env: ActionsEnv) -> Callable[[Annotation], None]:
    """Warnings and annotations: workflow commands in Actions, warnings on stderr elsewhere."""

    def show(note: Annotation) -> None:
        if env.in_actions:
            echo(note.command())
        else:
            warn(note.message)

    return show
