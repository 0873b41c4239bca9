"""loomgit: prompts kept in git, versioned by their history.

The library API is small and typed::

    import loomgit
    prompt = loomgit.parse_prompt(text, "support/summarize.prompt")
    findings = loomgit.validate(prompt)
    messages = prompt.render({"ticket": "Printer on fire"})

Every name is imported on first use, so ``import loomgit`` imports nothing else, and no
module of the package imports from here (the version lives in ``loomgit._version``). The
types of the public names are declared in ``__init__.pyi``.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ConfigError",
    "Finding",
    "LoomgitError",
    "Prompt",
    "PromptError",
    "RenderError",
    "SandboxError",
    "Variable",
    "Workspace",
    "__version__",
    "experiment",
    "load",
    "load_config",
    "parse_prompt",
    "read_prompt",
    "render",
    "validate",
]

# public name -> (module, attribute)
_LAZY: dict[str, tuple[str, str]] = {
    "__version__": ("loomgit._version", "__version__"),
    "ConfigError": ("loomgit.errors", "ConfigError"),
    "LoomgitError": ("loomgit.errors", "LoomgitError"),
    "PromptError": ("loomgit.errors", "PromptError"),
    "RenderError": ("loomgit.errors", "RenderError"),
    "SandboxError": ("loomgit.errors", "SandboxError"),
    "Finding": ("loomgit.findings", "Finding"),
    "Prompt": ("loomgit.prompt.model", "Prompt"),
    "Variable": ("loomgit.prompt.model", "Variable"),
    "Workspace": ("loomgit.workspace", "Workspace"),
    "experiment": ("loomgit.experiments.api", "experiment"),
    "load": ("loomgit.app.bundle", "load"),
    "load_config": ("loomgit.config", "load_config"),
    "parse_prompt": ("loomgit.prompt.parse", "parse_prompt"),
    "read_prompt": ("loomgit.prompt.parse", "read_prompt"),
    "validate": ("loomgit.prompt.validate", "validate_prompt"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value: Any = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'loomgit' has no attribute {name!r}")


def render(prompt: Any, variables: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Render ``prompt``'s messages (``variables=None`` uses its ``sample``)."""
    messages: list[dict[str, Any]] = prompt.render(variables)
    return messages
