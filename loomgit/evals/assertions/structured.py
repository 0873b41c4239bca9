"""Assertions on structured answers: valid JSON, JSON matching a JSON Schema (written in
the suite, or the prompt's own ``output: schema``), holding given fields (``json_subset``)
and a value at a path (``json_path``).

jsonschema is imported only when a schema is checked, because ``loomgit check`` (which
validates suites through these types) must start fast.
"""

from __future__ import annotations

import json
import re
from typing import Any

from loomgit.evals.assertions.matching import lookup, parse_path, same, shown, subset_problem, where
from loomgit.evals.assertions.model import AssertionType, Observation, Outcome, Services, outcome
from loomgit.prompt.schema import first_error, schema_error, validator

_FENCE = re.compile(r"^\s*```(?:json|JSON)?[ \t]*\n(.*?)\n?```\s*$", re.DOTALL)


def parse_json(text: str) -> tuple[bool, Any, str]:
    """(ok, value, problem); a single fenced ```json block is unwrapped first."""
    m = _FENCE.match(text)
    body = m.group(1) if m else text
    try:
        return True, json.loads(body), ""
    except (json.JSONDecodeError, RecursionError) as e:
        msg = e.msg if isinstance(e, json.JSONDecodeError) else "nested too deeply"
        return False, None, f"not valid JSON ({msg})"


def _bool_arg(v: Any) -> str | None:
    return None if isinstance(v, bool) or v is None else "expects true or false"


def _schema_arg(v: Any) -> str | None:
    if not isinstance(v, dict):
        return "expects a JSON Schema mapping"
    problem = schema_error(v)
    return None if problem is None else f"invalid JSON Schema: {problem[0]}"


def _is_json(arg: Any, obs: Observation, services: Services) -> Outcome:
    ok, _, problem = parse_json(obs.text)
    if arg is False:
        return outcome(not ok, "is not JSON", "is JSON")
    return outcome(ok, "is JSON", problem)


def _json_schema(arg: Any, obs: Observation, services: Services) -> Outcome:
    ok, value, problem = parse_json(obs.text)
    if not ok:
        return False, 0.0, problem
    err = first_error(validator(arg), value)
    if err is None:
        return True, 1.0, "matches the schema"
    at = "/".join(map(str, err[0])) or "(root)"
    return False, 0.0, f"schema: {at}: {err[1]}"


def _true_arg(v: Any) -> str | None:
    return None if v is True else "expects true"


def _output_schema(arg: Any, obs: Observation, services: Services) -> Outcome:
    if not obs.output_schema:
        return False, 0.0, "the prompt declares no output schema (output: {format: json, schema})"
    ok, value, problem = parse_json(obs.text)
    if not ok:
        return False, 0.0, problem
    err = first_error(validator(dict(obs.output_schema)), value)
    if err is None:
        return True, 1.0, "matches the prompt's output schema"
    return False, 0.0, f"output schema: {where(err[0])}: {err[1]}"


def _subset_arg(v: Any) -> str | None:
    return None if isinstance(v, (dict, list)) else "expects a mapping (or list) the JSON must hold"


def _json_subset(arg: Any, obs: Observation, services: Services) -> Outcome:
    ok, value, problem = parse_json(obs.text)
    if not ok:
        return False, 0.0, problem
    mismatch = subset_problem(arg, value)
    return outcome(mismatch is None, "holds the expected fields", mismatch or "")


PATH_CHECKS = ("equals", "one_of", "contains", "exists", "schema")


def _path_arg(v: Any) -> str | None:
    if not isinstance(v, dict) or not isinstance(v.get("path"), str):
        return "expects {path: a.b[0], equals | one_of | contains | exists | schema: ...}"
    unknown = set(v) - {"path", *PATH_CHECKS}
    if unknown:
        return f"unknown key(s) {', '.join(sorted(map(str, unknown)))} (known: path, {', '.join(PATH_CHECKS)})"
    if parse_path(v["path"]) is None:
        return f"cannot read path {v['path']!r} (write a.b[0].c or $.a.b[0].c)"
    checks = [k for k in PATH_CHECKS if k in v]
    if len(checks) > 1:
        return f"one check per json_path, got {', '.join(checks)}"
    if "one_of" in v and not (isinstance(v["one_of"], list) and v["one_of"]):
        return "one_of: expects a non-empty list"
    if "exists" in v and not isinstance(v["exists"], bool):
        return "exists: expects true or false"
    if "contains" in v and not isinstance(v["contains"], str):
        return "contains: expects a text"
    if "schema" in v:
        return _schema_arg(v["schema"])
    return None


def _json_path(arg: Any, obs: Observation, services: Services) -> Outcome:
    ok, value, problem = parse_json(obs.text)
    if not ok:
        return False, 0.0, problem
    path = parse_path(arg["path"]) or []
    at = where(path)
    found, got = lookup(value, path)
    if "exists" in arg or not any(k in arg for k in PATH_CHECKS):
        want = arg.get("exists", True)
        return outcome(
            found == want,
            f"{at} {'exists' if found else 'is absent'}",
            f"{at} {'exists' if found else 'is missing'}",
        )
    if not found:
        return False, 0.0, f"{at}: missing"
    if "equals" in arg:
        return outcome(
            same(arg["equals"], got),
            f"{at} = {shown(got)}",
            f"{at}: expected {shown(arg['equals'])}, got {shown(got)}",
        )
    if "one_of" in arg:
        return outcome(
            any(same(x, got) for x in arg["one_of"]),
            f"{at} = {shown(got)}",
            f"{at}: {shown(got)} is not one of {shown(arg['one_of'])}",
        )
    if "contains" in arg:
        return outcome(
            isinstance(got, str) and arg["contains"] in got,
            f"{at} contains {shown(arg['contains'])}",
            f"{at}: {shown(got)} does not contain {shown(arg['contains'])}",
        )
    err = first_error(validator(arg["schema"]), got)
    if err is None:
        return True, 1.0, f"{at} matches the schema"
    return False, 0.0, f"{where([*path, *err[0]])}: {err[1]}"


TYPES: dict[str, AssertionType] = {
    "is_json": AssertionType(_is_json, _bool_arg),
    "json_schema": AssertionType(_json_schema, _schema_arg),
    "output_schema": AssertionType(_output_schema, _true_arg),
    "json_subset": AssertionType(_json_subset, _subset_arg),
    "json_path": AssertionType(_json_path, _path_arg),
}
