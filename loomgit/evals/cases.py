"""The result of one case: its samples (one per repeat), pass/fail and score, and their
JSON shape (part of :meth:`loomgit.evals.results.EvalReport.to_dict`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loomgit.evals.assertions import AssertionResult
from loomgit.evals.gates import Gate, Unit, decide


def _tokens(input_tokens: int, output_tokens: int) -> dict[str, int]:
    """The ``tokens`` of a sample or case in the JSON report."""
    return {"input": input_tokens, "output": output_tokens, "total": input_tokens + output_tokens}


def _calls_text(calls: list[dict[str, Any]]) -> list[str]:
    out = []
    for c in calls:
        args = c.get("arguments_text") if c.get("error") else json.dumps(c.get("arguments"))
        note = f"  [{c['error']}]" if c.get("error") else ""
        out.append(f"tool call {c.get('name')}({args}) id={c.get('id')}{note}")
    return out


@dataclass
class TurnResult:
    """One turn of a multi-turn case: what it sent (a user message or tool results), the
    answer, its tool calls and the turn's assertions."""

    index: int  # 1-based
    sent: str = ""  # "user: ..." or "tool results: ..."; empty for the rendered prompt alone
    output: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    refusal: str | None = None
    passed: bool | None = None  # None: error
    score: float | None = None
    assertions: list[AssertionResult] = field(default_factory=list)
    latency_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    cached: bool = False
    error: str | None = None
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "turn": self.index,
            "name": self.name or None,
            "sent": self.sent,
            "output": self.output,
            "tool_calls": self.tool_calls,
            "passed": self.passed,
            "score": round_or_none(self.score),
            "assertions": [a.to_dict() for a in self.assertions],
            "latency_ms": round_or_none(self.latency_ms, 3),
            "tokens": _tokens(self.input_tokens, self.output_tokens),
            "cost_usd": round_or_none(self.cost_usd, 9),
            "cached": self.cached,
            "error": self.error,
        }
        if self.refusal is not None:
            d["refusal"] = self.refusal
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TurnResult:
        tok = d.get("tokens") or {}
        return cls(
            int(d.get("turn") or 1),
            str(d.get("sent") or ""),
            d.get("output"),
            list(d.get("tool_calls") or []),
            d.get("refusal"),
            d.get("passed"),
            d.get("score"),
            [AssertionResult.from_dict(a) for a in d.get("assertions") or []],
            d.get("latency_ms"),
            int(tok.get("input") or 0),
            int(tok.get("output") or 0),
            d.get("cost_usd"),
            bool(d.get("cached")),
            d.get("error"),
            str(d.get("name") or ""),
        )

    def row(self) -> dict[str, float | None]:
        return {
            "score": self.score,
            "passed": 1.0 if self.passed else 0.0,
            "latency_ms": self.latency_ms,
            "cost_usd": self.cost_usd,
            "tokens": float(self.input_tokens + self.output_tokens),
            "input_tokens": float(self.input_tokens),
            "output_tokens": float(self.output_tokens),
        }


@dataclass
class Sample:
    """One model answer to one case (or one whole conversation of a multi-turn case), and
    its assertions."""

    index: int = 0
    output: str | None = None
    passed: bool | None = None  # None: error
    score: float | None = None
    assertions: list[AssertionResult] = field(default_factory=list)
    latency_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    cached: bool = False
    error: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # ToolCall.to_dict()
    refusal: str | None = None
    turns: list[TurnResult] = field(default_factory=list)  # a multi-turn case's turns

    def extras(self) -> dict[str, Any]:
        """The keys a report adds for tool calls, refusals and turns (when there are)."""
        d: dict[str, Any] = {}
        if self.tool_calls:
            d["tool_calls"] = self.tool_calls
        if self.refusal is not None:
            d["refusal"] = self.refusal
        if self.turns:
            d["turns"] = [t.to_dict() for t in self.turns]
        return d

    def transcript(self) -> str:
        """The answer as text for reports: the output and its tool calls, turn by turn."""
        if not self.turns:
            if not self.tool_calls:
                return self.output or ""
            return "\n".join([self.output or "", *_calls_text(self.tool_calls)]).strip()
        lines = []
        for t in self.turns:
            lines.append(f"--- turn {t.index}" + (f" ({t.name})" if t.name else ""))
            if t.sent:
                lines.append(f"> {t.sent}")
            lines += [x for x in [t.output or "", *_calls_text(t.tool_calls)] if x]
            if t.error:
                lines.append(f"error: {t.error}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample": self.index,
            "output": self.output,
            "passed": self.passed,
            "score": round_or_none(self.score),
            "assertions": [a.to_dict() for a in self.assertions],
            "latency_ms": round_or_none(self.latency_ms, 3),
            "tokens": _tokens(self.input_tokens, self.output_tokens),
            "cost_usd": round_or_none(self.cost_usd, 9),
            "cached": self.cached,
            "error": self.error,
            **self.extras(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], index: int = 0) -> Sample:
        tok = d.get("tokens") or {}
        return cls(
            int(d.get("sample", index)),
            d.get("output"),
            d.get("passed"),
            d.get("score"),
            [AssertionResult.from_dict(a) for a in d.get("assertions") or []],
            d.get("latency_ms"),
            int(tok.get("input") or 0),
            int(tok.get("output") or 0),
            d.get("cost_usd"),
            bool(d.get("cached")),
            d.get("error"),
            list(d.get("tool_calls") or []),
            d.get("refusal"),
            [TurnResult.from_dict(t) for t in d.get("turns") or []],
        )

    def rows(self) -> list[dict[str, float | None]]:
        """What ``distribution:`` checks see: one row per answer (each answered turn of a
        conversation is one)."""
        if self.turns:
            return [t.row() for t in self.turns if t.passed is not None]
        return [self.row()]

    def row(self) -> dict[str, float | None]:
        """The values ``distribution:`` checks see for a one-answer sample."""
        return {
            "score": self.score,
            "passed": 1.0 if self.passed else 0.0,
            "latency_ms": self.latency_ms,
            "cost_usd": self.cost_usd,
            "tokens": float(self.input_tokens + self.output_tokens),
            "input_tokens": float(self.input_tokens),
            "output_tokens": float(self.output_tokens),
        }


def round_or_none(v: float | None, nd: int = 6) -> float | None:
    return None if v is None else round(float(v), nd)


@dataclass
class CaseResult:
    """One case of a suite on one provider: its samples and its verdict."""

    prompt: str
    case: str
    provider: str
    samples: list[Sample] = field(default_factory=list)
    version: str | None = None
    commit: str | None = None
    suite: str = ""
    weight: float = 1.0
    line: int | None = None
    status: str = "error"  # passed | failed | error | skipped
    error_msg: str | None = None  # set when the case could not run at all (render error)
    file: str | None = None  # the data file the case comes from (None: the suite; ``line``'s file)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.prompt, self.case, self.provider)

    @property
    def scored(self) -> list[Sample]:
        return [s for s in self.samples if s.passed is not None]

    @property
    def passed(self) -> bool | None:
        return {"passed": True, "failed": False}.get(self.status)

    @property
    def score(self) -> float | None:
        vals = [s.score for s in self.scored if s.score is not None]
        return sum(vals) / len(vals) if vals else None

    @property
    def pass_rate(self) -> float | None:
        sc = self.scored
        return sum(1 for s in sc if s.passed) / len(sc) if sc else None

    @property
    def error(self) -> str | None:
        if self.error_msg:
            return self.error_msg
        errs = [s.error for s in self.samples if s.error]
        if not errs:
            return None
        return (
            errs[0] if len(errs) == 1 else f"{errs[0]} ({len(errs)} of {len(self.samples)} samples)"
        )

    @property
    def latency_ms(self) -> float | None:
        vals = [s.latency_ms for s in self.scored if s.latency_ms is not None]
        return sum(vals) / len(vals) if vals else None

    @property
    def cost_usd(self) -> float | None:
        vals = [s.cost_usd for s in self.samples if s.cost_usd is not None]
        return sum(vals) if vals else None

    @property
    def input_tokens(self) -> int:
        return sum(s.input_tokens for s in self.samples)

    @property
    def output_tokens(self) -> int:
        return sum(s.output_tokens for s in self.samples)

    def shown_sample(self) -> Sample | None:
        """The sample a one-line report shows: the first failing one, else the first."""
        for s in self.samples:
            if s.passed is False:
                return s
        return self.samples[0] if self.samples else None

    def why(self) -> str:
        """Why the case did not pass, in one line (empty when it passed)."""
        if self.status == "error":
            return self.error or "error"
        s = self.shown_sample()
        if self.status != "failed" or s is None:
            return ""
        bad = [a for a in s.assertions if not a.passed and a.weight > 0]
        if not bad:
            return f"score {self.score:.2f}" if self.score is not None else ""
        return "; ".join(f"{a.kind}: {a.message}" for a in bad[:3])

    def finalize(self, gate: Gate) -> None:
        if self.status == "skipped":
            return
        if self.error_msg or not self.samples:
            self.status = "error"
            return
        self.status = decide(gate, [Unit(s.passed, s.score) for s in self.samples])

    def to_dict(self) -> dict[str, Any]:
        shown = self.shown_sample()
        d: dict[str, Any] = {
            "prompt": self.prompt,
            "version": self.version,
            "commit": self.commit,
            "suite": self.suite,
            "case": self.case,
            "provider": self.provider,
            "status": self.status,
            "passed": self.passed,
            "score": round_or_none(self.score),
            "pass_rate": round_or_none(self.pass_rate),
            "repeat": len(self.samples),
            "output": shown.output if shown else None,
            "assertions": [a.to_dict() for a in shown.assertions] if shown else [],
            "latency_ms": round_or_none(self.latency_ms, 3),
            "tokens": _tokens(self.input_tokens, self.output_tokens),
            "cost_usd": round_or_none(self.cost_usd, 9),
            "cached": bool(self.samples) and all(s.cached for s in self.samples),
            "error": self.error,
            "weight": self.weight,
            **(shown.extras() if shown else {}),
            "file": self.file or self.suite,
            "line": self.line,
        }
        if len(self.samples) > 1:
            d["samples"] = [s.to_dict() for s in self.samples]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CaseResult:
        if "samples" in d:
            samples = [Sample.from_dict(s, i) for i, s in enumerate(d["samples"])]
        elif d.get("repeat", 1) and d.get("status") != "skipped":
            samples = [Sample.from_dict(d)]  # one sample: the flat fields are its own
        else:
            samples = []
        cr = cls(
            str(d["prompt"]),
            str(d["case"]),
            str(d.get("provider", "")),
            samples,
            d.get("version"),
            d.get("commit"),
            str(d.get("suite", "")),
            float(d.get("weight", 1.0)),
            status=str(d.get("status", "error")),
            line=d.get("line"),
            file=d["file"] if d.get("file") not in (None, d.get("suite")) else None,
        )
        if not samples and cr.status != "skipped":
            cr.error_msg = d.get("error") or "no samples"
        return cr
