"""Templates of formats that only substitute variables (GitHub Models ``{{name}}``,
Mustache as Prompty uses it), turned into Jinja sources that can do nothing else.

Every placeholder becomes ``{{ name }}``; every other ``{`` that Jinja could read as the
start of a tag, expression or comment is written as ``{{ "{" }}``, so text such as
``{% for %}`` or ``{{ ''.__class__ }}`` in such a file stays text and nothing in it runs.
"""

from __future__ import annotations

import re

from loomgit.errors import PromptError
from loomgit.prompt.parts import MessageTemplate

# GitHub Models: exactly ``{{name}}`` (gh models replaces the literal string "{{" + key + "}}")
_GH = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")
# Mustache variables: {{ name }}, {{{ name }}}, {{& name }} (dotted names allowed)
_MUSTACHE = re.compile(r"\{\{\{\s*([A-Za-z_][\w.]*)\s*\}\}\}|\{\{&?\s*([A-Za-z_][\w.]*)\s*\}\}")
_MUSTACHE_TAG = re.compile(r"\{\{\s*([#^/>!=])")
_OPEN = re.compile(r"\{(?=[{%#]|\Z)")


def _escape(text: str) -> str:
    return _OPEN.sub('{{ "{" }}', text)


def _convert(text: str, pattern: re.Pattern[str]) -> tuple[str, list[str]]:
    out: list[str] = []
    names: list[str] = []
    pos = 0
    for m in pattern.finditer(text):
        name = next(g for g in m.groups() if g)
        out.append(_escape(text[pos : m.start()]))
        out.append("{{ " + name + " }}")
        names.append(name.split(".")[0])
        pos = m.end()
    out.append(_escape(text[pos:]))
    return "".join(out), names


def github_source(text: str) -> tuple[str, list[str]]:
    """The Jinja source of a GitHub Models message and the variables it uses."""
    return _convert(text, _GH)


def mustache_source(text: str, path: str, line: int) -> tuple[str, list[str]]:
    """The Jinja source of a Mustache template that only uses variables; sections,
    partials and other tags are refused (loomgit renders variables only)."""
    m = _MUSTACHE_TAG.search(text)
    if m is not None:
        at = line + text[: m.start()].count("\n")
        raise PromptError(
            f"Mustache tag '{{{{{m.group(1)}' is not supported (loomgit renders Mustache "
            "variables {{name}} only; use template: jinja2 for logic)",
            path=path,
            line=at,
        )
    return _convert(text, _MUSTACHE)


def mustache_messages(
    messages: tuple[MessageTemplate, ...], path: str
) -> tuple[MessageTemplate, ...]:
    """Messages of a Prompty ``template: mustache`` file as variable-only Jinja sources."""
    return tuple(
        MessageTemplate(m.role, mustache_source(m.source, path, m.line)[0], m.line)
        for m in messages
    )


__all__ = ["github_source", "mustache_messages", "mustache_source"]
