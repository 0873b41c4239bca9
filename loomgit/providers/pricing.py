"""Prices in USD per million tokens, and the cost of a completion.

The built-in table covers common models at their list prices (late 2025, standard tier, no
batch or cache discounts); check your provider's price page and override or extend it in
``loomgit.yaml``::

    pricing:
      "openai/gpt-4o-mini": {input: 0.15, output: 0.60}
      "local/*": {input: 0, output: 0}        # every model of the 'local' provider

Lookup order: ``pricing:`` exact name, ``pricing:`` ``provider/*``, the built-in table,
the built-in table with a date or version suffix removed (``-2024-08-06``,
``-20241022``, ``-latest``, ``-001``). Other models served on this machine (``echo``,
``ollama``, ``vllm``, ``lmstudio``, any ``base_url`` on localhost) cost 0. Unknown models
have no cost (``None``), which ``max_cost_usd`` reports rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from loomgit.providers.base import Usage


class Price(NamedTuple):
    """USD per one million tokens: the one price type (the provider layer and batch
    estimates both use it)."""

    input: float  # USD per 1M input tokens
    output: float  # USD per 1M output tokens

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        """USD for this many tokens (estimates may pass fractions)."""
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


BUILTIN: dict[str, Price] = {
    # OpenAI
    "openai/gpt-5": Price(1.25, 10.00),
    "openai/gpt-5-mini": Price(0.25, 2.00),
    "openai/gpt-5-nano": Price(0.05, 0.40),
    "openai/gpt-4.1": Price(2.00, 8.00),
    "openai/gpt-4.1-mini": Price(0.40, 1.60),
    "openai/gpt-4.1-nano": Price(0.10, 0.40),
    "openai/gpt-4o": Price(2.50, 10.00),
    "openai/gpt-4o-mini": Price(0.15, 0.60),
    "openai/gpt-4-turbo": Price(10.00, 30.00),
    "openai/gpt-3.5-turbo": Price(0.50, 1.50),
    "openai/o1": Price(15.00, 60.00),
    "openai/o3": Price(2.00, 8.00),
    "openai/o3-mini": Price(1.10, 4.40),
    "openai/o4-mini": Price(1.10, 4.40),
    "openai/text-embedding-3-small": Price(0.02, 0.0),
    "openai/text-embedding-3-large": Price(0.13, 0.0),
    "openai/text-embedding-ada-002": Price(0.10, 0.0),
    # Anthropic
    "anthropic/claude-opus-4-5": Price(5.00, 25.00),
    "anthropic/claude-opus-4-1": Price(15.00, 75.00),
    "anthropic/claude-opus-4": Price(15.00, 75.00),
    "anthropic/claude-sonnet-4-5": Price(3.00, 15.00),
    "anthropic/claude-sonnet-4": Price(3.00, 15.00),
    "anthropic/claude-3-7-sonnet": Price(3.00, 15.00),
    "anthropic/claude-3-5-sonnet": Price(3.00, 15.00),
    "anthropic/claude-haiku-4-5": Price(1.00, 5.00),
    "anthropic/claude-3-5-haiku": Price(0.80, 4.00),
    "anthropic/claude-3-haiku": Price(0.25, 1.25),
    # Google Gemini (prompts up to 200k tokens)
    "gemini/gemini-2.5-pro": Price(1.25, 10.00),
    "gemini/gemini-2.5-flash": Price(0.30, 2.50),
    "gemini/gemini-2.5-flash-lite": Price(0.10, 0.40),
    "gemini/gemini-2.0-flash": Price(0.10, 0.40),
    "gemini/gemini-2.0-flash-lite": Price(0.075, 0.30),
    "gemini/gemini-1.5-pro": Price(1.25, 5.00),
    "gemini/gemini-1.5-flash": Price(0.075, 0.30),
    "gemini/gemini-embedding-001": Price(0.15, 0.0),
    # Cohere
    "cohere/command-a": Price(2.50, 10.00),
    "cohere/command-a-03-2025": Price(2.50, 10.00),
    "cohere/command-r-plus": Price(2.50, 10.00),
    "cohere/command-r": Price(0.15, 0.60),
    "cohere/command-r7b": Price(0.0375, 0.15),
    "cohere/command-r7b-12-2024": Price(0.0375, 0.15),
    "cohere/embed-v4.0": Price(0.12, 0.0),
    "cohere/embed-english-v3.0": Price(0.10, 0.0),
}

_SUFFIX = re.compile(r"-(\d{8}|\d{4}-\d{2}-\d{2}|\d{2}-\d{4}|\d{3}|latest|preview)$")


def _variants(name: str) -> Iterable[str]:
    yield name
    base = name
    while True:
        stripped = _SUFFIX.sub("", base)
        if stripped == base:
            return
        base = stripped
        yield base


class PriceTable:
    """The built-in prices extended by ``pricing:`` from ``loomgit.yaml``."""

    def __init__(self, extra: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self.extra: dict[str, Price] = {}
        for name, p in (extra or {}).items():
            self.extra[str(name)] = Price(float(p.get("input", 0.0)), float(p.get("output", 0.0)))

    def lookup(
        self, name: str, *, aliases: Iterable[str] = (), local: bool = False
    ) -> Price | None:
        names = [name, *aliases]
        for n in names:
            if n in self.extra:
                return self.extra[n]
            prefix = n.split("/", 1)[0]
            if f"{prefix}/*" in self.extra:
                return self.extra[f"{prefix}/*"]
        for n in names:
            for v in _variants(n):
                if v in BUILTIN:
                    return BUILTIN[v]
        return Price(0.0, 0.0) if local else None

    def cost(
        self, name: str, usage: Usage, *, aliases: Iterable[str] = (), local: bool = False
    ) -> float | None:
        price = self.lookup(name, aliases=aliases, local=local)
        if price is None:
            return None
        return price.cost(usage.input_tokens, usage.output_tokens)


def cost_usd(
    name: str, usage: Usage, pricing: Mapping[str, Mapping[str, float]] | None = None
) -> float | None:
    """USD for ``usage`` on ``name`` (``provider/model``), or None when the price is unknown."""
    return PriceTable(pricing).cost(name, usage)
