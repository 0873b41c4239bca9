"""The data of a batch run: what ``loomgit run`` takes (:class:`BatchOptions`), what it
reports (:class:`BatchSummary`) and what became of one record (:class:`Outcome`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loomgit.errors import EXIT_FAILED, EXIT_INFRA, EXIT_OK
from loomgit.inputs.record import Record

if TYPE_CHECKING:
    from loomgit.providers.base import Completion


EXIT_INTERRUPTED = 130


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
    allow_python: bool | None = None  # python: assertions (None: LOOMGIT_ALLOW_PYTHON/config)


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


Progress = Callable[["BatchSummary", int, "int | None"], None]


@dataclass
class Outcome:
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
