"""What ``loomgit check`` says about a suite's tool and structured-output assertions
against its prompt: a tool name the prompt does not offer (a typo would otherwise fail
every run), ``output_schema`` on a prompt without one."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from loomgit.config import did_you_mean
from loomgit.errors import LoomgitError
from loomgit.evals.assertions.tools import offered
from loomgit.evals.suite_model import Suite
from loomgit.findings import Finding, warning

_NAMED = ("tool_called", "no_tool_call", "tool_args_valid")


def _flat(a: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(a, Mapping):
        yield a
        if isinstance(a.get("not"), Mapping):
            yield from _flat(a["not"])


def _names(a: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for kind in _NAMED:
        v = a.get(kind)
        if isinstance(v, Mapping) and isinstance(v.get("name"), str):
            out.append(v["name"])
        elif isinstance(v, str):
            out.append(v)
        elif isinstance(v, list):
            out += [x for x in v if isinstance(x, str)]
    return out


def tool_warnings(suite: Suite, prompt: Any) -> list[Finding]:
    """Warnings for assertions that name tools the prompt does not offer, and for
    ``output_schema`` when the prompt declares no output schema. A prompt whose tool
    files could not be read gets none (``check`` reports the tool file itself)."""
    try:
        tools = prompt.call_params().get("tools")
    except LoomgitError:
        return []
    declared = offered(
        [t for t in tools if isinstance(t, Mapping)] if isinstance(tools, list) else []
    )
    out = prompt.output
    has_schema = bool(out is not None and out.format == "json" and out.schema)
    found: list[Finding] = []
    for case in suite.cases:
        groups = (
            [(case.line, suite.case_asserts(case))]
            if not case.turns
            else [
                (t.get("line") or case.line, (*suite.default_asserts, *(t.get("assert") or ())))
                for t in case.turns
            ]
        )
        for line, asserts in groups:
            for raw in asserts:
                for a in _flat(raw):
                    for name in _names(a):
                        if name not in declared:
                            offers = ", ".join(declared) or "none"
                            found.append(
                                warning(
                                    suite.path,
                                    line,
                                    f"case {case.name!r}: the prompt offers no tool {name!r} "
                                    f"(it offers: {offers})" + did_you_mean(name, list(declared)),
                                )
                            )
                    if "output_schema" in a and not has_schema:
                        found.append(
                            warning(
                                suite.path,
                                line,
                                f"case {case.name!r}: output_schema: the prompt declares no output schema",
                            )
                        )
    return found
