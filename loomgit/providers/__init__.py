"""Model providers: one async interface over OpenAI-compatible servers, Anthropic, Gemini,
Cohere, and the offline ``echo`` and ``replay`` providers.

``get_provider(name, config)`` gives one model's provider with retries, limits, a circuit
breaker and costs; ``ModelClient(config)`` adds the response cache and recordings and is
what the eval engine uses. Provider types are a registry (``registry.py``): other packages
add types through the ``loomgit.providers`` entry-point group (``docs/plugins.md``).
Submodules are imported on first use, and httpx only on the first request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loomgit.lazy import attributes
from loomgit.providers.base import Completion, Provider, Usage

if TYPE_CHECKING:
    from loomgit.providers.cache import ResponseCache, request_key
    from loomgit.providers.client import ModelClient, get_provider
    from loomgit.providers.errors import (
        ProviderAuthError,
        ProviderConfigError,
        ProviderRejected,
        ProviderTimeout,
        ProviderTransientError,
        ProviderUnavailable,
        RecordingMissing,
    )
    from loomgit.providers.names import resolve
    from loomgit.providers.pricing import PriceTable, cost_usd
    from loomgit.providers.registry import register
    from loomgit.providers.resilience import ResilienceSettings

__all__ = [
    "Completion",
    "ModelClient",
    "PriceTable",
    "Provider",
    "ProviderAuthError",
    "ProviderConfigError",
    "ProviderRejected",
    "ProviderTimeout",
    "ProviderTransientError",
    "ProviderUnavailable",
    "RecordingMissing",
    "ResilienceSettings",
    "ResponseCache",
    "Usage",
    "cost_usd",
    "get_provider",
    "register",
    "request_key",
    "resolve",
]

_LAZY = {
    "ModelClient": "client",
    "ResponseCache": "cache",
    "request_key": "cache",
    "PriceTable": "pricing",
    "cost_usd": "pricing",
    "get_provider": "client",
    "register": "registry",
    "resolve": "names",
    "ResilienceSettings": "resilience",
    **{
        n: "errors"
        for n in (
            "ProviderAuthError",
            "ProviderConfigError",
            "ProviderRejected",
            "ProviderTimeout",
            "ProviderTransientError",
            "ProviderUnavailable",
            "RecordingMissing",
        )
    },
}


__getattr__ = attributes(__name__, _LAZY)
