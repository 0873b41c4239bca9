"""Validation of a parsed prompt: everything ``loomgit check`` reports about one file."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from loomgit.config import closest
from loomgit.errors import LoomgitError
from loomgit.findings import Finding, error, warning
from loomgit.prompt.ghmodels import KEYS as GH_KEYS
from loomgit.prompt.ghmodels import test_data_problems
from loomgit.prompt.includes import refusals
from loomgit.prompt.model import Prompt
from loomgit.prompt.prompty import PROMPTY_KEYS
from loomgit.prompt.render import (
    IncludeLoader,
    render_prompt,
    syntax_problems,
    used_variables,
    value_problem,
)
from loomgit.prompt.schema import schema_error
from loomgit.prompt.toolspec import tool_problems
from loomgit.prompt.turncheck import hiding_names, part_findings

KNOWN_KEYS = {
    "id",
    "description",
    "model",
    "params",
    "variables",
    "inputs",
    "output",
    "sample",
    "tags",
    "name",
    "authors",
    "version",
    "metadata",
    "outputs",
    "template",
    "tools",
}


def _unknown_key(kind: str, key: str, known: Collection[str]) -> str:
    if kind != "ghmodels":
        return f"unknown frontmatter key {key!r}"
    close = closest(key, sorted(known))
    return f"unknown key {key!r}" + (f"; did you mean {close!r}?" if close else "")


def _line_of_name(prompt: Prompt, name: str) -> int | None:
    pat = re.compile(r"\b" + re.escape(name) + r"\b")
    for m in prompt.messages:
        for i, ln in enumerate(m.source.split("\n")):
            if ("{{" in ln or "{%" in ln) and pat.search(ln):
                return m.line + i
    return prompt.body_line


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why ``schema`` is not a valid JSON Schema, or None."""
    err = schema_error(schema)
    if err is None:
        return None
    message, where = err
    return f"output schema is not valid JSON Schema: {message}" + (
        f" (at {where})" if where else ""
    )


def validate_prompt(
    prompt: Prompt,
    loader: IncludeLoader | None = None,
    *,
    known_providers: set[str] | None = None,
    render_sample: bool = True,
) -> list[Finding]:
    """Findings for one prompt: syntax, variables, sample, output schema, model name."""
    path, lines = prompt.path, prompt.meta_lines
    out: list[Finding] = []
    known: Collection[str] = {"prompty": PROMPTY_KEYS, "ghmodels": GH_KEYS}.get(
        prompt.kind, KNOWN_KEYS
    )
    for key in prompt.meta:
        if key not in known:
            out.append(warning(path, lines.get(key), _unknown_key(prompt.kind, key, known)))
    syntax = syntax_problems(prompt, loader)
    out += [error(p, ln, msg, col) for p, ln, col, msg in syntax]
    if syntax:
        return out
    if loader is not None:
        refused = refusals(prompt, loader)
        out += [error(p, ln, msg) for p, ln, msg in refused]
        if refused:
            return out

    out += part_findings(prompt, loader)
    used = used_variables(prompt, loader)
    used |= hiding_names(prompt)  # a variable named image or document (check warns)
    if prompt.kind == "ghmodels":
        out += [error(path, ln, msg) for ln, msg in test_data_problems(prompt.text, path, used)]
    if prompt.variables is not None:
        for name in sorted(used - set(prompt.variables)):
            out.append(
                error(
                    path,
                    _line_of_name(prompt, name),
                    f"variable {name!r} is used but not declared under 'variables:'",
                )
            )
        for name in sorted(set(prompt.variables) - used):
            out.append(
                warning(
                    path,
                    prompt.variables[name].line,
                    f"variable {name!r} is declared but never used",
                )
            )
        for var in prompt.variables.values():
            if not var.required and var.default is not None:
                p = value_problem(var, var.default)
                if p:
                    out.append(error(path, var.line, f"default: {p}"))
    if prompt.sample is not None and prompt.variables is not None:
        sline = lines.get("sample")
        for key, value in prompt.sample.items():
            svar = prompt.variables.get(key)
            if svar is None:
                out.append(error(path, sline, f"sample sets unknown variable {key!r}"))
                continue
            p = value_problem(svar, value)
            if p:
                out.append(error(path, sline, f"sample: {p}"))
    if prompt.output is not None and prompt.output.schema is not None:
        p = schema_problem(prompt.output.schema)
        if p:
            out.append(error(path, lines.get("output"), p))
    out += [error(p, ln, msg) for p, ln, msg in tool_problems(prompt, loader, schema_error)]
    if (
        prompt.model
        and "/" not in prompt.model
        and prompt.model not in (known_providers or set())
        and prompt.model not in ("echo", "replay")
    ):
        out.append(
            warning(
                path,
                lines.get("model"),
                f"model {prompt.model!r} should be 'provider/model' "
                "(e.g. openai/gpt-4o-mini) or a name under providers: in loomgit.yaml",
            )
        )

    if render_sample and not any(f.level == "error" for f in out):
        iface_required = prompt.variables is None and used
        if prompt.sample is not None or not (
            iface_required or any(v.required for v in (prompt.variables or {}).values())
        ):
            try:
                render_prompt(prompt, None, loader=loader)
            except LoomgitError as e:
                out.append(
                    error(
                        e.path or path, e.line, f"rendering the sample failed: {e.message}", e.col
                    )
                )
    return out
