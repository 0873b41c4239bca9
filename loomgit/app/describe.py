"""One prompt as plain JSON for consumers outside Python: what ``loomgit serve`` answers
for ``GET /v1/prompts/{id}`` and what a bundle holds for each prompt.

The shape (every key always present)::

    {"id", "version", "stage", "content_hash", "source_commit", "path", "description",
     "model": str | None, "params": {...},
     "variables": {JSON Schema of the variables object},
     "messages": [{"role": "system", "template": "..."},
                  {"role": "placeholder", "variable": "history"}, ...],
     "tools": [OpenAI function tools], "output": {"format", "schema"} | None,
     "sample": {...} | None,
     "portable": bool, "portable_problems": [{"path", "line", "construct", "message"}],
     "portable_messages": [{"role", "template", "line"} | {"role", "text"}
                           | {"role": "placeholder", "variable"}] | None}

``variables`` is a JSON Schema (draft 2020-12) of the object ``render`` takes: declared
variables with their types, or, for a prompt with no ``variables:`` block, the names its
templates use, each of any type and required.

``portable`` says whether every template keeps to the subset any language renders
(:mod:`loomgit.prompt.portable`); ``portable_problems`` names each construct that does
not (file, line, what); ``portable_messages`` (null when not portable) are the messages
with their includes inlined, as the JavaScript loader in ``clients/js/`` renders them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loomgit.prompt.model import Prompt, Variable
from loomgit.prompt.parts import IncludeLoader
from loomgit.prompt.portable import portable_messages, portable_problems
from loomgit.prompt.render import interface

if TYPE_CHECKING:
    from loomgit.app.bundle import LoadedPrompt

# loomgit variable type -> JSON Schema for one value
_TYPE_SCHEMA: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "array": {"type": "array"},
    "object": {"type": "object"},
    "any": {},
    "messages": {"type": "array", "items": {"type": "object", "required": ["role"]}},
    "media": {"type": "string", "description": "a URL or a data: URL"},
}


def variable_schema(var: Variable) -> dict[str, Any]:
    """The JSON Schema of one declared variable's value."""
    schema = dict(_TYPE_SCHEMA.get(var.type, {}))
    if var.enum is not None:
        schema["enum"] = list(var.enum)
    if var.description:
        schema["description"] = var.description
    if not var.required:
        schema["default"] = var.default
    return schema


def variables_schema(prompt: Prompt, loader: IncludeLoader | None = None) -> dict[str, Any]:
    """The JSON Schema of the variables object ``render`` takes."""
    variables = interface(prompt, loader)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {name: variable_schema(v) for name, v in variables.items()},
        "required": [name for name, v in variables.items() if v.required],
    }


def message_templates(prompt: Prompt) -> list[dict[str, Any]]:
    """Each message's role and Jinja source; a conversation placeholder names its variable."""
    out: list[dict[str, Any]] = []
    for m in prompt.messages:
        if m.placeholder is not None:
            out.append({"role": "placeholder", "variable": m.placeholder})
        else:
            out.append({"role": m.role, "template": m.source})
    return out


def describe(lp: LoadedPrompt) -> dict[str, Any]:
    """``lp`` as the JSON object the module docstring shows."""
    p = lp.prompt
    out = p.output
    return {
        "id": lp.id,
        "version": lp.version,
        "stage": lp.stage,
        "content_hash": lp.content_hash,
        "source_commit": lp.source_commit,
        "path": lp.path,
        "description": p.description,
        "model": p.model,
        "params": dict(p.params),
        "variables": variables_schema(p, lp.includes.get),
        "messages": message_templates(p),
        "tools": [t.to_openai() for t in p.tools],
        "output": None if out is None else out.to_dict(),
        "sample": p.sample,
        **portability(p, lp.includes),
    }


_PORTABILITY: dict[Any, dict[str, Any]] = {}


def portability(prompt: Prompt, includes: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``portable``, ``portable_problems`` and ``portable_messages`` of ``prompt``,
    whose includes are ``includes`` (path -> text). Remembered per template content: a
    server describing the same prompt again parses nothing."""
    incs = dict(includes or {})
    media = tuple(n for n, v in (prompt.variables or {}).items() if v.type == "media")
    key = (prompt.path, prompt.messages, media, tuple(sorted(incs.items())))
    got = _PORTABILITY.get(key)
    if got is None:
        problems = portable_problems(prompt, incs.get)
        got = {
            "portable": not problems,
            "portable_problems": [
                {**pr.to_dict(), "message": f"{pr.path}:{pr.line}: {pr.message}"}
                if pr.line
                else {**pr.to_dict(), "message": f"{pr.path}: {pr.message}"}
                for pr in problems
            ],
            "portable_messages": None if problems else portable_messages(prompt, incs.get),
        }
        if len(_PORTABILITY) > 1024:
            _PORTABILITY.clear()
        _PORTABILITY[key] = got
    pm = got["portable_messages"]
    return {
        "portable": got["portable"],
        "portable_problems": [dict(p) for p in got["portable_problems"]],
        "portable_messages": None if pm is None else [dict(m) for m in pm],
    }
