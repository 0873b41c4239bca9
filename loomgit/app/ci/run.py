"""``loomgit ci`` from start to verdict: the range, the environment's offline and
``python:`` decisions, both sides evaluated, the result assembled."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from loomgit.app.ci.changes import resolve_range
from loomgit.app.ci.settings import (
    CiSettings,
    EvalArgs,
    base_allows_python,
    offline_reason,
    python_flag,
)
from loomgit.app.ci.sides import evaluate_sides
from loomgit.github import ActionsEnv, Annotation, redact
from loomgit.prompt.discover import ambiguous_id, duplicate_ids
from loomgit.prompt.includes import commit_loader, include_roots
from loomgit.report.ci_result import CiReport
from loomgit.workspace import Workspace


def warning(message: str) -> Annotation:
    """A warning for the job's log, with secret values taken out."""
    return Annotation("warning", redact(message))


def run_ci(
    ws: Workspace,
    settings: CiSettings,
    env: ActionsEnv,
    environ: Mapping[str, str],
    eval_args: EvalArgs | None = None,
    notify: Callable[[Annotation], None] | None = None,
) -> CiReport:
    """Compare the pull request's head with its base and return the report (``notify``
    receives the warnings for the job's log)."""
    if env.event_name == "pull_request_target" and notify is not None:
        notify(
            warning(
                "running on pull_request_target: this workflow has the base repository's "
                "secrets, so it must not check out or run the pull request's code "
                "(see loomgit's docs/ci.md); prefer `on: pull_request`"
            )
        )
    rng = resolve_range(ws.root, env, settings.base)
    # the head side's includes are the blobs of the head commit, never the work tree
    ws.loader = commit_loader(ws.root, rng.head, include_roots(ws.config))
    offline = offline_reason(settings, env, environ, ws)
    allowed = python_flag(settings, env, environ, base_allows_python(ws, rng.base))
    prompts = evaluate_sides(
        ws, rng, settings, offline is not None, eval_args or EvalArgs(), allowed
    )
    shared = duplicate_ids(ws.files())
    conflicts = [ambiguous_id(i, [pf.path for pf in fs]).message for i, fs in shared.items()]
    return CiReport(
        rng.base,
        rng.head,
        rng.base_label,
        rng.head_label,
        settings.fail_on,
        tuple(prompts),
        offline,
        allowed,
        conflicts=tuple(sorted(conflicts)),
    )
