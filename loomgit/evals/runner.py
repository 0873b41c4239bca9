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
from loomgit.evals.spool import Spool, SpooledCases
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
    """The report to fill and the samples to run. ``jobs`` renders the cases as the
    workers ask for them, so at most ``concurrency`` of them are held at a time; every
    case result goes to the report's spool when its last sample is scored."""

    report: EvalReport
    jobs: Iterator[Job] = field(default_factory=lambda: iter(()))
    total: int = 0  # samples to run (a case that cannot render is taken off when found)
    models: tuple[str, ...] = ()  # the models some case will be sent to, in plan order


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


@dataclass(frozen=True)
class _Planned:
    target: Target
    suite: SuiteResult
    models: tuple[str, ...]
    params: dict[str, Any]


def _selected(
    planned: Sequence[_Planned], options: RunOptions, checked: bool = False
) -> Iterator[tuple[_Planned, Case]]:
    """Every case to run, in run order: ``--case`` names, then the shard's share.
    ``checked``: an earlier walk checked the data files (names need no second check)."""
    index = 0
    wanted = set(options.cases)
    for pl in planned:
        suite, variables = pl.target.suite, pl.target.prompt.variables
        for case in suite_cases(suite, variables=variables, unique=not checked):
            if wanted and case.name not in wanted:
                continue
            mine = in_shard(index, options.shard)
            index += 1
            if mine:
                yield pl, case


def plan(targets: Sequence[Target], options: RunOptions = RunOptions()) -> Plan:
    """Read every selected case once (data files streamed: a bad record stops the run
    here, before anything is sent) and count the samples; the cases are rendered and
    their samples laid out later, one case at a time, as :attr:`Plan.jobs` is read."""
    report = EvalReport(shard=options.shard)
    spool = Spool()
    planned: list[_Planned] = []
    for t in targets:
        suite, prompt = t.suite, t.prompt
        sres = SuiteResult(
            prompt.id,
            suite.path,
            parse_gate(suite.gate, suite.threshold),
            suite.distribution,
            cases=SpooledCases(spool),
            version=t.version,
            commit=t.commit,
            content_hash=prompt.content_hash,
        )
        report.suites.append(sres)
        planned.append(_Planned(t, sres, models_for(t, options), params_for(t, options)))
    p = Plan(report)
    models: dict[str, None] = {}
    for pl, case in _selected(planned, options):
        if not case.skip:
            repeat = options.repeat or case.repeat or pl.target.suite.repeat
            p.total += len(pl.models) * repeat
            models.update(dict.fromkeys(pl.models))
    p.models = tuple(models)
    p.jobs = _jobs(p, planned, options)
    return p


def _jobs(p: Plan, planned: Sequence[_Planned], options: RunOptions) -> Iterator[Job]:
    renderers: dict[int, CaseRenderer] = {}
    try:
        for pl, case in _selected(planned, options, checked=True):
            renderer = renderers.get(id(pl))
            if renderer is None:
                for r in renderers.values():  # one target at a time
                    r.close()
                renderers.clear()
                t = pl.target
                renderer = renderers[id(pl)] = CaseRenderer(
                    t.prompt, t.loader, max_chars=options.max_chars, timeout_s=options.timeout_s
                )
            yield from _plan_case(p, pl, case, renderer, options)
    finally:
        for r in renderers.values():
            r.close()


def _plan_case(
    p: Plan, pl: _Planned, case: Case, renderer: CaseRenderer, options: RunOptions
) -> list[Job]:
    t, sres, models = pl.target, pl.suite, pl.models
    suite = t.suite
    gate = sres.gate
    cases = sres.cases
    assert isinstance(cases, SpooledCases)
    repeat = options.repeat or case.repeat or suite.repeat
    results = [
        CaseResult(
            t.prompt.id, case.name, m, [], t.version, t.commit, suite.path, case.weight, case.line
        )
        for m in models
    ]
    slots = [cases.reserve() for _ in results]
    for r in results:
        r.file = case.file  # a data file's case: its file and line

    def finish(r: CaseResult, slot: int) -> None:
        r.finalize(gate)
        cases.fill(slot, r)

    if case.skip:
        for r, slot in zip(results, slots):
            r.status = "skipped"
            finish(r, slot)
        return []
    variables = suite.case_vars(case)
    try:
        messages = renderer.render(variables)
    except LoomgitError as e:
        for r, slot in zip(results, slots):  # the prompt (or the case) is broken: a failure
            r.samples = [
                Sample(i, None, False, 0.0, [AssertionResult("render", False, 0.0, 1.0, e.message)])
                for i in range(repeat)
            ]
            finish(r, slot)
        p.total -= len(results) * repeat
        return []
    asserts = tuple(compile_assertion(a) for a in suite.case_asserts(case))
    turns = compile_turns(case.turns, suite.default_asserts, case.expected)
    out = t.prompt.output
    schema = out.schema if out is not None and out.format == "json" else None
    jobs = []
    for r, slot in zip(results, slots):
        if not repeat:
            finish(r, slot)
            continue
        left = [repeat]

        def done(r: CaseResult = r, slot: int = slot, left: list[int] = left) -> None:
            left[0] -= 1
            if not left[0]:
                finish(r, slot)

        for i in range(repeat):
            s = Sample(i)
            r.samples.append(s)
            jobs.append(
                Job(
                    r,
                    s,
                    r.provider,
                    messages,
                    pl.params,
                    asserts,
                    variables,
                    case.expected,
                    turns,
                    schema,
                    done,
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
    done = 0
    breaker = Breaker(max(options.fail_fast_after, options.concurrency + 1))
    queue: Iterator[Job] = p.jobs
    if progress:
        progress(0, p.total)

    async def worker() -> None:
        nonlocal done
        mine = 0
        for job in queue:
            await run_job(job, caller, services, breaker)
            if job.done is not None:
                job.done()
            mine += 1
            if not mine % 128:  # back to the loop now and then even when nothing waited
                await asyncio.sleep(0)  # (an offline model): it drops finished calls' timers
            done += 1
            if progress:
                progress(done, p.total)

    n = max(1, min(options.concurrency, p.total))
    try:
        await asyncio.gather(*(worker() for _ in range(n)))
    finally:
        close = getattr(queue, "close", None)
        if close is not None:
            close()
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
                notes = prepare(dict.fromkeys(p.models), options.concurrency)
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
