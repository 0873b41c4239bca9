"""``loomgit ci``: the pull-request regression check behind the GitHub Action.

It finds the prompts a pull request changes (between its base and the checked-out head),
evaluates each on its suite at both sides with the eval engine's compare, and turns the
result into a :class:`~loomgit.report.ci_result.CiReport`: per prompt the version bump
and semantic diff, pass rate and gate before and after, the cases that regressed or were
fixed, cost, and the verdict ``fail_on`` gives them.

One module per step: :mod:`~loomgit.app.ci.settings` (what the workflow asked for),
:mod:`~loomgit.app.ci.changes` (the range and the changed prompts),
:mod:`~loomgit.app.ci.sides` (both sides evaluated), :mod:`~loomgit.app.ci.run` (the
whole check), :mod:`~loomgit.app.ci.publish` (report files, job summary, comment,
outputs, annotations). :mod:`loomgit.report.pr_comment` writes the Markdown and
:mod:`loomgit.github` talks to GitHub.
"""

from __future__ import annotations

from loomgit.app.ci.changes import Range, require_full_history, resolve_range
from loomgit.app.ci.publish import (
    Published,
    default_report_path,
    publish,
    publish_comment,
    report_failure,
)
from loomgit.app.ci.run import run_ci
from loomgit.app.ci.settings import (
    FAIL_ON,
    OFFLINE,
    PROVIDER_KEY_VARS,
    CiSettings,
    EvalArgs,
    offline_reason,
    provider_keys,
    python_flag,
    split_args,
    split_list,
)
from loomgit.app.ci.sides import eval_options
from loomgit.report.ci_result import CaseChange, CiReport, PromptChange, Side, decide

__all__ = [
    "FAIL_ON",
    "OFFLINE",
    "PROVIDER_KEY_VARS",
    "CaseChange",
    "CiReport",
    "CiSettings",
    "EvalArgs",
    "PromptChange",
    "Published",
    "Range",
    "Side",
    "decide",
    "default_report_path",
    "eval_options",
    "offline_reason",
    "provider_keys",
    "publish",
    "publish_comment",
    "python_flag",
    "report_failure",
    "require_full_history",
    "resolve_range",
    "run_ci",
    "split_args",
    "split_list",
]
