"""The parsed prompt. Its parts (variables, message templates, the output spec, content
hashes) are defined in :mod:`loomgit.prompt.parts` and re-exported here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loomgit.prompt.parts import (
    ROLES,
    VARIABLE_TYPES,
    IncludeLoader,
    MessageTemplate,
    OutputSpec,
    Variable,
    content_hash,
    normalize_text,
)
from loomgit.prompt.render import render_prompt
from loomgit.prompt.tools import Tool, call_params


@dataclass(frozen=True)
class Prompt:
    """A parsed prompt file. ``render()`` fills it with variables."""

    id: str
    path: str
    text: str
    messages: tuple[MessageTemplate, ...]
    description: str = ""
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Variable] | None = None  # None: no ``variables:`` block
    output: OutputSpec | None = None
    sample: dict[str, Any] | None = None
    tags: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    meta_lines: dict[str, int] = field(default_factory=dict)
    kind: str = "loomgit"  # loomgit | plain | prompty
    body_line: int = 1
    tools: tuple[Tool, ...] = ()

    @property
    def declares_variables(self) -> bool:
        return self.variables is not None

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)

    def call_params(self) -> dict[str, Any]:
        """``params`` plus what the prompt's tools and output spec add to a request."""
        return call_params(self.params, self.tools, self.output)

    def render(
        self,
        variables: Mapping[str, Any] | None = None,
        *,
        loader: IncludeLoader | None = None,
        **limits: Any,
    ) -> list[dict[str, Any]]:
        """Render every message; ``variables=None`` uses ``sample``."""
        return render_prompt(self, variables, loader=loader, **limits)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "description": self.description,
            "model": self.model,
            "params": self.params,
            "variables": (
                None
                if self.variables is None
                else {k: v.to_dict() for k, v in self.variables.items()}
            ),
            "output": None if self.output is None else self.output.to_dict(),
            "tools": [t.to_dict() for t in self.tools],
            "tags": list(self.tags),
            "messages": [{"role": m.role, "template": m.source} for m in self.messages],
        }


__all__ = [
    "ROLES",
    "VARIABLE_TYPES",
    "IncludeLoader",
    "MessageTemplate",
    "OutputSpec",
    "Prompt",
    "Tool",
    "Variable",
    "content_hash",
    "normalize_text",
]
