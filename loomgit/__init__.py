"""loomgit: prompts kept in git, versioned by their history.

The library API is small and typed::

    import loomgit
    prompt = loomgit.parse_prompt(text, "support/summarize.prompt")
    findings = loomgit.validate(prompt)
    messages = prompt.render({"ticket": "Printer on fire"})

Every name is imported on first use, so ``import loomgit`` imports nothing else, and no
module of the package imports from here (the version lives in ``loomgit._version``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from loomgit._version import __version__
    from loomgit.app.bundle import load
    from loomgit.config import load_config
    from loomgit.errors import ConfigError, LoomgitError, PromptError, RenderError, SandboxError
    from loomgit.experiments.api import experiment
    from loomgit.findings import Finding
    from loomgit.prompt.model import Prompt, Variable
    from loomgit.prompt.parse import parse_prompt, read_prompt
    from loomgit.prompt.validate import validate_prompt as validate
    from loomgit.workspace import Workspace


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'loomgit' has no attribute {name!r}")


def render(prompt: Prompt, variables: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """Render ``prompt``'s messages (``variables=None`` uses its ``sample``)."""
    return prompt.render(variables)
