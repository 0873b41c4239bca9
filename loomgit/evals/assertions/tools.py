"""Assertions on the tool calls of an answer: ``tool_called`` (a call by name, with
arguments holding given values or matching a JSON Schema), ``no_tool_call`` and
``tool_args_valid`` (every call names an offered tool and its arguments match that
tool's declared ``parameters``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loomgit.evals.assertions.matching import subset_problem, where
from loomgit.evals.assertions.model import AssertionType, Observation, Outcome, Services, outcome
from loomgit.prompt.schema import first_error, schema_error, validator

if TYPE_CHECKING:
    from loomgit.providers.base import ToolCall

_CALLED_KEYS = ("name", "args", "args_schema")


def _names(obs: Observation) -> str:
    return ", ".join(repr(c.name) for c in obs.tool_calls) or "no tool calls"


def _called_arg(v: Any) -> str | None:
    if isinstance(v, str) and v:
        return None
    if not isinstance(v, dict):
        return "expects a tool name or {name: NAME, args: {...}, args_schema: {...}}"
    unknown = set(v) - set(_CALLED_KEYS)
    if unknown:
        return (
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))} "
            f"(known: {', '.join(_CALLED_KEYS)})"
        )
    if not isinstance(v.get("name"), str) or not v["name"]:
        return "needs 'name:' (the tool that must be called)"
    if "args" in v and not isinstance(v["args"], dict):
        return "args: expects a mapping of the argument values the call must hold"
    if "args_schema" in v:
        if not isinstance(v["args_schema"], dict):
            return "args_schema: expects a JSON Schema mapping"
        problem = schema_error(v["args_schema"])
        if problem is not None:
            return f"args_schema: invalid JSON Schema: {problem[0]}"
    return None


def _tool_called(arg: Any, obs: Observation, services: Services) -> Outcome:
    spec = arg if isinstance(arg, dict) else {"name": arg}
    name = spec["name"]
    calls = [c for c in obs.tool_calls if c.name == name]
    if not calls:
        return False, 0.0, f"no call to {name!r} ({_names(obs)})"
    if "args" not in spec and "args_schema" not in spec:
        return True, 1.0, f"called {name!r}"
    problems = []
    for c in calls:
        if c.error is not None:
            problems.append(f"{c.error}: {c.arguments_text[:60]!r}")
            continue
        problem = subset_problem(spec["args"], c.arguments) if "args" in spec else None
        if problem is None and "args_schema" in spec:
            err = first_error(validator(spec["args_schema"]), c.arguments)
            problem = None if err is None else f"{where(err[0])}: {err[1]}"
        if problem is None:
            return True, 1.0, f"called {name!r} with matching arguments"
        problems.append(problem)
    more = f" (and {len(calls) - 1} other call(s) of it)" if len(calls) > 1 else ""
    return False, 0.0, f"called {name!r}, but its arguments differ: {problems[0]}{more}"


def _names_arg(v: Any) -> str | None:
    if v is True or (isinstance(v, str) and v):
        return None
    if isinstance(v, list) and v and all(isinstance(x, str) and x for x in v):
        return None
    return "expects true (no call at all), a tool name or a list of tool names"


def _no_tool_call(arg: Any, obs: Observation, services: Services) -> Outcome:
    if arg is True:
        return outcome(not obs.tool_calls, "no tool calls", f"called {_names(obs)}")
    banned = {arg} if isinstance(arg, str) else set(arg)
    hit = [c.name for c in obs.tool_calls if c.name in banned]
    return outcome(
        not hit,
        f"no call to {', '.join(map(repr, sorted(banned)))}",
        f"called {', '.join(map(repr, dict.fromkeys(hit)))}",
    )


def _valid_arg(v: Any) -> str | None:
    return None if v is True or (isinstance(v, str) and v) else "expects true or a tool name"


def offered(tools: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The ``function`` objects of an OpenAI ``tools`` list, by name."""
    out: dict[str, Mapping[str, Any]] = {}
    for t in tools:
        fn = t.get("function") if isinstance(t, Mapping) else None
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            out.setdefault(fn["name"], fn)
    return out


def call_problem(tools: Sequence[Mapping[str, Any]], call: ToolCall) -> str | None:
    """Why ``call`` is not a valid call of one of ``tools`` (its name, arguments that do
    not parse, arguments that do not match the tool's ``parameters``), or None."""
    declared = offered(tools)
    fn = declared.get(call.name)
    if fn is None:
        return f"{call.name!r} is not a tool the prompt offers ({', '.join(declared) or 'none'})"
    if call.error is not None:
        return f"{call.name!r}: {call.error}"
    params = fn.get("parameters")
    if not isinstance(params, dict) or not params:
        return None
    if schema_error(params) is not None:
        return f"{call.name!r}: its declared parameters are not a valid JSON Schema"
    err = first_error(validator(params), call.arguments)
    return None if err is None else f"{call.name!r}: {where(err[0])}: {err[1]}"


def _tool_args_valid(arg: Any, obs: Observation, services: Services) -> Outcome:
    calls = [c for c in obs.tool_calls if arg is True or c.name == arg]
    if not calls:
        return True, 1.0, "no tool calls to check" if arg is True else f"no call to {arg!r}"
    problems = [p for p in (call_problem(obs.tools, c) for c in calls) if p]
    if not problems:
        return True, 1.0, f"{len(calls)} tool call(s) match the declared parameters"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return False, 1.0 - len(problems) / len(calls), problems[0] + more


TYPES: dict[str, AssertionType] = {
    "tool_called": AssertionType(_tool_called, _called_arg),
    "no_tool_call": AssertionType(_no_tool_call, _names_arg),
    "tool_args_valid": AssertionType(_tool_args_valid, _valid_arg),
}
