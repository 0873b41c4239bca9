"""Tokens and dollars: the token estimate of a text, estimates priced per model, and the
budget check during a run (estimates for a workspace: :mod:`loomgit.batch.estimate`).

Token counts are estimated, not exact: no tokenizer is downloaded. The estimate for a
text is ``ceil(ascii_chars / 4 + other_chars / 1.5)`` (about 4 characters per token for
English, as OpenAI's rule of thumb; scripts such as Chinese or Cyrillic take more tokens
per character, so they count more), plus 4 tokens of overhead per chat message and 3
for the reply. Output tokens come from the average recorded for the prompt and model in
earlier runs, else from ``max_tokens``, else an assumed 256.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loomgit.prompt.conversation import PART_TOKENS, content_text, media_parts
from loomgit.providers.pricing import Price

DEFAULT_OUTPUT_TOKENS = 256
MESSAGE_OVERHEAD = 4
REPLY_OVERHEAD = 3


def estimate_tokens(text: str) -> int:
    """Approximate token count of ``text`` (see the module docstring)."""
    if not text:
        return 0
    ascii_chars = len(text) if text.isascii() else len(text.encode("ascii", "ignore"))
    other = len(text) - ascii_chars
    return math.ceil(ascii_chars / 4 + other / 1.5)


def message_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """Approximate input tokens of a chat request."""
    return (
        sum(
            estimate_tokens(content_text(m.get("content")))
            + media_parts(m.get("content")) * PART_TOKENS
            + MESSAGE_OVERHEAD
            for m in messages
        )
        + REPLY_OVERHEAD
    )


@dataclass(frozen=True)
class OutputBasis:
    """Expected output tokens per request, and why."""

    tokens: float
    basis: str  # "recorded" | "max_tokens" | "assumed"
    samples: int = 0
    max_tokens: int | None = None

    def describe(self) -> str:
        if self.basis == "recorded":
            return f"recorded average of {self.samples} answers"
        if self.basis == "max_tokens":
            return "max_tokens"
        return f"assumed {DEFAULT_OUTPUT_TOKENS} (no max_tokens, no recorded runs)"


def output_basis(max_tokens: Any, recorded: tuple[float, int] | None) -> OutputBasis:
    mt = (
        int(max_tokens)
        if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0
        else None
    )
    if recorded is not None and recorded[1] > 0:
        return OutputBasis(recorded[0], "recorded", recorded[1], mt)
    if mt is not None:
        return OutputBasis(float(mt), "max_tokens", 0, mt)
    return OutputBasis(float(DEFAULT_OUTPUT_TOKENS), "assumed", 0, None)


@dataclass(frozen=True)
class ModelEstimate:
    model: str
    requests: int
    input_tokens: int
    output_tokens: int
    output: OutputBasis
    price: Price | None
    cost_usd: float | None  # expected
    max_cost_usd: float | None  # with every answer at max_tokens (None when unbounded)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "output_basis": self.output.basis,
            "output_basis_detail": self.output.describe(),
            "price_per_1m": (
                None
                if self.price is None
                else {"input": self.price.input, "output": self.price.output}
            ),
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
            "max_cost_usd": None if self.max_cost_usd is None else round(self.max_cost_usd, 6),
        }


@dataclass(frozen=True)
class Estimate:
    prompt: str
    version: str | None
    source: str  # the input file, or "cases of SUITE"
    records: int
    skipped: int  # records that could not be read or rendered (they cost nothing)
    input_tokens: int
    models: tuple[ModelEstimate, ...]
    budget: float | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)  # first few skip reasons

    @property
    def over_budget(self) -> bool:
        if self.budget is None:
            return False
        return any(m.cost_usd is not None and m.cost_usd > self.budget for m in self.models)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "version": self.version,
            "source": self.source,
            "records": self.records,
            "skipped": self.skipped,
            "input_tokens": self.input_tokens,
            "tokenizer": "approximate: ceil(ascii/4 + other/1.5) + 4 per message + 3",
            "models": [m.to_dict() for m in self.models],
            "budget_usd": self.budget,
            "over_budget": self.over_budget,
            "problems": list(self.problems),
        }


def estimate(
    prompt: str,
    version: str | None,
    source: str,
    records: int,
    skipped: int,
    input_tokens: int,
    models: Iterable[tuple[str, Price | None, OutputBasis]],
    budget: float | None = None,
    problems: Sequence[str] = (),
) -> Estimate:
    """Combine counted input tokens with each model's price and expected output."""
    out = []
    for model, price, basis in models:
        out_tokens = round(basis.tokens * records)
        cost = price.cost(input_tokens, out_tokens) if price is not None else None
        worst = None
        if price is not None and basis.max_tokens is not None:
            worst = price.cost(input_tokens, basis.max_tokens * records)
        out.append(
            ModelEstimate(model, records, input_tokens, out_tokens, basis, price, cost, worst)
        )
    return Estimate(
        prompt, version, source, records, skipped, input_tokens, tuple(out), budget, tuple(problems)
    )


class Budget:
    """Stops a run before it can spend more than ``limit`` USD.

    Before a request starts, its worst case (estimated input tokens, ``max_tokens`` or the
    expected output) is reserved; when it finishes the reservation is replaced by what it
    cost. A request starts only if spent + reserved + its worst case stays within the limit.
    """

    def __init__(
        self,
        limit: float | None,
        price: Price | None,
        per_request_output: float,
        spent: float = 0.0,
    ) -> None:
        self.limit = limit
        self.price = price
        self.per_request_output = per_request_output
        self.spent = spent
        self.reserved = 0.0

    def worst_case(self, input_tokens: int) -> float:
        if self.price is None:
            return 0.0
        return self.price.cost(input_tokens, self.per_request_output)

    def reserve(self, input_tokens: int) -> float | None:
        """The amount reserved, or None when the request would cross the limit."""
        amount = self.worst_case(input_tokens)
        if self.limit is not None and self.spent + self.reserved + amount > self.limit + 1e-12:
            return None
        self.reserved += amount
        return amount

    def settle(self, reserved: float, actual: float | None) -> None:
        self.reserved = max(0.0, self.reserved - reserved)
        self.spent += actual if actual is not None else reserved


def parse_budget(raw: Any) -> float | None:
    """``budget:`` as a number of USD (``5``, ``2.50``, ``"$3"``); ValueError otherwise."""
    if raw is None:
        return None
    if isinstance(raw, str):
        s = raw.strip().lstrip("$").strip()
        try:
            raw = float(s)
        except ValueError:
            raise ValueError(f"{raw!r} is not an amount in USD") from None
    if (
        isinstance(raw, bool)
        or not isinstance(raw, (int, float))
        or raw < 0
        or math.isnan(raw)
        or math.isinf(raw)
    ):
        raise ValueError("must be an amount in USD (0 or more)")
    return float(raw)


# -- estimates for a workspace ---------------------------------------------------------
