"""Tools a prompt offers the model (``tools:`` in frontmatter), and the request params a
prompt implies.

Requests are built in OpenAI's chat vocabulary whatever the provider: ``tools`` as
``[{"type": "function", "function": {name, description, parameters}}]``, ``tool_choice``,
and ``response_format`` (``json_schema``) for structured output. Each provider maps them
to its own API (:mod:`loomgit.providers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loomgit.errors import PromptError
from loomgit.prompt.parts import OutputSpec


@dataclass(frozen=True)
class Tool:
    """One function the model may call. ``ref`` is the tracked file it came from, if any;
    a ``$ref`` entry not read yet is *pending* (no name: see
    :func:`loomgit.prompt.toolspec.resolve_tools`)."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    ref: str | None = None
    line: int | None = None

    @property
    def pending(self) -> bool:
        return not self.name and self.ref is not None

    def key(self) -> tuple[str, str, Any]:
        """What a request carries of the tool (not where it was written)."""
        return (self.name, self.description, self.parameters)

    def to_openai(self) -> dict[str, Any]:
        if self.pending:
            raise PromptError(
                f"tool file {self.ref!r} was not read (internal: resolve tools first)"
            )
        fn: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
        if self.description:
            fn["description"] = self.description
        return {"type": "function", "function": fn}

    def to_dict(self) -> dict[str, Any]:
        if self.pending:
            return {"$ref": self.ref}
        d: dict[str, Any] = {"name": self.name}
        if self.description:
            d["description"] = self.description
        d["parameters"] = self.parameters
        if self.ref:
            d["ref"] = self.ref
        return d


def response_format(output: OutputSpec | None) -> dict[str, Any] | None:
    """The OpenAI ``response_format`` an output spec asks for (``None``: free text)."""
    if output is None or output.format != "json" or not output.schema:
        return None
    return {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": output.schema, "strict": False},
    }


def call_params(
    params: Mapping[str, Any], tools: tuple[Tool, ...], output: OutputSpec | None
) -> dict[str, Any]:
    """The params a prompt sends: its own ``params``, plus its tools and output format
    (a ``tools`` or ``response_format`` written in ``params`` wins)."""
    out = dict(params)
    if tools and "tools" not in out:
        out["tools"] = [t.to_openai() for t in tools]
    fmt = response_format(output)
    if fmt is not None and "response_format" not in out:
        out["response_format"] = fmt
    return out
