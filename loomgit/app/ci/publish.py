"""Where the result of ``loomgit ci`` goes: the Markdown and JSON report files, the job
summary, the one pull-request comment, the step outputs and the annotations on the diff.

A comment GitHub refuses is a warning, never a failure: the report is in the summary.
Warnings and annotations go to ``notify`` (the CLI prints them); nothing is printed here.

Everything that leaves goes through one :class:`~loomgit.github.Redactor` first: the
report's data before it is rendered (so a cut-short output cannot show half a secret),
then each rendered text, output and annotation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loomgit._version import __version__
from loomgit.app.ci.run import warning
from loomgit.app.ci.settings import CiSettings
from loomgit.errors import UsageError
from loomgit.github import (
    ActionsEnv,
    Annotation,
    CommentForbidden,
    GitHubClient,
    GitHubError,
    Redactor,
    fit_comment,
    marker_for,
    redact,
    write_outputs,
    write_summary,
)
from loomgit.report import pr_comment
from loomgit.report.ci_result import CiReport
from loomgit.report.escape import md_code

Notify = Callable[[Annotation], None]


@dataclass(frozen=True)
class Published:
    """What :func:`publish` wrote, for the CLI to show."""

    path: Path  # the Markdown report (the JSON is beside it)
    markdown: str
    data: dict[str, Any]
    comment_url: str  # '' when no comment was written
    report: CiReport  # with the secrets taken out, for the CLI's own printing


def default_report_path(root: Path, environ: Mapping[str, str]) -> Path:
    tmp = environ.get("RUNNER_TEMP")
    if tmp:
        return Path(tmp) / "loomgit" / "report.md"
    return root / ".git" / "loomgit" / "ci" / "report.md"


def publish(
    report: CiReport,
    settings: CiSettings,
    env: ActionsEnv,
    environ: Mapping[str, str],
    root: Path,
    report_path: str | None,
    notify: Notify,
    secret_names: tuple[str, ...] = (),
) -> Published:
    """Write the report files, the job summary, the comment and the step outputs, with
    the secrets of ``environ`` (and of the variables ``secret_names``) taken out."""
    red = Redactor(environ, secret_names)
    notify = _redacting(notify, red)
    report = red.data(report)
    marker = marker_for(settings.comment_key)
    markdown = red.text(pr_comment.render(report, run_url=env.run_url))
    data = red.data(report.to_dict())
    path = Path(report_path) if report_path else default_report_path(root, environ)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown, encoding="utf-8")
    path.with_suffix(".json").write_text(
        red.text(json.dumps(data, indent=2, ensure_ascii=False)) + "\n", encoding="utf-8"
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
        comment_url = upsert_comment(
            env,
            marker,
            fit_comment(f"{marker}\n{markdown}", summary_url=env.run_url),
            notify,
            create=bool(report.prompts),
        )
    elif settings.comment and env.in_actions and env.pull_request is None:
        notify(
            warning(
                f"no pull request in this {env.event_name or 'run'} event: "
                "the report is in the job summary only"
            )
        )

    if env.output:
        write_outputs(
            env.output,
            red.data(
                {
                    "passed": report.passed,
                    "regressions": report.regressions,
                    "fixes": report.fixes,
                    "errors": report.errors,
                    "report-path": str(path),
                    "comment-url": comment_url,
                    "offline": bool(report.offline),
                }
            ),
        )

    if report.offline:
        notify(warning(f"evaluated with the offline providers: {report.offline}"))
    if env.in_actions:
        for p in report.prompts:
            for c in p.regressions:
                notify(
                    Annotation(
                        "error",
                        f"{p.id}: case {c.case} ({c.provider}) passed at the base and fails "
                        f"now" + (f": {c.why_after}" if c.why_after else ""),
                        file=c.file or p.suite,
                        line=c.line,
                        title="loomgit regression",
                    )
                )
    return Published(path, markdown, data, comment_url, report)


def _redacting(notify: Notify, red: Redactor) -> Notify:
    def show(note: Annotation) -> None:
        notify(red.data(note))

    return show


def upsert_comment(
    env: ActionsEnv, marker: str, body: str, notify: Notify, *, create: bool = True
) -> str:
    """Create or update the one comment; a refusal becomes a warning, never a failure."""
    assert env.pull_request is not None and env.repository is not None
    if not env.token:
        notify(
            warning(
                "no GITHUB_TOKEN: the report is in the job summary only (set the "
                "github-token input, or give the job `pull-requests: write`)"
            )
        )
        return ""
    number = env.pull_request.number
    try:
        with GitHubClient(
            env.api_url, env.token, env.repository, user_agent=f"loomgit/{__version__}"
        ) as gh:
            res = gh.upsert_comment(number, body, marker, create=create)
    except CommentForbidden as e:
        fork = (
            " (pull requests from forks get a read-only token)"
            if env.pull_request.from_fork
            else ""
        )
        notify(
            warning(
                f"cannot comment on pull request #{number}{fork}: {e}; "
                "the report is in the job summary"
            )
        )
        return ""
    except GitHubError as e:
        notify(
            warning(
                f"cannot comment on pull request #{number}: {e}; the report is in the job summary"
            )
        )
        return ""
    return (res.url or "") if res is not None else ""


ARTIFACT_URL = re.compile(r"^https?://[^\s()<>\[\]\"'`\\]+$")


def publish_comment(
    settings: CiSettings,
    env: ActionsEnv,
    environ: Mapping[str, str],
    path: Path,
    notify: Notify,
    artifact_url: str | None = None,
    secret_names: tuple[str, ...] = (),
) -> str:
    """``loomgit ci --comment-only``: the one pull-request comment from the report an
    earlier ``loomgit ci`` wrote at ``path`` (evaluating nothing), with a link to the
    workflow artifact it was uploaded in; the link also goes to the job summary. Writes
    the ``comment-url`` output and returns the URL ('' when no comment was written)."""
    if artifact_url and not ARTIFACT_URL.match(artifact_url):
        raise UsageError(f"artifact-url {artifact_url!r} is not an http(s) URL")
    try:
        markdown = path.read_text(encoding="utf-8")
        data = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(
            f"{path}: no report to comment with ({type(e).__name__}); run `loomgit ci` first"
        ) from None
    red = Redactor(environ, secret_names)
    notify = _redacting(notify, red)
    if artifact_url:
        markdown = pr_comment.link_artifact(markdown, artifact_url)
        if env.step_summary:
            write_summary(env.step_summary, f"\n{pr_comment.artifact_line(artifact_url)}\n")
    comment_url = ""
    if settings.comment and env.pull_request is not None and env.repository:
        marker = marker_for(settings.comment_key)
        comment_url = upsert_comment(
            env,
            marker,
            fit_comment(f"{marker}\n{red.text(markdown)}", summary_url=env.run_url),
            notify,
            create=bool(isinstance(data, dict) and data.get("prompts")),
        )
    elif settings.comment and env.in_actions and env.pull_request is None:
        notify(
            warning(
                f"no pull request in this {env.event_name or 'run'} event: "
                "the report is in the job summary only"
            )
        )
    if env.output:
        write_outputs(env.output, {"comment-url": comment_url})
    return comment_url


def report_failure(environ: Mapping[str, str], message: str) -> None:
    """The check could not run: say so in the summary and the outputs (when in Actions)."""
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
