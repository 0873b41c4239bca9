"""What a batch run writes per record: the output line of a passing record and the
quarantine line of a failing one (with the reason), each with its lineage."""

from __future__ import annotations

from typing import Any

from loomgit.batch.checks import shown
from loomgit.batch.model import BatchSummary, Outcome
from loomgit.batch.plan import Plan


def lineage_of(o: Outcome, plan: Plan, s: BatchSummary) -> dict[str, Any]:
    """Where the answer came from: run, prompt version, model and params, and its cost."""
    c = o.completion
    lin: dict[str, Any] = {
        "run_id": s.run_id,
        "prompt": s.prompt,
        "version": s.version,
        "content_hash": s.content_hash,
        "commit": s.commit,
        "model": plan.model,
        "params": plan.params,
    }
    if c is not None:
        lin.update(
            {
                "latency_ms": round(c.latency_ms, 3),
                "tokens": {"input": c.usage.input_tokens, "output": c.usage.output_tokens},
                "cost_usd": c.cost_usd,
                "cached": c.cached,
            }
        )
    if plan.opts.pipeline:
        lin["pipeline"] = plan.opts.pipeline
    return lin


def ok_line(o: Outcome, plan: Plan, s: BatchSummary) -> dict[str, Any]:
    rec, c = o.record, o.completion
    line: dict[str, Any] = {
        "index": rec.index,
        "line": rec.line,
        "input": rec.data,
        "output": c.text if c else None,
        **_calls(o),
    }
    if o.has_parsed:
        line["json"] = o.parsed
    if o.score is not None:
        line["score"] = round(o.score, 6)
    if o.assertions:
        line["assertions"] = [_assertion_dict(a) for a in o.assertions]
    line["lineage"] = lineage_of(o, plan, s)
    return line


def quarantine_line(o: Outcome, plan: Plan, s: BatchSummary) -> dict[str, Any]:
    rec, c = o.record, o.completion
    q: dict[str, Any] = {
        "index": rec.index,
        "kind": o.kind,
        "line": rec.line,
        "source": f"{shown(plan.opts.input)}:{rec.line}",
        "stage": o.stage,
        "reason": o.reason,
    }
    if rec.data is not None:
        q["input"] = rec.data
    elif rec.raw is not None:
        q["raw"] = rec.raw
    if c is not None:
        q["output"] = c.text
        q.update(_calls(o))
    if o.has_parsed:
        q["json"] = o.parsed
    if o.score is not None:
        q["score"] = round(o.score, 6)
    if o.assertions:
        q["assertions"] = [_assertion_dict(a) for a in o.assertions]
    if c is not None or o.kind == "error":
        q["lineage"] = lineage_of(o, plan, s)
    return q


def _assertion_dict(a: Any) -> dict[str, Any]:
    d: dict[str, Any] = dict(a.to_dict())
    d.pop("value", None)
    return d


def _calls(o: Outcome) -> dict[str, Any]:
    """The answer's tool calls (``arguments`` parsed; ``arguments_text`` and ``error``
    when they did not parse) and refusal, when it has them."""
    c = o.completion
    d: dict[str, Any] = {}
    if c is not None and c.tool_calls:
        d["tool_calls"] = [t.to_dict() for t in c.tool_calls]
    if c is not None and c.refusal is not None:
        d["refusal"] = c.refusal
    return d
