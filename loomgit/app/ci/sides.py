"""The two sides of a pull request: each changed prompt's suite evaluated at the base
and at the head with the eval engine's compare, and the version bump between them."""

from __future__ import annotations

from dataclasses import replace

from loomgit._git import log
from loomgit._git.log import is_breaking
from loomgit.app.ci.changes import Range, changed_paths, prompt_id, selected, selected_id
from loomgit.app.ci.settings import CiSettings, EvalArgs
from loomgit.evals import engine
from loomgit.evals.compare import diff_reports, plan_compare
from loomgit.evals.results import CaseResult, SuiteResult
from loomgit.evals.runner import RunOptions, Target, models_for, parse_shard
from loomgit.history import classify
from loomgit.providers.errors import ProviderConfigError
from loomgit.providers.replay import store_from_config
from loomgit.report.ci_result import CaseChange, PromptChange, Side
from loomgit.workspace import Workspace


def eval_options(ws: Workspace, args: EvalArgs, offline: bool) -> RunOptions:
    """RunOptions from ``loomgit.yaml`` and ``args`` (``--model`` is dropped offline)."""
    return engine.options_from_config(
        ws,
        models=() if offline else args.models,
        repeat=args.repeat,
        concurrency=args.concurrency,
        cases=args.cases,
        shard=parse_shard(args.shard) if args.shard else None,
    )


def offline_suite(ws: Workspace, t: Target, opts: RunOptions, model: str = "") -> Target:
    """The target with its models replaced by ``model`` (the ``offline-model`` input) or,
    without one, by ``replay/<model>`` where recordings of that model exist in the
    repository, else ``echo``."""
    store = store_from_config(ws.config)
    models = []
    for m in models_for(t, opts):
        if m.split("/", 1)[0] in ("echo", "replay"):
            models.append(m)
        elif model:
            models.append(model)
        else:
            models.append(f"replay/{m}" if store.has_recordings(m) else "echo")
    return replace(t, suite=replace(t.suite, providers=tuple(dict.fromkeys(models))))


def evaluate_sides(
    ws: Workspace,
    rng: Range,
    settings: CiSettings,
    offline: bool,
    eval_args: EvalArgs,
    allow_python: bool = False,
) -> list[PromptChange]:
    """Evaluate the changed prompts at both sides with the eval engine's compare
    (a suite with a ``python:`` assertion is refused unless ``allow_python``)."""
    opts = eval_options(ws, eval_args, offline)
    use_cache = not eval_args.no_cache
    changed = changed_paths(ws.root, rng.base, rng.head)
    refs = [r for r in engine.changed_suite_refs(ws, rng.base) if selected(r, settings.prompts)]
    # a changed suite is evaluated even when the prompt renders the same: its cases changed
    suite_changed = [r for r in refs if r.suite_path in changed]
    others = [r for r in refs if r not in suite_changed]
    b1, h1, unchanged = plan_compare(ws, rng.base, others, opts, explicit=False)
    b2, h2, _ = plan_compare(ws, rng.base, suite_changed, opts, explicit=True)
    base_t, head_t = b1 + b2, h1 + h2
    if offline:
        base_t = [offline_suite(ws, t, opts, settings.offline_model) for t in base_t]
        head_t = [offline_suite(ws, t, opts, settings.offline_model) for t in head_t]
    try:
        base, head = (
            engine.evaluate(
                ws,
                options=opts,
                use_cache=use_cache,
                record=False,
                target_list=side,
                allow_python=allow_python,
            )
            for side in (base_t, head_t)
        )
    except ProviderConfigError as e:
        raise _in_ci(e) from None
    cmp = diff_reports(rng.base, base, head)

    by_id = {r.prompt.id: r for r in refs}
    base_targets = {t.prompt.id: t for t in base_t}
    head_targets = {t.prompt.id: t for t in head_t}
    out: list[PromptChange] = []
    base_suites = {(s.prompt, s.path): s for s in base.suites}
    changes = {(c.prompt, c.case, c.provider): c.change for c in cmp.cases}
    tests = {(c.prompt, c.case, c.provider): c.significance for c in cmp.cases}
    suite_tests = {p.prompt: p.significance for p in cmp.prompts}
    for hs in head.suites:
        ref = by_id.get(hs.prompt)
        path = ref.prompt.path if ref else hs.prompt
        bs = base_suites.get((hs.prompt, hs.path))
        before = {r.key: _base_case(r) for r in bs.cases} if bs else {}  # what the comment shows
        status = "added" if bs is None else "modified" if changed.get(path) else "suite"
        cases = []
        for r in hs.cases:
            b = before.get(r.key)
            hshown = r.shown_sample()
            cases.append(
                CaseChange(
                    r.case,
                    r.provider,
                    b[0] if b else None,
                    r.status,
                    b[1] if b else None,
                    r.score,
                    b[2] if b else None,
                    hshown.output if hshown else None,
                    b[3] if b else "",
                    r.why(),
                    r.line,
                    change=_KIND.get(changes.get(r.key, ""), ""),
                    significance=tests.get(r.key),
                    file=r.file,
                )
            )
        bump, reasons = version_bump(
            ws, rng, base_targets.get(hs.prompt), head_targets.get(hs.prompt)
        )
        out.append(
            PromptChange(
                hs.prompt,
                path,
                status,
                hs.path,
                side_of(bs),
                side_of(hs),
                bump,
                tuple(reasons),
                tuple(cases),
                significance=suite_tests.get(hs.prompt),
            )
        )
    for path, letter in sorted(changed.items()):
        pid = prompt_id(ws, path) if letter == "D" else None
        if pid is not None and (not settings.prompts or selected_id(pid, path, settings.prompts)):
            out.append(PromptChange(pid, path, "deleted", note="deleted in this pull request"))
    for pid in unchanged:
        ref = by_id[pid]
        out.append(
            PromptChange(
                pid,
                ref.prompt.path,
                "modified",
                ref.suite_path,
                note="renders the same messages, with the same model and "
                "params, as at the base: not evaluated",
            )
        )
    return sorted(out, key=lambda p: p.id)


def _in_ci(e: ProviderConfigError) -> ProviderConfigError:
    """A missing API key, with the fix that works in a pull-request check (``--model``
    is not an input of the action; ``offline`` is)."""
    message = e.message
    if "no API key" not in message:
        return e
    message = message.split(" (or use --model echo", 1)[0]
    return ProviderConfigError(
        f"{message}; in the workflow, pass the key to the loomgit step from a secret "
        "(env:), or evaluate offline: the action's input `offline: true` (`loomgit ci "
        "--offline true`), with `offline-model` choosing the model (default: replay "
        "where responses are recorded, else echo)",
        path=e.path,
        line=e.line,
    )


def version_bump(
    ws: Workspace, rng: Range, base: Target | None, head: Target | None
) -> tuple[str | None, list[str]]:
    """The version bump from the base's prompt to the head's, and why (history's rules;
    a ``BREAKING CHANGE`` in a pull request commit that touched the prompt forces major)."""
    if head is None:
        return None, []
    if base is None:
        return "initial", ["new prompt"]
    path = head.prompt.path
    messages = log.messages(ws.root, f"{rng.base}..{rng.head}", path)
    breaking = next((m for m in messages if is_breaking(m)), "")
    try:
        kind, reasons = classify(
            base.prompt, head.prompt, base.loader, head.loader, message=breaking
        )
    except Exception as e:  # a prompt the history module cannot read: say so, keep going
        return None, [f"no version diff: {type(e).__name__}: {e}"]
    return kind, list(reasons)


_KIND = {
    "regression": "regression",
    "fix": "fix",
    "same": "unchanged",
    "new": "new",
    "error": "error",
    "skipped": "unchanged",
}


def _base_case(r: CaseResult) -> tuple[str, float | None, str | None, str]:
    """What the comment shows of a base case: status, score, output, why."""
    shown = r.shown_sample()
    return r.status, r.score, shown.output if shown else None, r.why()


def side_of(s: SuiteResult | None) -> Side:
    if s is None:
        return Side()
    c = s.counts()
    costs = s.tally().costs  # every case's cost, in order (the cases stay in their spool)
    return Side(
        s.version, s.status, c["passed"], c["failed"], c["error"], sum(costs) if costs else None
    )
