"""One sample's work: send its messages (or run its conversation), then score the answer.

Provider failures become errors on the sample (never failures); :class:`Breaker` stops
sending to a model whose server is down so the rest of a run ends in seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from loomgit import tracing
from loomgit.errors import InfraError, LoomgitError
from loomgit.evals.assertions import (
    Assertion,
    AssertionError_,
    AssertionResult,
    Observation,
    Services,
    combine,
    evaluate,
)
from loomgit.evals.cases import CaseResult, Sample
from loomgit.evals.turns import Turn, converse, finish

if TYPE_CHECKING:
    from loomgit.providers.base import Completion


class ModelCaller(Protocol):
    """What the runner needs from the provider layer."""

    async def complete(
        self,
        model: str,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        *,
        sample: int = 0,
        label: str | None = None,
    ) -> Completion: ...

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]: ...

    async def aclose(self) -> None: ...


@dataclass
class Job:
    case: CaseResult
    sample: Sample
    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    asserts: tuple[Assertion, ...]
    vars: dict[str, Any]
    expected: Any
    turns: tuple[Turn, ...] = ()
    output_schema: dict[str, Any] | None = None
    done: Callable[[], None] | None = None  # called once the sample is scored


class Breaker:
    """Stops sending to a model after ``limit`` cases in a row ended in a provider error
    (a success in between starts the count again; rate limits do not count), so a server
    that is down ends the run in seconds: the remaining samples become errors at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.streak: dict[str, int] = {}
        self.down: dict[str, str] = {}

    def ok(self, model: str) -> None:
        self.streak[model] = 0

    def failed(self, model: str, error: LoomgitError) -> None:
        if getattr(error, "status", None) == 429:
            return
        n = self.streak.get(model, 0) + 1
        self.streak[model] = n
        if n >= self.limit and model not in self.down:
            self.down[model] = str(error)


async def _call(
    job: Job, messages: list[dict[str, Any]], caller: ModelCaller, breaker: Breaker
) -> Completion | str:
    """The model's answer, or the error that kept it from answering."""
    if job.model in breaker.down:
        return (
            f"not sent: the {breaker.limit} cases before it in a row ended in errors from "
            f"{job.model} (last: {breaker.down[job.model]})"
        )
    try:
        with tracing.prompt_context({"id": job.case.prompt, "version": job.case.version}):
            comp = await caller.complete(
                job.model,
                messages,
                job.params,
                sample=job.sample.index,
                label=f"{job.case.prompt} case {job.case.case!r}",
            )
    except LoomgitError as e:
        if isinstance(e, InfraError):
            breaker.failed(job.model, e)
        return str(e)
    except asyncio.CancelledError:
        raise
    except Exception as e:  # a bug in a provider must not lose the rest of the run
        return f"internal error: {type(e).__name__}: {e}"
    breaker.ok(job.model)
    return comp


def _observe(
    job: Job, comp: Completion, messages: list[dict[str, Any]], expected: Any
) -> Observation:
    usage = comp.usage
    tools = job.params.get("tools")
    return Observation(
        comp.text,
        comp.latency_ms,
        comp.cost_usd,
        usage.input_tokens,
        usage.output_tokens,
        job.vars,
        expected,
        job.case.case,
        job.case.prompt,
        job.model,
        tuple(messages),
        comp.tool_calls,
        tuple(t for t in tools if isinstance(t, dict)) if isinstance(tools, list) else (),
        job.output_schema,
        comp.refusal,
    )


async def _score(
    asserts: tuple[Assertion, ...], obs: Observation, services: Services
) -> list[AssertionResult] | str:
    try:
        return [await evaluate(a, obs, services) for a in asserts]
    except (AssertionError_, LoomgitError) as e:
        return str(e)


async def run_job(job: Job, caller: ModelCaller, services: Services, breaker: Breaker) -> None:
    s = job.sample
    if job.turns:

        async def call(history: list[dict[str, Any]]) -> Completion | str:
            return await _call(job, history, caller, breaker)

        async def score(
            turn: Turn, comp: Completion, history: list[dict[str, Any]]
        ) -> list[AssertionResult] | str:
            return await _score(turn.asserts, _observe(job, comp, history, turn.expected), services)

        finish(s, await converse(job.turns, job.messages, call, score))
        return
    comp = await _call(job, job.messages, caller, breaker)
    if isinstance(comp, str):
        s.error = comp
        return
    s.output, s.latency_ms, s.cost_usd, s.cached = (
        comp.text,
        comp.latency_ms,
        comp.cost_usd,
        comp.cached,
    )
    s.input_tokens, s.output_tokens = comp.usage.input_tokens, comp.usage.output_tokens
    s.tool_calls, s.refusal = [c.to_dict() for c in comp.tool_calls], comp.refusal
    results = await _score(job.asserts, _observe(job, comp, job.messages, job.expected), services)
    if isinstance(results, str):
        s.error = results
        return
    s.assertions = results
    s.passed, s.score = combine(s.assertions)
