"""The values assertions work with: a compiled :class:`Assertion`, the
:class:`Observation` it looks at, its :class:`AssertionResult`, and the :class:`Services`
the model-graded ones call."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from loomgit.providers.base import ToolCall

# (passed, score in [0, 1], message): what every assertion type returns
Outcome = tuple[bool, float, str]


@dataclass(frozen=True)
class Assertion:
    """A compiled assertion from a suite."""

    kind: str
    arg: Any
    negate: bool = False
    weight: float = 1.0
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or (f"not {self.kind}" if self.negate else self.kind)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {self.kind: self.arg}
        if self.negate:
            d = {"not": d}
        if self.weight != 1.0:
            d["weight"] = self.weight
        if self.name:
            d["name"] = self.name
        return d


@dataclass(frozen=True)
class AssertionResult:
    kind: str  # label: "contains", "not regex", or the assertion's name
    passed: bool
    score: float
    weight: float = 1.0
    message: str = ""
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "passed": self.passed,
            "score": round(self.score, 6),
            "weight": self.weight,
            "message": self.message,
            "value": self.value,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AssertionResult:
        return cls(
            str(d.get("type", "")),
            bool(d.get("passed")),
            float(d.get("score") or 0.0),
            float(d.get("weight", 1.0)),
            str(d.get("message") or ""),
            d.get("value"),
        )


@dataclass(frozen=True)
class Observation:
    """What the assertions look at: one answer and what produced it."""

    text: str
    latency_ms: float = 0.0
    cost_usd: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    vars: Mapping[str, Any] = field(default_factory=dict)
    expected: Any = None
    case: str = ""
    prompt: str = ""
    provider: str = ""
    messages: tuple[Mapping[str, Any], ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()  # the answer's calls, in order
    tools: tuple[Mapping[str, Any], ...] = ()  # the tools the request offered (OpenAI shape)
    output_schema: Mapping[str, Any] | None = None  # the prompt's ``output: schema``
    refusal: str | None = None


class AssertionError_(Exception):
    """An assertion could not be evaluated for reasons outside the answer (judge provider
    down, python checks disabled): the sample becomes an error, not a failure."""


class Services(Protocol):
    """Model access for ``similar`` and ``judge`` and the policy for ``python``."""

    allow_python: bool
    root: str

    def embed(self, model: str, texts: list[str]) -> Awaitable[list[list[float]]]: ...

    def judge(
        self, criteria: str, obs: Observation, model: str | None, prompt: str | None
    ) -> Awaitable[tuple[float, str]]: ...

    def embedding_model(self) -> str | None: ...


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def short(text: Any, n: int = 60) -> str:
    """``text`` quoted for a message, cut to ``n`` characters."""
    s = str(text)
    return repr(s if len(s) <= n else s[: n - 1] + "…")


def outcome(ok: bool, good: str, bad: str) -> Outcome:
    """A pass/fail outcome: score 1 or 0 and the message that fits."""
    return ok, 1.0 if ok else 0.0, good if ok else bad


def any_arg(v: Any) -> str | None:
    """The argument check of types that accept any value."""
    return None


@dataclass(frozen=True)
class AssertionType:
    """One kind of assertion (``contains``, ``judge``, a plugin's): how a suite's argument
    is checked and how an answer is scored.

    ``run(arg, observation, services)`` returns an :data:`Outcome` ``(passed, score,
    message)``, or an awaitable of one (for types that call a model); it raises
    :class:`AssertionError_` when the answer cannot be judged at all. ``check(arg)`` says
    why the argument written in the suite is unusable (None when it is fine); ``loomgit
    check`` reports it at the suite's line before anything runs.
    """

    run: Callable[[Any, Observation, Services], Outcome | Awaitable[Outcome]]
    check: Callable[[Any], str | None] = any_arg
