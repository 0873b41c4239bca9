"""The eval runner: render every case, call the models concurrently, score the answers.

Work is one *sample* per (case, provider, repeat index). A fixed number of workers
(``concurrency``) pull samples from one queue, so memory stays flat for large suites.
Provider failures become errors on the sample (never failures); a prompt that cannot
render a case's variables is a failure of that case (the prompt or the case is broken).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loomgit.errors import LoomgitError, UsageError
from loomgit.evals.assertions import (
    AssertionResult,
    Services,
    compile_assertion,
)
from loomgit.evals.datasets import suite_cases
from loomgit.evals.gates import parse_gate
from loomgit.evals.jobs import Breaker, Job, ModelCaller, run_job
from loomgit.evals.rendering import CaseRenderer
from loomgit.evals.results import CaseResult, EvalReport, Sample, SuiteResult
from loomgit.evals.turns import compile_turns

if TYPE_CHECKING:
    from loomgit.evals.suite_model import Case, Suite
    from loomgit.prompt.model import Prompt
    from loomgit.prompt.render import IncludeLoader

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Target:
    """A prompt (at some version) and the suite to run on it."""

    prompt: Prompt
    suite: Suite
    loader: IncludeLoader | None = None
    version: str | None = None
    commit: str | None = None


@dataclass(frozen=True)
class RunOptions:
    models: tuple[str, ...] = ()  # --model: replaces the suite's providers
    repeat: int | None = None  # --repeat: replaces the suite's and cases' repeat
    concurrency: int = 4
    shard: tuple[int, int] | None = None  # (i, n), 1-based
    cases: tuple[str, ...] = ()  # only these case names (all when empty)
    max_chars: int | None = None
    timeout_s: float | None = None
    fail_fast_after: int = 8  # consecutive provider errors that mark a model unreachable
    default_model: str | None = None  # loomgit.yaml defaults.model
    default_params: tuple[tuple[str, Any], ...] = ()  # loomgit.yaml defaults.params


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4); a :class:`UsageError` names what is wrong."""
    i, sep, n = text.partition("/")
    try:
        a, b = int(i), int(n)
    except ValueError:
        a = b = 0
    if not sep or b < 1 or not 1 <= a <= b:
        raise UsageError(f"--shard {text!r}: expected I/N with 1 <= I <= N, as in 1/4")
    return a, b


def in_shard(index: int, shard: tuple[int, int] | None) -> bool:
    """Case ``index`` (0-based, in run order) belongs to shard ``(i, n)`` when
    ``index mod n == i - 1``: round-robin, so shards get equal numbers of cases."""
    return shard is None or index % shard[1] == shard[0] - 1


@dataclass
class Plan:
    report: EvalReport
    jobs: list[Job] = field(default_factory=list)


def models_for(target: Target, options: RunOptions) -> tuple[str, ...]:
    """--model, else the suite's providers, else the prompt's model, else defaults.model."""
    single = target.prompt.model or options.default_model
    models = options.models or target.suite.providers or ((single,) if single else ())
    if not models:
        raise UsageError(
            f"{target.suite.path}: no model to run: set 'model:' in "
            f"{target.prompt.path}, 'providers:' in the suite, "
            "defaults: {model: ...} in loomgit.yaml, or pass --model"
        )
    return tuple(dict.fromkeys(models))


def params_for(target: Target, options: RunOptions) -> dict[str, Any]:
    """loomgit.yaml defaults.params, under the prompt's params, under the suite's."""
    return {**dict(options.default_params), **target.prompt.call_params(), **target.suite.params}


def plan(targets: Sequence[Target], options: RunOptions = RunOptions()) -> Plan:
    """Render every selected case and lay out the samples to run."""
    report = EvalReport(shard=options.shard)
    jobs: list[Job] = []
    index = 0
    wanted = set(options.cases)
    for t in targets:
        suite, prompt = t.suite, t.prompt
        sres = SuiteResult(
            prompt.id,
            suite.path,
            parse_gate(suite.gate, suite.threshold),
            suite.distribution,
            version=t.version,
            commit=t.commit,
            content_hash=prompt.content_hash,
        )
        report.suites.append(sres)
        models = models_for(t, options)
        params = params_for(t, options)
        renderer = CaseRenderer(
            prompt, t.loader, max_chars=options.max_chars, timeout_s=options.timeout_s
        )
        try:
            for case in suite_cases(suite, variables=prompt.variables):  # data files streamed
                if wanted and case.name not in wanted:
                    continue
                mine = in_shard(index, options.shard)
                index += 1
                if not mine:
                    continue
                jobs += _plan_case(t, case, sres, models, params, renderer, options)
        finally:
            renderer.close()
    return Plan(report, jobs)


def _plan_case(
    t: Target,
    case: Case,
    sres: SuiteResult,
    models: tuple[str, ...],
    params: dict[str, Any],
    renderer: Any,
    options: RunOptions,
) -> list[Job]:
    suite = t.suite
    repeat = options.repeat or case.repeat or suite.repeat
    results = [
        CaseResult(
            t.prompt.id, case.name, m, [], t.version, t.commit, suite.path, case.weight, case.line
        )
        for m in models
    ]
    for r in results:
        r.file = case.file  # a data file's case: its file and line
    sres.cases += results
    if case.skip:
        for r in results:
            r.status = "skipped"
        return []
    variables = suite.case_vars(case)
    try:
        messages = renderer.render(variables)
    except LoomgitError as e:
        for r in results:  # the prompt (or the case) is broken: a failure, not an error
            r.samples = [
                Sample(i, None, False, 0.0, [AssertionResult("render", False, 0.0, 1.0, e.message)])
                for i in range(repeat)
            ]
        return []
    asserts = tuple(compile_assertion(a) for a in suite.case_asserts(case))
    turns = compile_turns(case.turns, suite.default_asserts, case.expected)
    out = t.prompt.output
    schema = out.schema if out is not None and out.format == "json" else None
    jobs = []
    for r in results:
        for i in range(repeat):
            s = Sample(i)
            r.samples.append(s)
            jobs.append(
                Job(
                    r,
                    s,
                    r.provider,
                    messages,
                    params,
                    asserts,
                    variables,
                    case.expected,
                    turns,
                    schema,
                )
            )
    return jobs


async def execute(
    p: Plan,
    caller: ModelCaller,
    services: Services,
    options: RunOptions = RunOptions(),
    progress: Progress | None = None,
) -> EvalReport:
    """Run the planned samples with ``options.concurrency`` workers; returns the report
    with gates and distribution checks decided."""
    started = time.monotonic()
    total = len(p.jobs)
    done = 0
    breaker = Breaker(max(options.fail_fast_after, options.concurrency + 1))
    queue: Iterator[Job] = iter(p.jobs)
    if progress:
        progress(0, total)

    async def worker() -> None:
        nonlocal done
        for job in queue:
            await run_job(job, caller, services, breaker)
            done += 1
            if progress:
                progress(done, total)

    n = max(1, min(options.concurrency, total))
    await asyncio.gather(*(worker() for _ in range(n)))
    p.report.duration_s = time.monotonic() - started
    return p.report.finalize()


def run(
    targets: Sequence[Target],
    caller_factory: Callable[[], ModelCaller],
    services: Services,
    options: RunOptions = RunOptions(),
    progress: Progress | None = None,
) -> EvalReport:
    """Plan and execute in a fresh event loop (the synchronous entry point)."""
    started = time.monotonic()
    p = plan(targets, options)

    async def main() -> None:  # the report stays in ``p``: asyncio.run (Python 3.11) may
        # format the main task's repr, result included, when it restores the SIGINT handler
        caller = caller_factory()
        if hasattr(services, "bind"):
            services.bind(caller)
        try:
            prepare = getattr(caller, "prepare", None)
            notes: list[str] = []
            if prepare is not None:  # setup errors (missing key...) stop the run here
                notes = prepare(dict.fromkeys(j.model for j in p.jobs), options.concurrency)
                p.report.notes += notes or []
            report = await execute(p, caller, services, options, progress)
            said = getattr(caller, "notes", None)  # e.g. output schema sent as instructions
            if callable(said):
                report.notes += [n for n in said() if n not in report.notes]
            pace = getattr(caller, "pace", None)
            if pace is not None:
                report.pace += pace()
        finally:
            await caller.aclose()

    asyncio.run(main())
    report = p.report
    report.duration_s = time.monotonic() - started
    return report
