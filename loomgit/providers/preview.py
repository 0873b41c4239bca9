"""The exact request a provider would get, built without a key and sent nowhere
(``loomgit render --format openai|anthropic|gemini|cohere|ollama``).

The model is the one named (``--model``, the prompt's ``model:``, ``defaults: {model}``)
when it is served by the API of the format asked for; otherwise its model name under that
format's provider (``--format anthropic`` of an ``openai/gpt-4o-mini`` prompt shows the
body for ``anthropic/gpt-4o-mini``). The params are the prompt's request params with the
provider entry's defaults under them, as a real call sends them. Base URL overrides
(``OPENAI_BASE_URL``, ``OLLAMA_HOST``...) are read from the environment; keys are not.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import loomgit.providers.registry as registry
from loomgit.providers.errors import ProviderConfigError
from loomgit.providers.http import HTTPProvider
from loomgit.providers.names import resolve
from loomgit.providers.spec import PRESETS, Spec

if TYPE_CHECKING:
    from loomgit.config import Config

FORMATS = ("openai", "anthropic", "gemini", "cohere", "ollama")
PLACEHOLDER = "MODEL"


@dataclass(frozen=True)
class Request:
    model: str  # provider/model the body is for
    url: str
    body: dict[str, Any]
    notes: tuple[str, ...]


def _spec(fmt: str, model: str | None, config: Config | None) -> tuple[Spec, list[str]]:
    notes: list[str] = []
    found: Spec | None = None
    if model:
        try:
            found = resolve(model, config)
        except ProviderConfigError:
            found = None
    wanted = PRESETS[fmt].type
    if found is not None and found.type == wanted:
        return found, notes
    if found is not None and found.model:
        name = found.model
    elif model and "/" in model:
        name = model.split("/", 1)[1]
    else:
        name = PLACEHOLDER
        notes.append(f"no model named: the body shows {PLACEHOLDER!r} as the model")
    return resolve(f"{fmt}/{name}", config), notes


def build(
    fmt: str,
    model: str | None,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    config: Config | None = None,
) -> Request:
    """The request ``fmt``'s provider would send for ``messages`` and ``params``."""
    if fmt not in FORMATS:
        raise ProviderConfigError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    spec, notes = _spec(fmt, model, config)
    # no key: built with an empty environment
    provider = registry.build(replace(spec, key_required=False), env={}, config=config)
    assert isinstance(provider, HTTPProvider)
    body = provider.request_body(messages, provider.merge_params(params), notes)
    return Request(spec.label, provider.base_url + provider.request_path(), body, tuple(notes))
