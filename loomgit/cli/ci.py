"""``loomgit ci``: the pull-request check (what the GitHub Action runs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from loomgit.cli.output import print_json, warn

if TYPE_CHECKING:
    from loomgit.app.ci import CiReport, CiSettings, EvalArgs
    from loomgit.github import ActionsEnv


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
    type=click.Choice(["regression", "gate", "never"]),
    help="regression: a case that passed at the base fails; gate: a changed prompt's "
    "gate fails; never: report only.",
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
    "--allow-python/--no-allow-python",
    envvar="LOOMGIT_CI_ALLOW_PYTHON",
    default=False,
    show_default=True,
    help="Run python: assertions (code from the pull request).",
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
@click.option("--markdown", "as_markdown", is_flag=True, help="Print the Markdown report.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def ci(
    base: str | None,
    prompts: str | None,
    fail_on: str,
    comment: bool,
    comment_key: str,
    offline: str,
    allow_python: bool,
    args_: str | None,
    event: str | None,
    report_path: str | None,
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
    from loomgit.app.ci import CiSettings, split_args, split_list
    from loomgit.github import ActionsEnv

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
        )
        eval_args = parse_eval_args(settings.args)
        env = ActionsEnv.from_environ(environ)
        report = _run(settings, env, environ, eval_args)
    except Exception as e:
        from loomgit.errors import LoomgitError

        what = str(e) if isinstance(e, LoomgitError) else f"internal error: {type(e).__name__}: {e}"
        _report_failure_to_github(environ, what)
        raise
    return _publish(report, settings, env, environ, report_path, as_markdown, as_json)


def parse_eval_args(args: tuple[str, ...]) -> EvalArgs:
    """The ``args`` input, parsed by ``loomgit eval``'s own options so each flag means
    exactly what it means there; only the flags that make sense in a compare are allowed."""
    from loomgit.app.ci import EvalArgs
    from loomgit.cli.evals import eval_
    from loomgit.errors import UsageError

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


def _run(
    settings: CiSettings, env: ActionsEnv, environ: dict[str, str], eval_args: EvalArgs
) -> CiReport:
    from loomgit.app.ci import run_ci
    from loomgit.workspace import Workspace

    if env.event_name == "pull_request_target":
        _warn(
            env,
            "running on pull_request_target: this workflow has the base repository's "
            "secrets, so it must not check out or run the pull request's code "
            "(see loomgit's docs/ci.md); prefer `on: pull_request`",
        )
    return run_ci(Workspace(), settings, env, environ, eval_args)


def _warn(env: ActionsEnv, message: str) -> None:
    from loomgit.github import redact, workflow_command

    message = redact(message)
    if env.in_actions:
        click.echo(workflow_command("warning", message))
    else:
        warn(message)


def _report_failure_to_github(environ: dict[str, str], message: str) -> None:
    """The check could not run: say so in the summary and the outputs (when in Actions)."""
    from loomgit.github import md_code, redact, write_outputs, write_summary

    message = redact(message, environ)
    summary, output = environ.get("GITHUB_STEP_SUMMARY"), environ.get("GITHUB_OUTPUT")
    try:
        if summary:
            write_summary(
                summary, f"## ⚠️ loomgit could not run the check\n\n{md_code(message, 2000)}\n"
            )
        if output:
            write_outputs(
                output,
                {
                    "passed": False,
                    "regressions": 0,
                    "fixes": 0,
                    "errors": 0,
                    "report-path": "",
                    "comment-url": "",
                    "offline": False,
                },
            )
    except OSError:
        pass  # the error being reported matters more than this one


def _default_report_path(root: Path, environ: dict[str, str]) -> Path:
    tmp = environ.get("RUNNER_TEMP")
    if tmp:
        return Path(tmp) / "loomgit" / "report.md"
    return root / ".git" / "loomgit" / "ci" / "report.md"


def _publish(
    report: CiReport,
    settings: CiSettings,
    env: ActionsEnv,
    environ: dict[str, str],
    report_path: str | None,
    as_markdown: bool,
    as_json: bool,
) -> int:
    from loomgit.config import find_root
    from loomgit.github import (
        fit_comment,
        marker_for,
        redact,
        workflow_command,
        write_outputs,
        write_summary,
    )
    from loomgit.report import pr_comment as ci_report

    marker = marker_for(settings.comment_key)
    markdown = redact(ci_report.render(report, run_url=env.run_url), environ)
    data = report.to_dict()
    path = Path(report_path) if report_path else _default_report_path(find_root(), environ)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown, encoding="utf-8")
    json_path = path.with_suffix(".json")
    import json

    json_path.write_text(
        redact(json.dumps(data, indent=2, ensure_ascii=False), environ) + "\n", encoding="utf-8"
    )

    if env.step_summary:
        write_summary(
            env.step_summary,
            markdown,
            note=f"The whole report is in {path} (the report-path output).",
        )

    comment_url = ""
    if settings.comment and env.pull_request is not None and env.repository:
        # nothing to report: do not open a comment, but refresh one an earlier push made
        comment_url = _comment(
            env,
            marker,
            fit_comment(f"{marker}\n{markdown}", summary_url=env.run_url),
            create=bool(report.prompts),
        )
    elif settings.comment and env.in_actions and env.pull_request is None:
        _warn(
            env,
            f"no pull request in this {env.event_name or 'run'} event: "
            "the report is in the job summary only",
        )

    if env.output:
        write_outputs(
            env.output,
            {
                "passed": report.passed,
                "regressions": report.regressions,
                "fixes": report.fixes,
                "errors": report.errors,
                "report-path": str(path),
                "comment-url": comment_url,
                "offline": bool(report.offline),
            },
        )

    if report.offline:
        _warn(env, f"evaluated with the offline providers: {report.offline}")
    if env.in_actions:
        for p in report.prompts:
            for c in p.regressions:
                click.echo(
                    workflow_command(
                        "error",
                        f"{p.id}: case {c.case} ({c.provider}) passed at the base and fails "
                        f"now" + (f": {c.why_after}" if c.why_after else ""),
                        file=p.suite,
                        line=c.line,
                        title="loomgit regression",
                    )
                )

    if as_json:
        print_json({**data, "report_path": str(path), "comment_url": comment_url or None})
    elif as_markdown:
        click.echo(markdown)
    else:
        for line in ci_report.plain(report):
            click.echo(redact(line, environ))
        click.echo(f"report: {path}")
    return report.exit_code


def _comment(env: ActionsEnv, marker: str, body: str, *, create: bool = True) -> str:
    """Create or update the one comment; a refusal becomes a warning, never a failure."""
    from loomgit.github import CommentForbidden, GitHubClient, GitHubError

    assert env.pull_request is not None and env.repository is not None
    if not env.token:
        _warn(
            env,
            "no GITHUB_TOKEN: the report is in the job summary only (set the "
            "github-token input, or give the job `pull-requests: write`)",
        )
        return ""
    try:
        with GitHubClient(env.api_url, env.token, env.repository) as gh:
            res = gh.upsert_comment(env.pull_request.number, body, marker, create=create)
    except CommentForbidden as e:
        fork = (
            " (pull requests from forks get a read-only token)"
            if env.pull_request.from_fork
            else ""
        )
        _warn(
            env,
            f"cannot comment on pull request #{env.pull_request.number}{fork}: {e}; "
            "the report is in the job summary",
        )
        return ""
    except GitHubError as e:
        _warn(
            env,
            f"cannot comment on pull request #{env.pull_request.number}: {e}; "
            "the report is in the job summary",
        )
        return ""
    return (res.url or "") if res is not None else ""
