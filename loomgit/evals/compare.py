"""``loomgit eval --compare BASE``: the changed prompts at BASE and in the working tree,
evaluated on the same cases (the working tree's suites), then compared case by case
(:mod:`loomgit.evals.comparison` says how).

A prompt is *changed* when its file is new or when, for some case, the messages it renders,
its model or its params differ between BASE and the working tree (so a change to an
included partial counts, and an edit that renders the same does not).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from loomgit._git import index
from loomgit.errors import LoomgitError, RefError, UsageError
from loomgit.evals.comparison import (
    FAIL_ON,
    CaseChange,
    Comparison,
    PromptChange,
    classify,
    diff_reports,
)
from loomgit.evals.datasets import suite_cases
from loomgit.evals.engine import evaluate, options_from_config
from loomgit.evals.records import record_report
from loomgit.evals.rendering import CaseRenderer
from loomgit.evals.runner import RunOptions, Target, models_for, params_for
from loomgit.evals.targets import (
    SuiteRef,
    head_commit,
    load_suite_for,
    suite_changed,
    suite_refs,
    target,
    verify_ref,
)
from loomgit.workspace import Workspace

__all__ = [
    "FAIL_ON",
    "CaseChange",
    "Comparison",
    "PromptChange",
    "classify",
    "compare",
    "diff_reports",
    "plan_compare",
]


def _fingerprint(t: Target, options: RunOptions) -> str:
    """What reaches the model for every case (rendered messages, model, params), as one
    digest: the cases are rendered one at a time and nothing of them is kept."""
    renderer = CaseRenderer(
        t.prompt, t.loader, max_chars=options.max_chars, timeout_s=options.timeout_s
    )
    try:
        models: tuple[str, ...] = models_for(t, options)
    except UsageError:
        models = ()
    h = hashlib.sha256()

    def add(x: Any) -> None:
        text = repr(x).encode("utf-8", "surrogatepass")
        h.update(len(text).to_bytes(8, "big") + text)  # framed: no two lists hash alike

    add(models)
    add(sorted(params_for(t, options).items(), key=str))
    try:
        for case in suite_cases(t.suite, variables=t.prompt.variables):
            try:
                add(renderer.render(t.suite.case_vars(case)))
            except LoomgitError as e:
                add(("error", e.message))
    finally:
        renderer.close()
    return h.hexdigest()


def plan_compare(
    ws: Workspace,
    base_ref: str,
    refs: Sequence[SuiteRef],
    options: RunOptions,
    *,
    explicit: bool = False,
) -> tuple[list[Target], list[Target], list[str]]:
    """(base targets, head targets, unchanged prompt ids) for the suites ``refs``."""
    sha = verify_ref(ws, base_ref)
    commit = head_commit(ws)
    changed = index.changed_since(ws.root, sha)
    base_t: list[Target] = []
    head_t: list[Target] = []
    unchanged: list[str] = []
    for ref in refs:
        suite = load_suite_for(ws, ref)
        head = target(ws, ref, suite, commit=commit)
        try:
            base = target(ws, ref, suite, at=sha, commit=sha)
        except RefError:
            head_t.append(head)  # new since BASE: evaluated on its own
            continue
        # a changed suite (its file or a data file) is evaluated: its cases changed
        if (
            not explicit
            and not suite_changed(ws, ref, changed)
            and _fingerprint(base, options) == _fingerprint(head, options)
        ):
            unchanged.append(ref.prompt.id)
            continue
        base_t.append(base)
        head_t.append(head)
    return base_t, head_t, unchanged


def compare(
    ws: Workspace,
    base_ref: str,
    ids: Sequence[str] | None = None,
    *,
    options: RunOptions | None = None,
    use_cache: bool = True,
    record: bool = True,
    progress: Any = None,
    mode: str = "live",
    allow_python: bool | None = None,
    fail_on: str = "regression",
) -> Comparison:
    """Evaluate the changed prompts (or the named ones) at ``base_ref`` and now; the
    verdict follows ``fail_on`` (see :mod:`loomgit.evals.comparison`)."""
    opts = options or options_from_config(ws)
    refs = suite_refs(ws, ids)
    base_t, head_t, unchanged = plan_compare(ws, base_ref, refs, opts, explicit=bool(ids))
    base = evaluate(
        ws,
        options=opts,
        use_cache=use_cache,
        record=False,
        progress=progress,
        target_list=base_t,
        mode=mode,
        allow_python=allow_python,
    )
    base.commit = verify_ref(ws, base_ref)
    head = evaluate(
        ws,
        options=opts,
        use_cache=use_cache,
        record=False,
        progress=progress,
        target_list=head_t,
        mode=mode,
        allow_python=allow_python,
    )
    if record:
        if base_t:
            record_report(ws, base, kind="compare-base")
        if head_t:
            record_report(ws, head, kind="compare-head")
    cmp = diff_reports(base_ref, base, head, fail_on)
    cmp.unchanged = unchanged
    return cmp
