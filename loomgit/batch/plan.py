"""Planning a batch run: resolve the prompt, model, checks, files and budget, and open the
files, before the first record is sent (nothing is written before every check passed)."""

from __future__ import annotations

import datetime as _dt
import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import loomgit.batch.outputs as outputs
from loomgit import _git
from loomgit._git.refs import head_commit
from loomgit.batch.checks import check_fields, same_run, schema_validator, suite_asserts
from loomgit.batch.cost import DEFAULT_OUTPUT_TOKENS, Budget
from loomgit.batch.model import BatchOptions, BatchSummary
from loomgit.batch.pipeline import default_quarantine
from loomgit.batch.prices import price_for
from loomgit.errors import UsageError
from loomgit.evals.assertions import compile_assertion, spec_problem
from loomgit.evals.assertions.python import PYTHON_REFUSED
from loomgit.evals.gates import GateError, parse_gate
from loomgit.evals.rendering import CaseRenderer
from loomgit.evals.services import config_allows_python, python_allowed, uses_python
from loomgit.inputs.mapping import check_mapping
from loomgit.inputs.reader import RecordReader, file_fingerprint
from loomgit.inputs.record import Record
from loomgit.prompt.render import interface
from loomgit.refs import resolve

if TYPE_CHECKING:
    from loomgit.batch.outputs import ResultLog
    from loomgit.prompt.model import Prompt
    from loomgit.workspace import Workspace


HEAD_RECORDS = 20  # records looked at before the run to find fields for the variables


FORMAT_VERSION = 1


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Plan:
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

    @property
    def send_params(self) -> dict[str, Any]:
        """What a request carries: ``params`` plus the prompt's tools and output format
        (lineage records ``params`` alone; the rest is part of the version)."""
        return {**self.prompt.call_params(), **self.params}

    q_log: ResultLog | None = None
    renderer: Any = None
    lock: Any = None

    def close(self) -> None:
        for thing in (self.reader, self.out_log, self.q_log, self.lock):
            if thing is not None:
                thing.close()
        if self.renderer is not None:
            self.renderer.close()


def _head(ws: Workspace) -> str | None:

    if not _git.is_repo(ws.root):
        return None
    return head_commit(ws.root)


def batch_python_allowed(ws: Workspace, opts: BatchOptions) -> bool:
    """``--allow-python``, else ``LOOMGIT_ALLOW_PYTHON``, else ``eval: allow_python``."""
    if opts.allow_python is not None:
        return opts.allow_python
    return python_allowed(config=config_allows_python(ws))


def prepare(
    ws: Workspace, opts: BatchOptions, *, setup: Callable[[str], None] | None = None
) -> tuple[Plan, BatchSummary, Iterator[Record]]:
    """Resolve and validate everything, then open the files (nothing is written before
    every check passed). ``setup(model)`` may check that the model can be called."""
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
        extra, suite_path = suite_asserts(ws, prompt)
        raw_asserts += extra
    for a in raw_asserts:
        problem = spec_problem(a)
        if problem:
            raise UsageError(f"assertion {a!r}: {problem}")
    if not batch_python_allowed(ws, opts) and any(uses_python(a) for a in raw_asserts):
        own = any(uses_python(a) for a in opts.asserts)
        raise UsageError(PYTHON_REFUSED, path="--assert" if own else suite_path)
    try:
        gate = parse_gate(opts.gate)
    except GateError as e:
        raise UsageError(f"gate: {e}") from None
    validator = schema_validator(prompt)

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
        check_fields(iface, opts.mapping, reader.columns, head, opts.input)
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
            same_run(ckpt, identity, ckpt_path)
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
    plan = Plan(
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
        schema=validator,
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
