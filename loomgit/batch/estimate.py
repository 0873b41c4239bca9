"""Cost estimates for a workspace before a run: every record of an input file (or every
case of the prompt's suite) rendered and its tokens priced per model (see
:mod:`loomgit.batch.cost` for how tokens are counted)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from loomgit.batch.checks import prompt_suite
from loomgit.batch.cost import (
    Estimate,
    OutputBasis,
    estimate,
    message_tokens,
    output_basis,
)
from loomgit.batch.prices import Price, price_for
from loomgit.batch.usage import recorded_output_tokens
from loomgit.errors import LoomgitError, UsageError
from loomgit.evals.data_source import worktree_opener
from loomgit.evals.datasets import suite_cases
from loomgit.evals.rendering import CaseRenderer
from loomgit.inputs.mapping import check_mapping, select_vars
from loomgit.inputs.reader import RecordReader
from loomgit.prompt.render import interface
from loomgit.refs import resolve


def _models_and_bases(
    ws: Any, prompt: Any, models: Sequence[str], params: Mapping[str, Any]
) -> list[tuple[str, Price | None, OutputBasis]]:
    chosen = list(dict.fromkeys(models)) or ([prompt.model] if prompt.model else [])
    if not chosen:
        raise UsageError(f"no model for {prompt.id}: set 'model:' in {prompt.path} or pass --model")
    out = []
    for m in chosen:
        recorded = None
        try:
            recorded = recorded_output_tokens(ws, prompt.id, m)
        except Exception:  # no records database: estimate from max_tokens
            recorded = None
        out.append((m, price_for(ws, m), output_basis(params.get("max_tokens"), recorded)))
    return out


def estimate_input(
    ws: Any,
    ref: str,
    input_path: str,
    *,
    fmt: str | None = None,
    mapping: Mapping[str, str] | None = None,
    models: Sequence[str] = (),
    budget: float | None = None,
    limit: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> Estimate:
    """Render every record of ``input_path`` (streaming) and price the run per model."""
    res = resolve(ws, ref)
    prompt = res.prompt
    iface = interface(prompt, res.loader)
    if prompt.variables is None:
        prompt = replace(prompt, variables=iface)
    mapping = dict(mapping or {})
    merged = {**prompt.params, **dict(params or {})}
    records = skipped = tokens = 0
    problems: list[str] = []
    with RecordReader(input_path, fmt) as reader:
        it = iter(reader)
        first = next(it, None)
        check_mapping(iface, mapping, reader.columns, prompt.id, input_path)
        from_text = reader.format in ("csv", "tsv")
        renderer = CaseRenderer(
            prompt,
            res.loader,
            max_chars=ws.config.render_max_chars,
            timeout_s=ws.config.render_timeout_s,
        )
        try:
            stream = _chain_first(first, it)
            for rec in stream:
                if limit is not None and rec.index > limit:
                    break
                reason = rec.error
                if reason is None:
                    try:
                        values = select_vars(rec.data or {}, iface, mapping, from_text=from_text)
                        tokens += message_tokens(renderer.render(values))
                        records += 1
                        continue
                    except (ValueError, LoomgitError) as e:
                        reason = getattr(e, "message", None) or str(e)
                skipped += 1
                if len(problems) < 5:
                    problems.append(f"{input_path}:{rec.line}: {reason}")
        finally:
            renderer.close()
    return estimate(
        prompt.id,
        res.version,
        input_path,
        records,
        skipped,
        tokens,
        _models_and_bases(ws, prompt, models, merged),
        budget,
        problems,
    )


def _chain_first(first: Any, rest: Any) -> Any:
    if first is not None:
        yield first
    yield from rest


def estimate_cases(
    ws: Any, ref: str, *, models: Sequence[str] = (), budget: float | None = None
) -> Estimate:
    """Price an eval of the prompt's suite: every case x repeat x model."""
    res = resolve(ws, ref)
    prompt = res.prompt
    suite, rel = prompt_suite(ws, prompt)
    if suite is None:
        raise UsageError(f"{prompt.id} has no test suite ({rel}); use --input FILE")
    chosen = list(models) or list(suite.providers)
    params = {**prompt.params, **suite.params}
    requests = skipped = tokens = 0
    problems: list[str] = []
    renderer = CaseRenderer(
        prompt,
        res.loader,
        max_chars=ws.config.render_max_chars,
        timeout_s=ws.config.render_timeout_s,
    )
    try:
        for case in suite_cases(suite, worktree_opener(ws.root), prompt.variables):
            if getattr(case, "skip", False):
                continue
            repeat = getattr(case, "repeat", None) or suite.repeat or 1
            try:
                t = message_tokens(renderer.render(suite.case_vars(case)))
            except LoomgitError as e:
                skipped += 1
                problems.append(f"{case.file or rel}:{case.line}: case {case.name!r}: {e.message}")
                continue
            requests += repeat
            tokens += t * repeat
    finally:
        renderer.close()
    return estimate(
        prompt.id,
        res.version,
        f"cases of {rel}",
        requests,
        skipped,
        tokens,
        _models_and_bases(ws, prompt, chosen, params),
        budget,
        problems[:5],
    )
