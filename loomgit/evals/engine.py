"""Evaluating a workspace: run options from ``loomgit.yaml``, then run the chosen suites
and record the run.

This is the library entry point behind ``loomgit eval``::

    from loomgit.workspace import Workspace
    from loomgit.evals.engine import evaluate
    report = evaluate(Workspace("."), ["support/summarize"])
    report.exit_code, report.to_dict()

Choosing suites and targets lives in :mod:`loomgit.evals.targets` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from loomgit.errors import ConfigError
from loomgit.evals.models import make_caller
from loomgit.evals.records import record_report
from loomgit.evals.results import EvalReport
from loomgit.evals.runner import Progress, RunOptions, Target, run
from loomgit.evals.services import (
    EvalServices,
    config_allows_python,
    python_allowed,
    refuse_python,
)
from loomgit.evals.targets import (
    SUITE_SUFFIX,
    SuiteRef,
    changed_suite_refs,
    head_commit,
    load_suite_for,
    suite_refs,
    target,
    targets,
    verify_ref,
)
from loomgit.workspace import Workspace

__all__ = [
    "EVAL_KEYS",
    "SUITE_SUFFIX",
    "SuiteRef",
    "changed_suite_refs",
    "check_eval_config",
    "evaluate",
    "head_commit",
    "load_suite_for",
    "options_from_config",
    "suite_refs",
    "target",
    "targets",
    "verify_ref",
]

EVAL_KEYS = {
    "concurrency": "model calls at once (default 4)",
    "embedding_model": "provider/model for 'similar' (default: lexical similarity)",
    "judge_model": "provider/model for 'judge' (default: the model under test)",
    "judge_prompt": "prompt id of the judge's rubric prompt",
    "allow_python": "run python: assertions (local code; default false)",
}


def check_eval_config(sec: dict[str, object]) -> None:
    """``eval:`` in loomgit.yaml: known keys with values of the right kind."""
    for key, value in sec.items():
        if key not in EVAL_KEYS:
            raise ConfigError(
                f"eval: unknown setting {key!r}; known: {', '.join(EVAL_KEYS)}", path="loomgit.yaml"
            )
        if key == "concurrency":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(
                    "eval: concurrency must be a whole number of 1 or more", path="loomgit.yaml"
                )
        elif key == "allow_python":
            if not isinstance(value, bool):
                raise ConfigError("eval: allow_python must be true or false", path="loomgit.yaml")
        elif value is not None and not isinstance(value, str):
            raise ConfigError(f"eval: {key} must be a text", path="loomgit.yaml")


def options_from_config(ws: Workspace, **overrides: object) -> RunOptions:
    """Run options: ``eval:`` in loomgit.yaml, then the given overrides (None = unset)."""
    sec = ws.config.section("eval")
    check_eval_config(sec)
    opts = RunOptions(max_chars=ws.config.render_max_chars, timeout_s=ws.config.render_timeout_s)
    conc = sec.get("concurrency")
    if isinstance(conc, int) and not isinstance(conc, bool) and conc >= 1:
        opts = replace(opts, concurrency=conc)
    defaults = ws.config.section("defaults")
    if isinstance(defaults.get("model"), str):
        opts = replace(opts, default_model=defaults["model"])
    if isinstance(defaults.get("params"), dict):
        opts = replace(opts, default_params=tuple(defaults["params"].items()))
    given = {k: v for k, v in overrides.items() if v is not None and v != ()}
    return replace(opts, **given)  # type: ignore[arg-type]


def evaluate(
    ws: Workspace,
    ids: Sequence[str] | None = None,
    *,
    options: RunOptions | None = None,
    use_cache: bool = True,
    record: bool = True,
    progress: Progress | None = None,
    target_list: Sequence[Target] | None = None,
    mode: str = "live",
    allow_python: bool | None = None,
) -> EvalReport:
    """Run the suites of ``ids`` (all when empty) and record the run in runs.sqlite.

    ``mode`` is the provider layer's: ``live``, ``record`` (fill recordings) or ``replay``.
    ``allow_python``: whether ``python:`` assertions may run (None: ``LOOMGIT_ALLOW_PYTHON``,
    else ``eval: allow_python``, see :func:`~loomgit.evals.services.config_allows_python`);
    when they may not, a suite holding one is refused before anything runs."""
    opts = options or options_from_config(ws)
    tl = list(target_list) if target_list is not None else targets(ws, ids)
    if allow_python is None:
        allow_python = python_allowed(config=config_allows_python(ws))
    refuse_python((t.suite for t in tl), allow_python)
    report = run(
        tl,
        lambda: make_caller(ws, use_cache=use_cache, mode=mode),
        EvalServices(ws, allow_python=allow_python),
        opts,
        progress,
    )
    report.commit = head_commit(ws)
    if record:
        record_report(ws, report)
    return report
