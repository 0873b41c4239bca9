"""``loomgit run``: a prompt over a dataset, record by record.

For each input record: take the prompt's variables from it, render, call the model, parse
and validate JSON output against the prompt's schema (when its output format is json),
apply the assertions and the gate. Passing records go to the output file, failing ones to
the quarantine file with the reason; records the infrastructure failed (provider down)
are *errors*, also written to the quarantine file (``kind: error``) and tried again by
``--resume``. At the end ``records = ok + quarantined + errors (+ not run, when stopped)``.

Memory stays constant: records are read one at a time and at most ``concurrency``
requests are in flight. Each result is appended as one line at once; the files are
fsync'd and a checkpoint written every ``checkpoint_every`` records or seconds. Ctrl-C
(or SIGTERM) stops taking new records, cancels the requests in flight (they were not
finished, so ``--resume`` does them) and writes a last checkpoint.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from loomgit import tracing
from loomgit.batch.cost import Budget, message_tokens
from loomgit.batch.model import (
    EXIT_INTERRUPTED,
    BatchOptions,
    BatchSummary,
    Outcome,
    Progress,
)
from loomgit.batch.outputs import save_checkpoint
from loomgit.batch.plan import Plan, batch_python_allowed, prepare
from loomgit.batch.record import call, prepare_record
from loomgit.batch.records import record_batch
from loomgit.batch.result_lines import ok_line, quarantine_line
from loomgit.errors import LoomgitError
from loomgit.evals.services import EvalServices
from loomgit.inputs.record import Record
from loomgit.providers.client import ModelClient
from loomgit.workspace import Workspace

__all__ = [
    "EXIT_INTERRUPTED",
    "BatchOptions",
    "BatchSummary",
    "Progress",
    "default_caller",
    "run_batch",
]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class _Runner:
    def __init__(
        self,
        plan: Plan,
        summary: BatchSummary,
        records: Iterator[Record],
        caller: Any,
        services: Any,
        progress: Progress | None,
    ) -> None:
        self.plan, self.s, self.records = plan, summary, records
        self.caller, self.services, self.progress = caller, services, progress
        self.opts = plan.opts
        assert plan.out_log is not None and plan.q_log is not None  # opened by prepare()
        self.out_log, self.q_log = plan.out_log, plan.q_log
        self.streak = 0
        self.since_ckpt = 0
        self.last_ckpt = time.monotonic()
        self.last_progress = 0.0
        self.stop: str | None = None
        self.in_flight: set[asyncio.Task[Outcome]] = set()
        self.interrupts = 0

    # -- bookkeeping ----------------------------------------------------------------

    def write(self, o: Outcome) -> None:
        s = self.s
        c = o.completion
        if c is not None:
            s.input_tokens += c.usage.input_tokens
            s.output_tokens += c.usage.output_tokens
            s.cost_usd += c.cost_usd or 0.0
            s.latency_sum += c.latency_ms
            s.answered += 1
            if o.kind != "error":
                s.judged += 1
        if o.score is not None:
            s.score_sum += o.score
            s.scored += 1
        if o.kind == "ok":
            self.out_log.append(ok_line(o, self.plan, s))
            s.ok += 1
        else:
            self.q_log.append(quarantine_line(o, self.plan, s))
            if o.kind == "error":
                s.errors += 1
            else:
                s.quarantined += 1
                s.reasons[o.stage] += 1
        s.processed += 1
        self.since_ckpt += 1
        now = time.monotonic()
        if (
            self.since_ckpt >= self.opts.checkpoint_every
            or now - self.last_ckpt >= self.opts.checkpoint_seconds
        ):
            self.checkpoint()
        if self.progress is not None and now - self.last_progress >= 0.1:
            self.last_progress = now
            self.report_progress()

    def report_progress(self) -> None:
        if self.progress is None:
            return
        reader = self.plan.reader
        pos = reader.position() if reader is not None else None
        self.progress(self.s, pos or 0, self.plan.input_size)

    def checkpoint(self, final: bool = False) -> None:
        p, s = self.plan, self.s
        self.out_log.sync()
        self.q_log.sync()
        data = {
            **p.identity,
            "run_id": s.run_id,
            "started_at": s.started_at,
            "updated_at": _now(),
            "output": s.output,
            "quarantine": s.quarantine,
            "offsets": {"output": self.out_log.size(), "quarantine": self.q_log.size()},
            "progress": {
                "records": s.records,
                "ok": s.ok,
                "quarantined": s.quarantined,
                "errors": s.errors,
                "cost_usd": round(s.cost_usd, 9),
            },
        }
        if final:
            data["status"] = s.status
        save_checkpoint(p.ckpt_path, data)
        self.since_ckpt = 0
        self.last_ckpt = time.monotonic()

    # -- the loop -------------------------------------------------------------------

    def _on_signal(self) -> None:
        self.interrupts += 1
        self.stop = "interrupted"
        self.s.stop_detail = "stopped by a signal (Ctrl-C or SIGTERM)"
        for t in self.in_flight:
            t.cancel()

    def _finished(self, task: asyncio.Task[Outcome]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            raise exc
        o = task.result()
        if o.kind == "error" and o.stage == "model":
            self.streak += 1
            if self.streak >= self.opts.max_consecutive_errors and self.stop is None:
                self.stop = "provider"
                self.s.stop_detail = f"{self.streak} provider errors in a row; last: {o.reason}"
        elif o.completion is not None:
            self.streak = 0
        self.write(o)

    async def _wait_one(self) -> None:
        done, _ = await asyncio.wait(self.in_flight, return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            self.in_flight.discard(t)
            self._finished(t)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        self.checkpoint()  # from the first record on, --resume knows this run
        try:
            await self._loop()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def _loop(self) -> None:
        s, opts, p = self.s, self.opts, self.plan
        budget: Budget = p.budget
        try:
            for rec in self.records:
                if self.stop is not None:
                    break
                if opts.limit is not None and rec.index > opts.limit:
                    self.stop = "limit"
                    break
                s.records = max(s.records, rec.index)
                if rec.index in p.done:
                    s.resumed += 1
                    continue
                finished, messages, variables = prepare_record(p, rec)
                if finished is not None:
                    self.write(finished)
                    continue
                assert messages is not None and variables is not None
                reserved = budget.reserve(message_tokens(messages))
                if reserved is None:
                    self.stop = "budget"
                    s.records = rec.index
                    s.stop_detail = (
                        f"the next record could cost up to "
                        f"${budget.worst_case(message_tokens(messages)):.4f}, over "
                        f"the budget of ${budget.limit:.4f} (spent "
                        f"${budget.spent:.4f})"
                    )
                    break
                while len(self.in_flight) >= opts.concurrency:
                    await self._wait_one()
                    if self.stop == "interrupted":
                        break
                if self.stop == "interrupted":
                    budget.settle(reserved, 0.0)
                    break
                task = asyncio.ensure_future(
                    traced(
                        p, call(p, self.caller, self.services, rec, messages, variables, reserved)
                    )
                )
                self.in_flight.add(task)
                await asyncio.sleep(0)
            while self.in_flight:
                await self._wait_one()
        finally:
            if self.in_flight:  # interrupted: cancel, keep what finished meanwhile
                for t in self.in_flight:
                    t.cancel()
                await asyncio.gather(*self.in_flight, return_exceptions=True)
                for t in list(self.in_flight):
                    if t.done() and not t.cancelled() and t.exception() is None:
                        self.write(t.result())
                self.in_flight.clear()


async def traced(p: Any, work: Awaitable[Outcome]) -> Outcome:
    """``work`` (one record's request) in a span ``loomgit.run {id}`` with the prompt's
    lineage, which the provider's span carries too."""
    if not tracing.enabled():
        return await work
    ident = p.identity
    who = {
        "id": ident["prompt"],
        "version": ident["version"],
        "content_hash": ident["content_hash"],
    }
    attrs = {**tracing.lineage_attributes(who), "gen_ai.request.model": p.model}
    with (
        tracing.prompt_context(who),
        tracing.span(f"loomgit.run {ident['prompt']}", attributes=attrs) as s,
    ):
        o = await work
        tracing.set_attributes(
            s, {"loomgit.record.index": o.record.index, "loomgit.record.outcome": o.kind}
        )
        tracing.completion(s, o.completion)
        return o


def default_caller(ws: Workspace, *, cache: bool = False) -> Any:
    """The provider layer's client; its response cache is off unless asked for (a batch
    of one-off answers would fill the cache with entries nobody reads again)."""
    return ModelClient(ws.config, cache=None if cache else False)


def _check_setup(caller: Any, model: str) -> None:
    """Build the model's provider now: an unknown provider or a missing API key is one
    usage error before any file is written, not an error on every record."""
    prepare_models = getattr(caller, "prepare", None)
    if callable(prepare_models):
        prepare_models([model])
        return
    build = getattr(caller, "provider", None)
    if callable(build):
        build(model)


def run_batch(
    ws: Workspace,
    opts: BatchOptions,
    *,
    caller_factory: Callable[[], Any] | None = None,
    services: Any = None,
    progress: Progress | None = None,
) -> BatchSummary:
    """Run ``opts`` to the end (or until stopped); the summary says what happened."""
    caller = caller_factory() if caller_factory is not None else default_caller(ws)
    try:
        plan, summary, records = prepare(ws, opts, setup=lambda m: _check_setup(caller, m))
    except BaseException:
        asyncio.run(_aclose(caller))
        raise
    t0 = time.monotonic()
    try:
        if services is None:
            services = EvalServices(ws, allow_python=batch_python_allowed(ws, opts))

        async def main() -> None:
            if hasattr(services, "bind"):
                services.bind(caller)
            runner = _Runner(plan, summary, records, caller, services, progress)
            try:
                await runner.run()
            finally:
                summary.stopped = runner.stop
                summary.duration_s = time.monotonic() - t0
                runner.checkpoint(final=True)
                runner.report_progress()
                await _aclose(caller)

        asyncio.run(main())
        if plan.reader is not None:
            summary.warnings.extend(plan.reader.warnings)
    finally:
        plan.close()
    summary.duration_s = time.monotonic() - t0
    if summary.complete and not summary.errors:
        plan.ckpt_path.unlink(missing_ok=True)
    if opts.record:
        try:
            record_batch(ws, summary, suite=plan.suite_path)
        except LoomgitError as e:
            summary.warnings.append(f"run not recorded: {e}")
    return summary


async def _aclose(caller: Any) -> None:
    try:
        await caller.aclose()
    except Exception:  # closing must not hide the run's outcome
        pass
