"""What a model's tokens cost (USD per million), as the provider layer prices it: the
one place batch code looks a price up (the type is :class:`loomgit.providers.pricing.Price`)."""

from __future__ import annotations

from typing import Any

from loomgit.providers.names import resolve
from loomgit.providers.pricing import Price, PriceTable

__all__ = ["Price", "price_for"]


def price_for(ws: Any, model: str) -> Price | None:
    """USD per 1M tokens for ``model`` as the provider layer prices it (``pricing:`` in
    loomgit.yaml, then the built-in table; models served on this machine are free).
    None when the price is unknown."""
    config = ws.config
    spec = resolve(model, config)
    priced = spec.replay_of or spec
    return PriceTable(config.pricing).lookup(
        priced.label, aliases=priced.price_aliases, local=priced.local
    )
