"""loomgit: prompts kept in git, versioned by their history.

The library API is small and typed::

    import loomgit
    prompt = loomgit.parse_prompt(text, "support/summarize.prompt")
    findings = loomgit.validate(prompt)
    messages = prompt.render({"ticket": "Printer on fire"})

Names are imported on first use so that ``import loomgit`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loomgit._version import __version__

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

_LAZY = {
    "ConfigError": "loomgit.errors",
    "LoomgitError": "loomgit.errors",
    "PromptError": "loomgit.errors",
    "RenderError": "loomgit.errors",
    "SandboxError": "loomgit.errors",
    "Finding": "loomgit.findings",
    "Prompt": "loomgit.prompt.model",
    "Variable": "loomgit.prompt.model",
    "Workspace": "loomgit.workspace",
    "experiment": "loomgit.experiments.api",
    "load": "loomgit.app.bundle",
    "load_config": "loomgit.config",
    "parse_prompt": "loomgit.prompt.parse",
    "read_prompt": "loomgit.prompt.parse",
}

if TYPE_CHECKING:
    from loomgit.app.bundle import load
    from loomgit.config import load_config
    from loomgit.errors import ConfigError, LoomgitError, PromptError, RenderError, SandboxError
    from loomgit.experiments.api import experiment
    from loomgit.findings import Finding
    from loomgit.prompt.model import Prompt, Variable
    from loomgit.prompt.parse import parse_prompt, read_prompt
    from loomgit.workspace import Workspace


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'loomgit' has no attribute {name!r}")


def render(prompt: Prompt, variables: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """Render ``prompt``'s messages (``variables=None`` uses its ``sample``)."""
    return prompt.render(variables)


def validate(prompt: Prompt) -> list[Finding]:
    """Findings (errors and warnings) for a parsed prompt."""
    from loomgit.prompt.validate import validate_prompt

    return validate_prompt(prompt)
