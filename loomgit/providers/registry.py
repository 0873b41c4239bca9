"""Provider types to the code that builds them: one table of built-ins, and the
``loomgit.providers`` entry-point group for everything else.

A factory takes the :class:`~loomgit.providers.spec.Spec` of one model and a
:class:`BuildContext` and returns a :class:`~loomgit.providers.base.Provider` that makes one
attempt per call (retries, limits and costs are added around it by the caller). A plugin's
entry point names either such a factory or a ``Provider`` subclass; a subclass of
:class:`~loomgit.providers.http.HTTPProvider` gets ``base_url``, the API key and the shared
HTTP client like the built-in HTTP providers, any other subclass is built as
``cls(model, label=..., defaults=params)``. ``register()`` adds a type in-process (tests,
embedding applications). See ``docs/plugins.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import loomgit.plugins as plugins
from loomgit.config import Config, load_config
from loomgit.errors import LoomgitError, PluginError
from loomgit.providers.anthropic import AnthropicProvider
from loomgit.providers.base import Provider
from loomgit.providers.cohere import CohereProvider
from loomgit.providers.echo import EchoProvider
from loomgit.providers.errors import ProviderConfigError
from loomgit.providers.gemini import GeminiProvider
from loomgit.providers.http import HTTPProvider
from loomgit.providers.ollama import OllamaProvider
from loomgit.providers.openai import OpenAIProvider
from loomgit.providers.replay import RecordingStore, ReplayProvider, store_from_config
from loomgit.providers.spec import Spec, api_key

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class BuildContext:
    """What a factory may use besides the Spec."""

    env: Mapping[str, str]
    http: httpx.AsyncClient | None = None  # shared client of the caller (None: make your own)
    store: RecordingStore | None = None  # recordings, for ``replay``
    config: Config | None = None


ProviderFactory = Callable[[Spec, BuildContext], Provider]


def http_factory(cls: type[HTTPProvider]) -> ProviderFactory:
    """The factory of an HTTP provider class: base URL, key, headers, timeout from the Spec."""

    def make(spec: Spec, context: BuildContext) -> Provider:
        key, var = api_key(spec, context.env)
        return cls(
            spec.model,
            label=spec.label,
            defaults=spec.params,
            base_url=spec.base_url,
            api_key=key,
            api_key_env=var,
            http=context.http,
            timeout_s=spec.settings.timeout_s,
            headers=spec.headers,
            local=spec.local,
        )

    return make


def plain_factory(cls: type[Provider]) -> ProviderFactory:
    """The factory of a provider class that needs only the model and its default params."""

    def make(spec: Spec, context: BuildContext) -> Provider:
        return cls(spec.model, label=spec.label, defaults=spec.params)

    return make


def _replay(spec: Spec, context: BuildContext) -> Provider:
    store = context.store
    if store is None:
        store = store_from_config(context.config or load_config())
    assert spec.replay_of is not None
    return ReplayProvider(spec.replay_of.label, store, defaults=spec.params)


BUILTIN: dict[str, ProviderFactory] = {
    "openai": http_factory(OpenAIProvider),
    "anthropic": http_factory(AnthropicProvider),
    "gemini": http_factory(GeminiProvider),
    "cohere": http_factory(CohereProvider),
    "ollama": http_factory(OllamaProvider),
    "echo": plain_factory(EchoProvider),
    "replay": _replay,
}
HTTP_TYPES = {
    "openai",
    "anthropic",
    "gemini",
    "cohere",
    "ollama",
}  # built-ins that share an HTTP client

_registered: dict[str, ProviderFactory] = {}
_loaded: dict[str, tuple[ProviderFactory, bool]] = {}  # plugin name -> (factory, uses HTTP)


def register(name: str, factory: ProviderFactory | type[Provider], *, http: bool = False) -> None:
    """Add the provider type ``name`` in this process (a plugin without packaging)."""
    if name in BUILTIN:
        raise ValueError(f"{name!r} is a built-in provider type")
    made, uses_http = _as_factory(name, factory)
    _registered[name] = made
    _loaded[name] = (made, uses_http or http)


def unregister(name: str) -> None:
    _registered.pop(name, None)
    _loaded.pop(name, None)


def _as_factory(name: str, obj: object) -> tuple[ProviderFactory, bool]:
    if isinstance(obj, type) and issubclass(obj, HTTPProvider):
        return http_factory(obj), True
    if isinstance(obj, type) and issubclass(obj, Provider):
        return plain_factory(obj), False
    if callable(obj) and not isinstance(obj, type):
        return obj, False
    raise PluginError(
        f"provider plugin {name!r} gives {obj!r}: expected a Provider subclass "
        "or a factory(spec, context) -> Provider"
    )


def _plugin(name: str) -> tuple[ProviderFactory, bool] | None:
    if name not in _loaded:
        obj = plugins.load(plugins.PROVIDERS, name, "provider")
        if obj is None:
            return None
        _loaded[name] = _as_factory(name, obj)
    return _loaded[name]


def is_builtin(name: str) -> bool:
    return name in BUILTIN


def exists(name: str) -> bool:
    """Whether ``name`` is a provider type (a plugin's entry point is imported to know)."""
    return name in BUILTIN or _plugin(name) is not None


def uses_http(name: str) -> bool:
    """Whether providers of this type take the caller's shared HTTP client."""
    if name in BUILTIN:
        return name in HTTP_TYPES
    found = _plugin(name)
    return found is not None and found[1]


def plugin_names() -> list[str]:
    """Provider types added by :func:`register` and by installed distributions."""
    return sorted({*_registered, *plugins.names(plugins.PROVIDERS)} - set(BUILTIN))


def build(
    spec: Spec,
    *,
    http: httpx.AsyncClient | None = None,
    env: Mapping[str, str] | None = None,
    store: RecordingStore | None = None,
    config: Config | None = None,
) -> Provider:
    """The provider itself (one attempt per call, no retries)."""
    context = BuildContext(os.environ if env is None else env, http, store, config)
    if spec.type in BUILTIN:
        return BUILTIN[spec.type](spec, context)
    found = _plugin(spec.type)
    if found is None:
        raise ProviderConfigError(f"{spec.label}: unknown provider type {spec.type!r}")
    try:
        provider = found[0](spec, context)
    except LoomgitError:
        raise
    except Exception as e:
        raise PluginError(
            f"provider plugin {spec.type!r} failed to build {spec.label}: {type(e).__name__}: {e}"
        ) from e
    if not isinstance(provider, Provider):
        raise PluginError(
            f"provider plugin {spec.type!r} built {type(provider).__name__}, not a Provider"
        )
    return provider
