"""Assertions on the answer's text: equality, substrings, patterns, allowed answers and
length."""

from __future__ import annotations

import re
from typing import Any

from loomgit.evals.assertions.model import (
    AssertionType,
    Observation,
    Outcome,
    Services,
    any_arg,
    outcome,
    short,
)
from loomgit.evals.assertions.structured import parse_json


def text_arg(v: Any) -> str | None:
    if isinstance(v, (str, int, float)) and not isinstance(v, bool):
        return None
    return "expects a text value"


def list_arg(v: Any) -> str | None:
    if isinstance(v, list) and v and all(isinstance(x, (str, int, float)) for x in v):
        return None
    return "expects a non-empty list of text values"


def _regex_arg(v: Any) -> str | None:
    if not isinstance(v, str):
        return "expects a regular expression string"
    try:
        re.compile(v)
    except re.error as e:
        return f"invalid regular expression: {e}"
    return None


def _count_arg(v: Any) -> str | None:
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return None
    return "expects a whole number of characters (0 or more)"


def _equals(arg: Any, obs: Observation, services: Services) -> Outcome:
    out = obs.text
    if isinstance(arg, (dict, list)):
        ok, value, problem = parse_json(out)
        return outcome(ok and value == arg, "equal JSON", problem or "JSON differs")
    return outcome(
        out.strip() == str(arg).strip(), "equal", f"expected {short(arg)}, got {short(out)}"
    )


def _contains(arg: Any, obs: Observation, services: Services) -> Outcome:
    return outcome(str(arg) in obs.text, f"contains {short(arg)}", f"does not contain {short(arg)}")


def _icontains(arg: Any, obs: Observation, services: Services) -> Outcome:
    return outcome(
        str(arg).lower() in obs.text.lower(),
        f"contains {short(arg)}",
        f"does not contain {short(arg)} (any case)",
    )


def _not_contains(arg: Any, obs: Observation, services: Services) -> Outcome:
    return outcome(
        str(arg) not in obs.text, f"does not contain {short(arg)}", f"contains {short(arg)}"
    )


def _starts_with(arg: Any, obs: Observation, services: Services) -> Outcome:
    return outcome(
        obs.text.lstrip().startswith(str(arg)),
        f"starts with {short(arg)}",
        f"does not start with {short(arg)}",
    )


def _ends_with(arg: Any, obs: Observation, services: Services) -> Outcome:
    return outcome(
        obs.text.rstrip().endswith(str(arg)),
        f"ends with {short(arg)}",
        f"does not end with {short(arg)}",
    )


def _any_of(arg: Any, out: str, fold: bool) -> Outcome:
    def f(s: str) -> str:
        return s.lower() if fold else s

    hit = [x for x in arg if f(str(x)) in f(out)]
    return outcome(
        bool(hit),
        f"contains {short(hit[0]) if hit else ''}",
        f"contains none of {', '.join(short(x, 30) for x in arg)}",
    )


def _contains_any(arg: Any, obs: Observation, services: Services) -> Outcome:
    return _any_of(arg, obs.text, False)


def _icontains_any(arg: Any, obs: Observation, services: Services) -> Outcome:
    return _any_of(arg, obs.text, True)


def _contains_all(arg: Any, obs: Observation, services: Services) -> Outcome:
    missing = [x for x in arg if str(x) not in obs.text]
    score = 1.0 - len(missing) / len(arg)
    message = (
        "contains all" if not missing else f"missing {', '.join(short(x, 30) for x in missing)}"
    )
    return not missing, score, message


def _regex(arg: Any, obs: Observation, services: Services) -> Outcome:
    return outcome(
        re.search(arg, obs.text) is not None, f"matches /{arg}/", f"does not match /{arg}/"
    )


def _one_of(arg: Any, obs: Observation, services: Services) -> Outcome:
    out = obs.text
    return outcome(
        out.strip() in [str(x).strip() for x in arg],
        "one of the allowed answers",
        f"{short(out)} is not one of {', '.join(short(x, 20) for x in arg)}",
    )


def _min_length(arg: Any, obs: Observation, services: Services) -> Outcome:
    n = len(obs.text)
    return outcome(n >= arg, f"{n} chars ≥ {arg}", f"{n} chars < {arg}")


def _max_length(arg: Any, obs: Observation, services: Services) -> Outcome:
    n = len(obs.text)
    return outcome(n <= arg, f"{n} chars ≤ {arg}", f"{n} chars > {arg}")


TYPES: dict[str, AssertionType] = {
    "equals": AssertionType(_equals, any_arg),
    "contains": AssertionType(_contains, text_arg),
    "icontains": AssertionType(_icontains, text_arg),
    "not_contains": AssertionType(_not_contains, text_arg),
    "starts_with": AssertionType(_starts_with, text_arg),
    "ends_with": AssertionType(_ends_with, text_arg),
    "contains_any": AssertionType(_contains_any, list_arg),
    "contains_all": AssertionType(_contains_all, list_arg),
    "icontains_any": AssertionType(_icontains_any, list_arg),
    "regex": AssertionType(_regex, _regex_arg),
    "one_of": AssertionType(_one_of, list_arg),
    "min_length": AssertionType(_min_length, _count_arg),
    "max_length": AssertionType(_max_length, _count_arg),
}
