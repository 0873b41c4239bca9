"""What one model's provider is built from: a :class:`Spec`, the presets of known
services, and the API key lookup.

:mod:`loomgit.providers.names` turns a model name into a Spec;
:mod:`loomgit.providers.registry` builds the provider a Spec's ``type`` names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from loomgit.providers.errors import ProviderConfigError
from loomgit.providers.resilience import ResilienceSettings


@dataclass(frozen=True)
class Preset:
    """A known service: the provider type that speaks its API, and where it lives."""

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
    "ollama": Preset("ollama", "http://localhost:11434", (), "OLLAMA_HOST", local=True),
    "vllm": Preset("openai", "http://localhost:8000/v1", (), local=True),
    "lmstudio": Preset("openai", "http://localhost:1234/v1", (), local=True),
    "groq": Preset("openai", "https://api.groq.com/openai/v1", ("GROQ_API_KEY",)),
    "together": Preset("openai", "https://api.together.xyz/v1", ("TOGETHER_API_KEY",)),
    "cerebras": Preset("openai", "https://api.cerebras.ai/v1", ("CEREBRAS_API_KEY",)),
    "openrouter": Preset("openai", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",)),
    "mistral": Preset("openai", "https://api.mistral.ai/v1", ("MISTRAL_API_KEY",)),
    "deepseek": Preset("openai", "https://api.deepseek.com/v1", ("DEEPSEEK_API_KEY",)),
}
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


@dataclass(frozen=True)
class Spec:
    """Everything needed to build one model's provider."""

    label: str  # the name as the user wrote it, normalised: "local/llama3.2"
    entry: str  # the provider it belongs to: limits and health are shared per entry
    type: str  # a registered provider type: openai | anthropic | ... | echo | replay | a plugin
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
