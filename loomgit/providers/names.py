"""Model names to :class:`~loomgit.providers.spec.Spec`.

A model is named ``provider/model`` (``openai/gpt-4o-mini``, ``anthropic/claude-sonnet-4-5``,
``gemini/gemini-2.5-flash``, ``cohere/command-r``, ``ollama/llama3.2``), ``echo``,
``replay/<provider>/<model>``, a provider type a plugin adds (``upper/any``, or ``upper``
alone), or by an entry of ``providers:`` in ``loomgit.yaml``::

    providers:
      local:                          # local/llama3.2, local/qwen2.5...
        type: openai                  # openai | anthropic | gemini | cohere | echo | a preset | a plugin
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

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import loomgit.providers.registry as registry
from loomgit.config import Config, did_you_mean
from loomgit.providers.errors import ProviderConfigError, config_error
from loomgit.providers.resilience import ResilienceSettings
from loomgit.providers.spec import PRESETS, Spec, is_local_url

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
    return f"{parts.scheme}://{host}:{port}"


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
            hint = did_you_mean(key, ENTRY_KEYS)
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


def _is_plugin(ptype: str) -> bool:
    """A type that is neither a preset nor built in, but registered or installed."""
    return ptype not in PRESETS and not registry.is_builtin(ptype) and registry.exists(ptype)


def _replay(name: str, config: Config | None, base_settings: ResilienceSettings) -> Spec:
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


def _settings(
    config: Config | None, prefix: str, entry: Mapping[str, Any], base: ResilienceSettings
) -> ResilienceSettings:
    settings = base
    for key in ResilienceSettings.keys():
        if key in entry:
            try:
                settings = settings.updated({key: entry[key]})
            except ProviderConfigError as e:
                raise _entry_error(config, prefix, key, e.message.split(": ", 1)[1]) from None
    return settings


def _unknown(config: Config | None, name: str, prefix: str, ptype: str, entry: Any) -> Exception:
    if not entry and prefix not in PRESETS:
        known = ", ".join(sorted([*PRESETS, "echo", "replay", *registry.plugin_names()]))
        return ProviderConfigError(
            f"unknown provider {prefix!r} in {name!r}; known: {known} — or add "
            f"providers: {{{prefix}: {{type: openai, base_url: ...}}}} to loomgit.yaml"
        )
    types = ", ".join([*TYPES, *registry.plugin_names()])
    return _entry_error(
        config,
        prefix,
        "type",
        f"unknown type {ptype!r}; use one of {types} or a preset ({', '.join(sorted(PRESETS))})",
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
        return _replay(name, config, base_settings)
    prefix, sep, model = name.partition("/")
    found = entries.get(prefix)
    if found is not None:
        _check_entry(config, prefix, found)
    entry: dict[str, Any] = found or {}
    ptype = str(entry.get("type") or prefix)
    plugin = ptype != "echo" and ptype not in PRESETS and _is_plugin(ptype)
    if not sep:
        if entry.get("model"):
            model = str(entry["model"])
        elif ptype == "echo" or plugin:
            model = ""
        else:
            raise ProviderConfigError(
                f"model {name!r} needs the form provider/model (e.g. openai/gpt-4o-mini), "
                "or a providers: entry in loomgit.yaml with a model:"
            )
    elif not model:
        raise ProviderConfigError(f"model {name!r} names no model after the '/'")
    if ptype != "echo" and ptype not in PRESETS and not plugin:
        raise _unknown(config, name, prefix, ptype, found)
    settings = _settings(config, prefix, entry, base_settings)
    params = dict(entry.get("params") or {})
    headers = {str(k): str(v) for k, v in (entry.get("headers") or {}).items()}
    label = f"{prefix}/{model}" if model else prefix
    if ptype == "echo":
        label = label if prefix != "echo" else name
        return Spec(label, prefix, "echo", model, params=params, settings=settings, local=True)
    if plugin:
        base_url = str(entry["base_url"]) if entry.get("base_url") else None
        key_envs = (str(entry["api_key_env"]),) if entry.get("api_key_env") else ()
        local = base_url is not None and is_local_url(base_url)
        return Spec(
            label,
            prefix,
            ptype,
            model,
            base_url,
            key_envs,
            bool(key_envs) and not local,
            params,
            headers,
            settings,
            local,
        )
    return _preset_spec(label, prefix, ptype, model, entry, env, params, headers, settings)


def _preset_spec(
    label: str,
    prefix: str,
    ptype: str,
    model: str,
    entry: Mapping[str, Any],
    env: Mapping[str, str],
    params: dict[str, Any],
    headers: dict[str, str],
    settings: ResilienceSettings,
) -> Spec:
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
