"""One record of a batch run: its variables and messages, the model's answer, the JSON and
schema checks, the assertions and the gate. Each step's failure is an :class:`Outcome`
saying where (``stage``) and why (``reason``)."""

from __future__ import annotations

import asyncio
from typing import Any

from loomgit.batch.checks import schema_problem
from loomgit.batch.cost import Budget
from loomgit.batch.model import Outcome
from loomgit.batch.plan import Plan
from loomgit.errors import InfraError, LoomgitError
from loomgit.evals.assertions import AssertionError_, Observation, evaluate, parse_json
from loomgit.evals.assertions.tools import call_problem
from loomgit.evals.gates import Unit, holds
from loomgit.inputs.mapping import select_vars
from loomgit.inputs.record import Record


def prepare_record(
    plan: Plan, rec: Record
) -> tuple[Outcome | None, list[dict[str, Any]] | None, dict[str, Any] | None]:
    """(a finished outcome, or the messages and variables to send)."""
    if rec.error is not None:
        return Outcome(rec, "quarantine", "read", rec.error), None, None
    p = plan
    try:
        variables = select_vars(rec.data or {}, p.iface, p.opts.mapping, from_text=p.from_text)
    except ValueError as e:
        return Outcome(rec, "quarantine", "variables", str(e)), None, None
    try:
        messages = p.renderer.render(variables)
    except LoomgitError as e:
        stage = "variables" if "variable" in e.message and "template" not in e.message else "render"
        return Outcome(rec, "quarantine", stage, e.message, variables), None, None
    return None, messages, variables


async def call(
    plan: Plan,
    caller: Any,
    services: Any,
    rec: Record,
    messages: list[dict[str, Any]],
    variables: dict[str, Any],
    reserved: float,
) -> Outcome:
    p = plan
    budget: Budget = p.budget
    try:
        comp = await caller.complete(p.model, messages, p.send_params)
    except LoomgitError as e:
        budget.settle(reserved, 0.0)
        kind = "error" if isinstance(e, InfraError) else "quarantine"
        return Outcome(rec, kind, "model", str(e), variables)
    except asyncio.CancelledError:
        budget.settle(reserved, 0.0)
        raise
    except Exception as e:  # a provider bug must not lose the rest of the run
        budget.settle(reserved, 0.0)
        return Outcome(rec, "error", "model", f"internal error: {type(e).__name__}: {e}", variables)
    budget.settle(reserved, comp.cost_usd)
    o = Outcome(rec, "ok", vars=variables, completion=comp)
    prompt = p.prompt
    tools = p.send_params.get("tools")
    offered = tuple(t for t in tools if isinstance(t, dict)) if isinstance(tools, list) else ()
    for tc in comp.tool_calls:  # a call the caller could not make is not a result
        problem = call_problem(offered, tc)
        if problem:
            o.kind, o.stage, o.reason = "quarantine", "tool_call", f"tool call {tc.id}: {problem}"
            return o
    answered_by_tools = bool(comp.tool_calls) and not comp.text.strip()
    if prompt.output is not None and prompt.output.format == "json" and not answered_by_tools:
        ok, value, problem = parse_json(comp.text)
        if not ok:
            o.kind, o.stage, o.reason = "quarantine", "json", f"output is {problem}"
            return o
        o.parsed, o.has_parsed = value, True
        mismatch = schema_problem(p.schema, value)
        if mismatch:
            o.kind, o.stage = "quarantine", "schema"
            o.reason = f"output does not match the prompt's schema: {mismatch}"
            return o
    if p.asserts:
        obs = Observation(
            comp.text,
            comp.latency_ms,
            comp.cost_usd,
            comp.usage.input_tokens,
            comp.usage.output_tokens,
            variables,
            None,
            f"#{rec.index}",
            prompt.id,
            p.model,
            tuple(messages),
            comp.tool_calls,
            offered,
            p.prompt.output.schema if p.prompt.output is not None else None,
            comp.refusal,
        )
        try:
            results = [await evaluate(a, obs, services) for a in p.asserts]
        except (AssertionError_, LoomgitError) as e:
            o.kind, o.stage, o.reason = "error", "assertions", str(e)
            return o
        o.assertions = results
        weighted = [r for r in results if r.weight > 0]
        total = sum(r.weight for r in weighted)
        o.score = (sum(r.weight * r.score for r in weighted) / total) if total > 0 else 1.0
        units = [Unit(r.passed, r.score, r.weight) for r in weighted]
        if units and not holds(p.gate, units):
            failed = [r for r in results if not r.passed and r.weight > 0]
            o.kind, o.stage = "quarantine", "assertions"
            o.reason = (
                "; ".join(f"{r.kind}: {r.message}" for r in failed)
                or f"gate {p.gate.describe()} not met (score {o.score:.2f})"
            )
    return o
