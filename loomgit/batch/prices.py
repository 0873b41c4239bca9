"""What a model's tokens cost (USD per million), as the provider layer prices it. The one
place batch code gets a :class:`Price`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loomgit.providers.pricing import PriceTable
from loomgit.providers.registry import resolve


@dataclass(frozen=True)
class Price:
    """USD per one million tokens."""

    input: float
    output: float

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


def price_for(ws: Any, model: str) -> Price | None:
    """USD per 1M tokens for ``model`` as the provider layer prices it (``pricing:`` in
    loomgit.yaml, then the built-in table; models served on this machine are free).
    None when the price is unknown."""
    config = ws.config
    spec = resolve(model, config)
    priced = spec.replay_of or spec
    found = PriceTable(config.pricing).lookup(
        priced.label, aliases=priced.price_aliases, local=priced.local
    )
    return None if found is None else Price(float(found.input), float(found.output))
