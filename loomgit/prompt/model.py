"""Value objects for prompts: variables, message templates, the prompt itself."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loomgit.prompt.render import IncludeLoader

VARIABLE_TYPES = ("string", "number", "integer", "boolean", "array", "object", "any")
ROLES = ("system", "user", "assistant")
_MISSING = object()


@dataclass(frozen=True)
class Variable:
    """A declared template variable."""

    name: str
    type: str = "any"
    required: bool = True
    default: Any = None
    enum: tuple[Any, ...] | None = None
    description: str = ""
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type, "required": self.required}
        if not self.required:
            d["default"] = self.default
        if self.enum is not None:
            d["enum"] = list(self.enum)
        if self.description:
            d["description"] = self.description
        return d


@dataclass(frozen=True)
class MessageTemplate:
    """One message of the body: its role and its Jinja source, found before rendering."""

    role: str
    source: str
    line: int  # 1-based line in the file where ``source`` starts


@dataclass(frozen=True)
class OutputSpec:
    format: str = "text"  # text | json
    schema: dict[str, Any] | None = None


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

    @property
    def declares_variables(self) -> bool:
        return self.variables is not None

    @property
    def content_hash(self) -> str:
        return content_hash(self.text)

    def render(
        self,
        variables: Mapping[str, Any] | None = None,
        *,
        loader: IncludeLoader | None = None,
        **limits: Any,
    ) -> list[dict[str, str]]:
        """Render every message; ``variables=None`` uses ``sample``."""
        from loomgit.prompt.render import render_prompt

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
            "output": (
                None
                if self.output is None
                else {"format": self.output.format, "schema": self.output.schema}
            ),
            "tags": list(self.tags),
            "messages": [{"role": m.role, "template": m.source} for m in self.messages],
        }


def normalize_text(text: str) -> str:
    """The form content hashes are taken of: LF line ends, no trailing blanks, one final LF."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [ln.rstrip() for ln in text.split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


def content_hash(text: str, includes: Mapping[str, str] | None = None) -> str:
    """sha256 of the normalized text, and of each included file's normalized text."""
    h = hashlib.sha256(normalize_text(text).encode("utf-8"))
    for name in sorted(includes or {}):
        h.update(b"\0include\0" + name.encode("utf-8") + b"\0")
        h.update(normalize_text((includes or {})[name]).encode("utf-8"))
    return h.hexdigest()
