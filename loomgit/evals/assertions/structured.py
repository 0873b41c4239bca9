"""Assertions on structured answers: valid JSON, and JSON matching a JSON Schema.

jsonschema is imported only when a schema is checked, because ``loomgit check`` (which
validates suites through these types) must start fast.
"""

from __future__ import annotations

import json
import re
from typing import Any

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
    where = "/".join(map(str, err[0])) or "(root)"
    return False, 0.0, f"schema: {where}: {err[1]}"


TYPES: dict[str, AssertionType] = {
    "is_json": AssertionType(_is_json, _bool_arg),
    "json_schema": AssertionType(_json_schema, _schema_arg),
}
