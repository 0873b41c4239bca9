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
import itertools
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loomgit.batch.inputs import Record
from loomgit.errors import EXIT_FAILED, EXIT_INFRA, EXIT_OK, InfraError, LoomgitError, UsageError
from loomgit.prompt import schema as json_schema

if TYPE_CHECKING:
    from loomgit.batch.cost import Budget
    from loomgit.batch.inputs import RecordReader
    from loomgit.batch.outputs import ResultLog
    from loomgit.prompt.model import Prompt
    from loomgit.providers.base import Completion
    from loomgit.workspace import Workspace

EXIT_INTERRUPTED = 130
HEAD_RECORDS = 20  # records looked at before the run to find fields for the variables
FORMAT_VERSION = 1


@dataclass(frozen=True)
class BatchOptions:
    """Everything ``loomgit run`` takes (a pipeline file fills the same fields)."""

    ref: str
    input: str
    output: str
    quarantine: str | None = None
    format: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    concurrency: int = 4
    asserts: tuple[dict[str, Any], ...] = ()
    use_suite: bool = True
    gate: Any = None
    budget: float | None = None
    limit: int | None = None
    resume: bool = False
    overwrite: bool = False
    pipeline: str | None = None
    checkpoint_every: int = 1000
    checkpoint_seconds: float = 5.0
    max_consecutive_errors: int = 10
    record: bool = True  # add the run to .git/loomgit/runs.sqlite


@dataclass
class BatchSummary:
    """The outcome of a run; the counts include what earlier (resumed) runs finished."""

    run_id: str
    prompt: str
    version: str | None
    content_hash: str
    commit: str | None
    model: str
    input: str
    output: str
    quarantine: str
    pipeline: str | None = None
    started_at: str = ""
    records: int = 0  # input records reached (every record when the run completed)
    ok: int = 0
    quarantined: int = 0
    errors: int = 0
    resumed: int = 0  # finished by an earlier run, skipped now
    retried: int = 0  # errors of an earlier run tried again
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    score_sum: float = 0.0
    scored: int = 0
    latency_sum: float = 0.0
    answered: int = 0
    judged: int = 0  # records the model answered that got a verdict (ok or quarantined)
    duration_s: float = 0.0
    processed: int = 0  # records finished by this invocation
    stopped: str | None = None  # budget | interrupted | provider | limit
    stop_detail: str = ""
    reasons: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    @property
    def not_run(self) -> int:
        return max(0, self.records - self.ok - self.quarantined - self.errors)

    def reasons_sorted(self) -> list[tuple[str, int]]:
        """Quarantine counts by stage, most first (ties by name)."""
        return sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))

    @property
    def complete(self) -> bool:
        return self.stopped in (None, "limit") and self.not_run == 0

    @property
    def pass_rate(self) -> float | None:
        """Passed among the answered records (bad input data does not count)."""
        return self.ok / self.judged if self.judged else None

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None

    @property
    def mean_latency_ms(self) -> float | None:
        return self.latency_sum / self.answered if self.answered else None

    @property
    def status(self) -> str:
        if self.stopped == "interrupted":
            return "interrupted"
        if self.stopped == "budget":
            return "budget"
        if self.errors or self.stopped == "provider":
            return "error"
        return "complete"

    @property
    def exit_code(self) -> int:
        if self.stopped == "interrupted":
            return EXIT_INTERRUPTED
        if self.errors or self.stopped == "provider":
            return EXIT_INFRA
        if self.stopped == "budget":
            return EXIT_FAILED
        return EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "prompt": self.prompt,
            "version": self.version,
            "content_hash": self.content_hash,
            "commit": self.commit,
            "model": self.model,
            "pipeline": self.pipeline,
            "input": self.input,
            "output": self.output,
            "quarantine": self.quarantine,
            "counts": {
                "records": self.records,
                "ok": self.ok,
                "quarantined": self.quarantined,
                "errors": self.errors,
                "not_run": self.not_run,
                "resumed": self.resumed,
                "retried": self.retried,
                "processed": self.processed,
            },
            "reasons": dict(self.reasons_sorted()),
            "pass_rate": _r(self.pass_rate),
            "mean_score": _r(self.mean_score),
            "mean_latency_ms": _r(self.mean_latency_ms, 3),
            "tokens": {"input": self.input_tokens, "output": self.output_tokens},
            "cost_usd": round(self.cost_usd, 9),
            "duration_s": round(self.duration_s, 3),
            "records_per_s": round(self.processed / self.duration_s, 2)
            if self.duration_s
            else None,
            "stopped": self.stopped,
            "stop_detail": self.stop_detail or None,
            "started_at": self.started_at,
            "warnings": list(self.warnings),
        }


def _r(v: float | None, nd: int = 6) -> float | None:
    return None if v is None else round(v, nd)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


Progress = Callable[["BatchSummary", int, "int | None"], None]


@dataclass
class _Outcome:
    record: Record
    kind: str  # ok | quarantine | error
    stage: str = ""
    reason: str = ""
    vars: dict[str, Any] | None = None
    completion: Completion | None = None
    parsed: Any = None
    has_parsed: bool = False
    assertions: list[Any] = field(default_factory=list)
    score: float | None = None


@dataclass
class _Plan:
    """Everything resolved before the first record: prompt, checks, files, budget."""

    opts: BatchOptions
    prompt: Prompt
    iface: dict[str, Any]
    model: str
    params: dict[str, Any]
    budget: Budget
    identity: dict[str, Any]
    ckpt_path: Path
    asserts: tuple[Any, ...] = ()
    gate: Any = None
    schema: Any = None
    done: Any = None
    suite_path: str | None = None
    from_text: bool = False
    input_size: int | None = None
    reader: RecordReader | None = None
    out_log: ResultLog | None = None
    q_log: ResultLog | None = None
    renderer: Any = None
    lock: Any = None

    def close(self) -> None:
        for thing in (self.reader, self.out_log, self.q_log, self.lock):
            if thing is not None:
                thing.close()
        if self.renderer is not None:
            self.renderer.close()


def _suite_asserts(ws: Workspace, prompt: Prompt) -> tuple[list[dict[str, Any]], str | None]:
    """The suite's ``defaults: assert:`` (they apply to any answer) and its file."""
    rel = Path(prompt.path).with_suffix("").as_posix() + ".tests.yaml"
    full = ws.root / rel
    if not full.is_file():
        return [], None
    from loomgit.evals.suite import parse_suite

    suite, problems = parse_suite(full.read_text(encoding="utf-8", errors="replace"), rel)
    errs = [p for p in problems if p.level == "error"]
    if suite is None or errs:
        first = errs[0] if errs else None
        raise UsageError(
            first.message if first else "unusable test suite",
            path=rel,
            line=first.line if first else None,
        )
    return list(suite.defaults.get("assert") or []), rel


def _head(ws: Workspace) -> str | None:
    from loomgit import gitio

    if not gitio.is_repo(ws.root):
        return None
    out = gitio.text(["rev-parse", "--verify", "-q", "HEAD"], ws.root, check=False).strip()
    return out or None


def prepare(
    ws: Workspace, opts: BatchOptions, *, setup: Callable[[str], None] | None = None
) -> tuple[_Plan, BatchSummary, Iterator[Record]]:
    """Resolve and validate everything, then open the files (nothing is written before
    every check passed). ``setup(model)`` may check that the model can be called."""
    from loomgit.batch import outputs
    from loomgit.batch.cost import DEFAULT_OUTPUT_TOKENS, Budget, price_for
    from loomgit.batch.inputs import RecordReader, check_mapping, file_fingerprint
    from loomgit.batch.pipeline import default_quarantine
    from loomgit.evals.assertions import compile_assertion, spec_problem
    from loomgit.evals.gates import GateError, parse_gate
    from loomgit.prompt.render import interface
    from loomgit.refs import resolve

    if opts.concurrency < 1:
        raise UsageError("--concurrency must be 1 or more")
    res = resolve(ws, opts.ref)
    prompt = res.prompt
    model = opts.model or prompt.model or ws.config.section("defaults").get("model")
    if not model:
        raise UsageError(f"no model for {prompt.id}: set 'model:' in {prompt.path} or pass --model")
    params = {**prompt.params, **dict(opts.params)}
    if setup is not None:
        setup(model)
    iface = interface(prompt, res.loader)
    if prompt.variables is None:  # resolve the interface once, not per record
        prompt = replace(prompt, variables=iface)

    raw_asserts = list(opts.asserts)
    suite_path = None
    if opts.use_suite:
        extra, suite_path = _suite_asserts(ws, prompt)
        raw_asserts += extra
    for a in raw_asserts:
        problem = spec_problem(a)
        if problem:
            raise UsageError(f"assertion {a!r}: {problem}")
    try:
        gate = parse_gate(opts.gate)
    except GateError as e:
        raise UsageError(f"gate: {e}") from None
    schema_validator = _schema_validator(prompt)

    quarantine = opts.quarantine or default_quarantine(opts.output)
    out_path, q_path = Path(opts.output), Path(quarantine)
    in_path = Path(opts.input)
    outputs.prepare(out_path, q_path, [in_path], resume=opts.resume, overwrite=opts.overwrite)
    if opts.resume and opts.input == "-":
        raise UsageError("--resume needs an input file (standard input cannot be read again)")

    reader = RecordReader(opts.input, opts.format)
    renderer = out_log = q_log = lock = None
    try:
        records = iter(reader)
        head = list(itertools.islice(records, HEAD_RECORDS))
        check_mapping(iface, opts.mapping, reader.columns, prompt.id, opts.input)
        _check_fields(iface, opts.mapping, reader.columns, head, opts.input)
        fingerprint = file_fingerprint(opts.input) if opts.input != "-" else None

        price = price_for(ws, model)
        max_tokens = params.get("max_tokens")
        per_out = (
            float(max_tokens)
            if isinstance(max_tokens, int) and max_tokens > 0
            else float(DEFAULT_OUTPUT_TOKENS)
        )
        if opts.budget is not None and price is None:
            raise UsageError(
                f"no price known for {model}, so the budget cannot be enforced; "
                "add it under 'pricing:' in loomgit.yaml"
            )

        identity = {
            "format_version": FORMAT_VERSION,
            "prompt": prompt.id,
            "ref": opts.ref,
            "version": res.version,
            "content_hash": prompt.content_hash,
            "model": model,
            "params": params,
            "input": opts.input,
            "input_fingerprint": fingerprint,
            "mapping": dict(opts.mapping),
            "asserts": raw_asserts,
            "gate": gate.to_spec(),
        }
        ckpt_path = outputs.checkpoint_path(out_path)
        recovered = outputs.Recovered()
        run_id = uuid.uuid4().hex
        started = _now()
        if opts.resume:
            ckpt = outputs.load_checkpoint(ckpt_path)
            if ckpt is None:
                raise UsageError(
                    f"nothing to resume: {ckpt_path} does not exist (the run "
                    "finished, or was not started with this --output)"
                )
            _same_run(ckpt, identity, ckpt_path)
            run_id = str(ckpt.get("run_id") or run_id)
            started = str(ckpt.get("started_at") or started)
        lock = outputs.RunLock(out_path)
        if opts.resume:
            recovered = outputs.recover(out_path, q_path)
        elif ckpt_path.exists():
            ckpt_path.unlink()

        summary = BatchSummary(
            run_id=run_id,
            prompt=prompt.id,
            version=res.version,
            content_hash=prompt.content_hash,
            commit=res.commit or _head(ws),
            model=model,
            input=opts.input,
            output=str(out_path),
            quarantine=str(q_path),
            pipeline=opts.pipeline,
            started_at=started,
        )
        summary.ok, summary.quarantined = recovered.ok, recovered.quarantined
        summary.retried = recovered.retried_errors
        summary.cost_usd = recovered.cost_usd
        summary.input_tokens, summary.output_tokens = (
            recovered.input_tokens,
            recovered.output_tokens,
        )
        summary.score_sum, summary.scored = recovered.score_sum, recovered.scored
        summary.latency_sum, summary.answered = recovered.latency_sum, recovered.answered
        summary.judged = recovered.judged
        if recovered.torn:
            summary.warnings.append(
                f"cut {recovered.torn} half-written line(s) left by the interrupted run"
            )

        from loomgit.evals.rendering import CaseRenderer

        renderer = CaseRenderer(
            prompt,
            res.loader,
            max_chars=ws.config.render_max_chars,
            timeout_s=ws.config.render_timeout_s,
        )
        out_log = outputs.ResultLog(out_path, fresh=not opts.resume)
        q_log = outputs.ResultLog(q_path, fresh=not opts.resume)
    except BaseException:
        for thing in (reader, out_log, q_log, renderer, lock):
            if thing is not None:
                thing.close()
        raise
    plan = _Plan(
        opts=opts,
        prompt=prompt,
        iface=iface,
        model=model,
        params=params,
        budget=Budget(opts.budget, price, per_out, spent=recovered.cost_usd),
        identity=identity,
        ckpt_path=ckpt_path,
        asserts=tuple(compile_assertion(a) for a in raw_asserts),
        gate=gate,
        schema=schema_validator,
        done=recovered.done,
        suite_path=suite_path,
        from_text=reader.format in ("csv", "tsv"),
        input_size=fingerprint["size"] if fingerprint else None,
        reader=reader,
        out_log=out_log,
        q_log=q_log,
        renderer=renderer,
        lock=lock,
    )
    return plan, summary, itertools.chain(head, records)


def _check_fields(
    iface: Mapping[str, Any],
    mapping: Mapping[str, str],
    columns: tuple[str, ...] | None,
    head: list[Record],
    display: str,
) -> None:
    """A required variable no column (CSV) or none of the first records (JSON) holds is a
    usage error before the run, rather than a million quarantined records."""
    from loomgit.batch.inputs import lookup

    required = [n for n, v in iface.items() if getattr(v, "required", True)]
    if columns is not None:
        absent = sorted(n for n in required if mapping.get(n, n) not in columns)
        if absent:
            raise UsageError(
                f"{_shown(display)}: no column for required variable(s) "
                f"{', '.join(absent)} (columns: {', '.join(columns)}); add "
                "--map VARIABLE=COLUMN"
            )
        return
    readable = [r.data for r in head if r.data is not None]
    if not readable:
        return
    absent = sorted(
        n for n in required if not any(lookup(d, mapping.get(n, n))[0] for d in readable)
    )
    if absent:
        fields = sorted({str(k) for d in readable for k in d})
        raise UsageError(
            f"{_shown(display)}: none of the first {len(readable)} record(s) has a "
            f"field for required variable(s) {', '.join(absent)} (fields: "
            f"{', '.join(fields[:20])}); add --map VARIABLE=FIELD"
        )


def _same_run(ckpt: dict[str, Any], identity: dict[str, Any], path: Path) -> None:
    labels = {
        "prompt": "the prompt",
        "content_hash": "the prompt's content",
        "model": "the model",
        "params": "the params",
        "input": "the input file",
        "input_fingerprint": "the input file's content",
        "mapping": "--map",
        "asserts": "the assertions",
        "gate": "the gate",
    }
    changed = [
        label
        for key, label in labels.items()
        if key in ckpt and _norm(ckpt.get(key)) != _norm(identity.get(key))
    ]
    if changed:
        raise UsageError(
            f"cannot resume: {', '.join(changed)} changed since the run started "
            f"(see {path}); start again with --overwrite or another --output"
        )


def _norm(v: Any) -> Any:
    import json

    return json.dumps(v, sort_keys=True, default=str)


def _schema_validator(prompt: Prompt) -> Any:
    out = prompt.output
    if out is None or out.format != "json" or not out.schema:
        return None
    return json_schema.validator(out.schema)


def _schema_problem(validator: Any, value: Any) -> str | None:
    if validator is None:
        return None
    err = json_schema.best_error(validator, value)
    if err is None:
        return None
    where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err[0])
    return f"{where}: {err[1]}"


class _Runner:
    def __init__(
        self,
        plan: _Plan,
        summary: BatchSummary,
        records: Iterator[Record],
        caller: Any,
        services: Any,
        progress: Progress | None,
    ) -> None:
        self.plan, self.s, self.records = plan, summary, records
        self.caller, self.services, self.progress = caller, services, progress
        self.opts = plan.opts
        self.streak = 0
        self.since_ckpt = 0
        self.last_ckpt = time.monotonic()
        self.last_progress = 0.0
        self.stop: str | None = None
        self.in_flight: set[asyncio.Task[_Outcome]] = set()
        self.interrupts = 0

    # -- bookkeeping ----------------------------------------------------------------

    def _lineage(self, o: _Outcome) -> dict[str, Any]:
        p, s, c = self.plan, self.s, o.completion
        lin: dict[str, Any] = {
            "run_id": s.run_id,
            "prompt": s.prompt,
            "version": s.version,
            "content_hash": s.content_hash,
            "commit": s.commit,
            "model": p.model,
            "params": p.params,
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
        if self.opts.pipeline:
            lin["pipeline"] = self.opts.pipeline
        return lin

    def write(self, o: _Outcome) -> None:
        s, rec = self.s, o.record
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
            line: dict[str, Any] = {
                "index": rec.index,
                "line": rec.line,
                "input": rec.data,
                "output": c.text if c else None,
            }
            if o.has_parsed:
                line["json"] = o.parsed
            if o.score is not None:
                line["score"] = round(o.score, 6)
            if o.assertions:
                line["assertions"] = [_assertion_dict(a) for a in o.assertions]
            line["lineage"] = self._lineage(o)
            self.plan.out_log.append(line)
            s.ok += 1
        else:
            q: dict[str, Any] = {
                "index": rec.index,
                "kind": o.kind,
                "line": rec.line,
                "source": f"{_shown(self.opts.input)}:{rec.line}",
                "stage": o.stage,
                "reason": o.reason,
            }
            if rec.data is not None:
                q["input"] = rec.data
            elif rec.raw is not None:
                q["raw"] = rec.raw
            if c is not None:
                q["output"] = c.text
            if o.has_parsed:
                q["json"] = o.parsed
            if o.score is not None:
                q["score"] = round(o.score, 6)
            if o.assertions:
                q["assertions"] = [_assertion_dict(a) for a in o.assertions]
            if c is not None or o.kind == "error":
                q["lineage"] = self._lineage(o)
            self.plan.q_log.append(q)
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
        from loomgit.batch.outputs import save_checkpoint

        p, s = self.plan, self.s
        p.out_log.sync()
        p.q_log.sync()
        data = {
            **p.identity,
            "run_id": s.run_id,
            "started_at": s.started_at,
            "updated_at": _now(),
            "output": s.output,
            "quarantine": s.quarantine,
            "offsets": {"output": p.out_log.size(), "quarantine": p.q_log.size()},
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

    # -- one record -----------------------------------------------------------------

    def prepare_record(
        self, rec: Record
    ) -> tuple[_Outcome | None, list[dict[str, str]] | None, dict[str, Any] | None]:
        """(a finished outcome, or the messages and variables to send)."""
        from loomgit.batch.inputs import select_vars

        if rec.error is not None:
            return _Outcome(rec, "quarantine", "read", rec.error), None, None
        p = self.plan
        try:
            variables = select_vars(
                rec.data or {}, p.iface, self.opts.mapping, from_text=p.from_text
            )
        except ValueError as e:
            return _Outcome(rec, "quarantine", "variables", str(e)), None, None
        try:
            messages = p.renderer.render(variables)
        except LoomgitError as e:
            stage = (
                "variables" if "variable" in e.message and "template" not in e.message else "render"
            )
            return _Outcome(rec, "quarantine", stage, e.message, variables), None, None
        return None, messages, variables

    async def call(
        self,
        rec: Record,
        messages: list[dict[str, str]],
        variables: dict[str, Any],
        reserved: float,
    ) -> _Outcome:
        from loomgit.evals.assertions import AssertionError_, Observation, evaluate, parse_json
        from loomgit.evals.gates import Unit, holds

        p = self.plan
        budget: Budget = p.budget
        try:
            comp = await self.caller.complete(p.model, messages, dict(p.params))
        except LoomgitError as e:
            budget.settle(reserved, 0.0)
            kind = "error" if isinstance(e, InfraError) else "quarantine"
            return _Outcome(rec, kind, "model", str(e), variables)
        except asyncio.CancelledError:
            budget.settle(reserved, 0.0)
            raise
        except Exception as e:  # a provider bug must not lose the rest of the run
            budget.settle(reserved, 0.0)
            return _Outcome(
                rec, "error", "model", f"internal error: {type(e).__name__}: {e}", variables
            )
        budget.settle(reserved, comp.cost_usd)
        o = _Outcome(rec, "ok", vars=variables, completion=comp)
        prompt = p.prompt
        if prompt.output is not None and prompt.output.format == "json":
            ok, value, problem = parse_json(comp.text)
            if not ok:
                o.kind, o.stage, o.reason = "quarantine", "json", f"output is {problem}"
                return o
            o.parsed, o.has_parsed = value, True
            problem = _schema_problem(p.schema, value)
            if problem:
                o.kind, o.stage = "quarantine", "schema"
                o.reason = f"output does not match the prompt's schema: {problem}"
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
            )
            try:
                results = [await evaluate(a, obs, self.services) for a in p.asserts]
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

    # -- the loop -------------------------------------------------------------------

    def _on_signal(self) -> None:
        self.interrupts += 1
        self.stop = "interrupted"
        self.s.stop_detail = "stopped by a signal (Ctrl-C or SIGTERM)"
        for t in self.in_flight:
            t.cancel()

    def _finished(self, task: asyncio.Task[_Outcome]) -> None:
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
        from loomgit.batch.cost import message_tokens

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
                finished, messages, variables = self.prepare_record(rec)
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
                task = asyncio.ensure_future(self.call(rec, messages, variables, reserved))
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


def _assertion_dict(a: Any) -> dict[str, Any]:
    d = a.to_dict()
    d.pop("value", None)
    return d


def default_caller(ws: Workspace, *, cache: bool = False) -> Any:
    """The provider layer's client; its response cache is off unless asked for (a batch
    of one-off answers would fill the cache with entries nobody reads again)."""
    from loomgit.providers.client import ModelClient

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
            from loomgit.evals.services import EvalServices

            services = EvalServices(ws)

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
            from loomgit.batch.lineage import record_batch

            record_batch(ws, summary, suite=plan.suite_path)
        except LoomgitError as e:
            summary.warnings.append(f"run not recorded: {e}")
    return summary


async def _aclose(caller: Any) -> None:
    try:
        await caller.aclose()
    except Exception:  # closing must not hide the run's outcome
        pass


def _shown(path: str) -> str:
    return "<stdin>" if path == "-" else path
