"""Model names to providers.

A model is named ``provider/model`` (``openai/gpt-4o-mini``, ``anthropic/claude-sonnet-4-5``,
``gemini/gemini-2.5-flash``, ``cohere/command-r``, ``ollama/llama3.2``), ``echo``,
``replay/<provider>/<model>``, or by an entry of ``providers:`` in ``loomgit.yaml``::

    providers:
      local:                          # local/llama3.2, local/qwen2.5...
        type: openai                  # openai | anthropic | gemini | cohere | echo | a preset
        base_url: http://localhost:11434/v1
        api_key_env: null             # the variable holding the key (null: no key)
        params: {temperature: 0}      # defaults under each prompt's params
        headers: {X-Title: loomgit}   # extra request headers
        max_concurrency: 2            # and the other resilience settings
      claude: {type: anthropic, model: claude-sonnet-4-5}   # "claude" alone names this model
      openai: {rpm: 500}              # settings for a built-in provider

Keys come only from environment variables, and a provider's default key variable is sent
only to its default host: an entry with its own ``base_url`` sends a key only when it names
``api_key_env``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from loomgit.providers.base import Provider
from loomgit.providers.errors import ProviderConfigError, config_error
from loomgit.providers.resilience import Limits, ResilienceSettings, ResilientProvider

if TYPE_CHECKING:
    import httpx

    from loomgit.config import Config
    from loomgit.providers.replay import RecordingStore


@dataclass(frozen=True)
class Preset:
    type: str
    base_url: str
    key_envs: tuple[str, ...] = ()
    base_url_env: str | None = None
    local: bool = False


PRESETS: dict[str, Preset] = {
    "openai": Preset("openai", "https://api.openai.com/v1", ("OPENAI_API_KEY",), "OPENAI_BASE_URL"),
    "anthropic": Preset(
        "anthropic", "https://api.anthropic.com/v1", ("ANTHROPIC_API_KEY",), "ANTHROPIC_BASE_URL"
    ),
    "gemini": Preset(
        "gemini",
        "https://generativelanguage.googleapis.com/v1beta",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    ),
    "cohere": Preset("cohere", "https://api.cohere.com/v2", ("COHERE_API_KEY", "CO_API_KEY")),
    "ollama": Preset("openai", "http://localhost:11434/v1", (), "OLLAMA_HOST", local=True),
    "vllm": Preset("openai", "http://localhost:8000/v1", (), local=True),
    "lmstudio": Preset("openai", "http://localhost:1234/v1", (), local=True),
    "groq": Preset("openai", "https://api.groq.com/openai/v1", ("GROQ_API_KEY",)),
    "together": Preset("openai", "https://api.together.xyz/v1", ("TOGETHER_API_KEY",)),
    "cerebras": Preset("openai", "https://api.cerebras.ai/v1", ("CEREBRAS_API_KEY",)),
    "openrouter": Preset("openai", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",)),
    "mistral": Preset("openai", "https://api.mistral.ai/v1", ("MISTRAL_API_KEY",)),
    "deepseek": Preset("openai", "https://api.deepseek.com/v1", ("DEEPSEEK_API_KEY",)),
}
TYPES = ("openai", "anthropic", "gemini", "cohere", "echo")
ENTRY_KEYS = (
    "type",
    "base_url",
    "api_key_env",
    "params",
    "model",
    "headers",
    *ResilienceSettings.keys(),
)
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


@dataclass(frozen=True)
class Spec:
    """Everything needed to build one model's provider."""

    label: str  # the name as the user wrote it, normalised: "local/llama3.2"
    entry: str  # the provider it belongs to: limits and health are shared per entry
    type: str  # openai | anthropic | gemini | cohere | echo | replay
    model: str
    base_url: str | None = None
    key_envs: tuple[str, ...] = ()
    key_required: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    settings: ResilienceSettings = field(default_factory=ResilienceSettings)
    local: bool = False
    price_aliases: tuple[str, ...] = ()
    replay_of: Spec | None = None


def is_local_url(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.endswith(".localhost")


def _ollama_url(value: str) -> str:
    v = value.strip().rstrip("/")
    if "://" not in v:
        v = "http://" + v
    parts = urlsplit(v)
    host = parts.hostname or "localhost"
    if host == "0.0.0.0":
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or 11434
    return f"{parts.scheme}://{host}:{port}/v1"


def _entry_error(
    config: Config | None, name: str, key: str | None, msg: str
) -> ProviderConfigError:
    return config_error(config, ("providers", name, *((key,) if key else ())), msg)


def _check_entry(config: Config | None, name: str, entry: Mapping[str, Any]) -> None:
    for key in entry:
        if key == "api_key":
            raise _entry_error(
                config,
                name,
                key,
                "keys never go in loomgit.yaml: put the key in "
                "an environment variable and name it with api_key_env",
            )
        if key not in ENTRY_KEYS:
            close = difflib.get_close_matches(str(key), ENTRY_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _entry_error(
                config, name, key, f"unknown setting{hint}; known: {', '.join(ENTRY_KEYS)}"
            )
    for key, kind in (
        ("type", str),
        ("base_url", str),
        ("model", str),
        ("params", dict),
        ("headers", dict),
    ):
        if key in entry and not isinstance(entry[key], kind):
            raise _entry_error(
                config, name, key, f"must be a {'mapping' if kind is dict else 'string'}"
            )
    if (
        "api_key_env" in entry
        and entry["api_key_env"] is not None
        and not isinstance(entry["api_key_env"], str)
    ):
        raise _entry_error(
            config, name, "api_key_env", "must name an environment variable (or be null)"
        )


def resolve(
    name: str,
    config: Config | None = None,
    *,
    env: Mapping[str, str] | None = None,
    defaults: ResilienceSettings | None = None,
) -> Spec:
    """The :class:`Spec` for a model name; a clear :class:`ProviderConfigError` otherwise."""
    env = os.environ if env is None else env
    base_settings = defaults or ResilienceSettings()
    entries: dict[str, dict[str, Any]] = dict(config.providers) if config is not None else {}
    name = name.strip()
    if not name:
        raise ProviderConfigError("empty model name: use provider/model, e.g. openai/gpt-4o-mini")
    if name.startswith("replay/"):
        inner = resolve(name[len("replay/") :], config, env={}, defaults=base_settings)
        inner = replace(inner, key_required=False)
        return Spec(
            f"replay/{inner.label}",
            "replay",
            "replay",
            inner.label,
            params=inner.params,
            settings=base_settings,
            local=True,
            replay_of=inner,
        )
    prefix, sep, model = name.partition("/")
    entry = entries.get(prefix)
    if entry is not None:
        _check_entry(config, prefix, entry)
    if not sep:
        if entry is not None and entry.get("model"):
            model = str(entry["model"])
        elif prefix == "echo" or (entry is not None and entry.get("type") == "echo"):
            model = ""
        else:
            raise ProviderConfigError(
                f"model {name!r} needs the form provider/model (e.g. openai/gpt-4o-mini), "
                "or a providers: entry in loomgit.yaml with a model:"
            )
    elif not model:
        raise ProviderConfigError(f"model {name!r} names no model after the '/'")
    entry = entry or {}
    ptype = str(entry.get("type") or prefix)
    if ptype != "echo" and ptype not in PRESETS:
        if not entry and prefix not in PRESETS:
            known = ", ".join(sorted([*PRESETS, "echo", "replay"]))
            raise ProviderConfigError(
                f"unknown provider {prefix!r} in {name!r}; known: {known} — or add "
                f"providers: {{{prefix}: {{type: openai, base_url: ...}}}} to loomgit.yaml"
            )
        raise _entry_error(
            config,
            prefix,
            "type",
            f"unknown type {ptype!r}; use one of "
            f"{', '.join(TYPES)} or a preset ({', '.join(sorted(PRESETS))})",
        )
    settings = base_settings
    for key in ResilienceSettings.keys():
        if key in entry:
            try:
                settings = settings.updated({key: entry[key]})
            except ProviderConfigError as e:
                raise _entry_error(config, prefix, key, e.message.split(": ", 1)[1]) from None
    params = dict(entry.get("params") or {})
    headers = {str(k): str(v) for k, v in (entry.get("headers") or {}).items()}
    label = f"{prefix}/{model}" if model else prefix
    if ptype == "echo":
        return Spec(
            label if prefix != "echo" else name,
            prefix,
            "echo",
            model,
            params=params,
            settings=settings,
            local=True,
        )
    preset = PRESETS[ptype]
    base_url = entry.get("base_url")
    own_url = bool(base_url) and str(base_url).rstrip("/") != preset.base_url
    if not base_url and preset.base_url_env and env.get(preset.base_url_env):
        raw_url = env[preset.base_url_env]
        base_url = _ollama_url(raw_url) if preset.base_url_env == "OLLAMA_HOST" else raw_url
    base_url = str(base_url or preset.base_url)
    if "api_key_env" in entry:
        key_envs: tuple[str, ...] = (entry["api_key_env"],) if entry["api_key_env"] else ()
        required = bool(key_envs)
    elif own_url:
        key_envs, required = (), False
    else:
        key_envs, required = preset.key_envs, not preset.local
    local = preset.local or is_local_url(base_url)
    aliases: tuple[str, ...] = ()
    if prefix != ptype and not own_url:
        aliases = (f"{ptype}/{model}",)
    return Spec(
        label,
        prefix,
        preset.type,
        model,
        base_url,
        key_envs,
        required and not local,
        params,
        headers,
        settings,
        local,
        aliases,
    )


def api_key(spec: Spec, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(key, the variable it came from); raises when a required key is missing."""
    for var in spec.key_envs:
        value = env.get(var, "").strip()
        if value:
            return value, var
    if spec.key_required:
        alts = f" (or {', '.join(spec.key_envs[1:])})" if len(spec.key_envs) > 1 else ""
        raise ProviderConfigError(
            f"{spec.label}: no API key: set the environment variable {spec.key_envs[0]}{alts}, "
            f"e.g. export {spec.key_envs[0]}=... (or use --model echo to try without a model)"
        )
    return None, (spec.key_envs[0] if spec.key_envs else None)


def build(
    spec: Spec,
    *,
    http: httpx.AsyncClient | None = None,
    env: Mapping[str, str] | None = None,
    store: RecordingStore | None = None,
    config: Config | None = None,
) -> Provider:
    """The provider itself (one attempt per call, no retries)."""
    env = os.environ if env is None else env
    if spec.type == "echo":
        from loomgit.providers.echo import EchoProvider

        return EchoProvider(spec.model, label=spec.label, defaults=spec.params)
    if spec.type == "replay":
        from loomgit.providers.replay import ReplayProvider, store_from_config

        if store is None:
            if config is None:
                from loomgit.config import load_config

                config = load_config()
            store = store_from_config(config)
        assert spec.replay_of is not None
        return ReplayProvider(spec.replay_of.label, store, defaults=spec.params)
    key, var = api_key(spec, env)
    cls: type[Any]
    if spec.type == "anthropic":
        from loomgit.providers.anthropic import AnthropicProvider as cls
    elif spec.type == "gemini":
        from loomgit.providers.gemini import GeminiProvider as cls
    elif spec.type == "cohere":
        from loomgit.providers.cohere import CohereProvider as cls
    else:
        from loomgit.providers.openai import OpenAIProvider as cls
    provider: Provider = cls(
        spec.model,
        label=spec.label,
        defaults=spec.params,
        base_url=spec.base_url,
        api_key=key,
        api_key_env=var,
        http=http,
        timeout_s=spec.settings.timeout_s,
        headers=spec.headers,
        local=spec.local,
    )
    return provider


def get_provider(
    name: str,
    config: Config | None = None,
    *,
    http: httpx.AsyncClient | None = None,
    env: Mapping[str, str] | None = None,
    settings: ResilienceSettings | None = None,
    limits: Limits | None = None,
) -> Provider:
    """A ready provider for ``name``: retries, limits, circuit breaker and costs included.

    ``settings`` are the defaults under each ``providers:`` entry's own settings. Close it
    with ``await provider.aclose()`` (or ``async with``) unless ``http`` is yours.
    """
    from loomgit.providers.pricing import PriceTable

    spec = resolve(name, config, env=env, defaults=settings)
    inner = build(spec, http=http, env=env, config=config)
    table = PriceTable(config.pricing if config is not None else None)

    priced = spec.replay_of or spec  # a replayed answer costs what the recorded call cost

    def cost(c: Any) -> float | None:
        return table.cost(priced.label, c.usage, aliases=priced.price_aliases, local=priced.local)

    return ResilientProvider(inner, spec.settings, limits, cost)
