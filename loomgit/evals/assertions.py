"""Assertions: checks on one model answer, each giving a score in [0, 1] and pass/fail.

An assertion in a suite is a one-key mapping (``{contains: fire}``) with optional
``weight:`` (default 1; 0 makes it informational), ``name:`` and ``not:``. Negation is
written ``{not: {contains: fire}}`` or ``{contains: fire, not: true}``: the score becomes
``1 - score`` and pass becomes fail.

This module is imported by ``loomgit check`` (through :func:`spec_problem`), so heavy
libraries (jsonschema, the providers) are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from loomgit.prompt import schema as json_schema

MODIFIERS = ("weight", "not", "name")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _text_arg(v: Any) -> str | None:
    if isinstance(v, (str, int, float)) and not isinstance(v, bool):
        return None
    return "expects a text value"


def _list_arg(v: Any) -> str | None:
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


def _bool_arg(v: Any) -> str | None:
    return None if isinstance(v, bool) or v is None else "expects true or false"


def _schema_arg(v: Any) -> str | None:
    if not isinstance(v, dict):
        return "expects a JSON Schema mapping"
    err = json_schema.schema_error(v)
    return None if err is None else f"invalid JSON Schema: {err[0]}"


def _count_arg(v: Any) -> str | None:
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return None
    return "expects a whole number of characters (0 or more)"


def _limit_arg(v: Any) -> str | None:
    return None if _is_num(v) and v >= 0 else "expects a number (0 or more)"


def _threshold_problem(d: Mapping[str, Any]) -> str | None:
    t = d.get("threshold")
    if t is not None and not (_is_num(t) and 0 <= t <= 1):
        return "threshold must be a number from 0 to 1"
    return None


def _similar_arg(v: Any) -> str | None:
    if isinstance(v, str):
        return None
    if not isinstance(v, dict):
        return "expects a text or {to: text, threshold: 0.8, model: provider/model}"
    unknown = set(v) - {"to", "threshold", "model"}
    if unknown:
        return (
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))} (known: to, threshold, model)"
        )
    if "to" in v and not isinstance(v["to"], str):
        return "'to' must be a text"
    if "model" in v and not isinstance(v["model"], str):
        return "'model' must be a provider/model name"
    return _threshold_problem(v)


def _judge_arg(v: Any) -> str | None:
    if isinstance(v, str) and v.strip():
        return None
    if not isinstance(v, dict):
        return "expects a rubric text or {criteria: text, threshold: 0.7, model: ..., prompt: ID}"
    unknown = set(v) - {"criteria", "threshold", "model", "prompt"}
    if unknown:
        return (
            f"unknown key(s) {', '.join(sorted(map(str, unknown)))} "
            "(known: criteria, threshold, model, prompt)"
        )
    if not isinstance(v.get("criteria"), str) or not v["criteria"].strip():
        return "needs 'criteria:' (the rubric the answer is graded on)"
    for key in ("model", "prompt"):
        if key in v and not isinstance(v[key], str):
            return f"'{key}' must be a text"
    return _threshold_problem(v)


_PY_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _python_arg(v: Any) -> str | None:
    if isinstance(v, str) and _PY_REF.match(v):
        return None
    return "expects 'module:function' (a module importable from the repository root)"


CHECKS: dict[str, Callable[[Any], str | None]] = {
    "equals": lambda v: None,
    "contains": _text_arg,
    "icontains": _text_arg,
    "not_contains": _text_arg,
    "starts_with": _text_arg,
    "ends_with": _text_arg,
    "contains_any": _list_arg,
    "contains_all": _list_arg,
    "icontains_any": _list_arg,
    "regex": _regex_arg,
    "is_json": _bool_arg,
    "json_schema": _schema_arg,
    "one_of": _list_arg,
    "min_length": _count_arg,
    "max_length": _count_arg,
    "similar": _similar_arg,
    "judge": _judge_arg,
    "python": _python_arg,
    "max_latency_ms": _limit_arg,
    "max_cost_usd": _limit_arg,
}


@dataclass(frozen=True)
class Assertion:
    """A compiled assertion from a suite."""

    kind: str
    arg: Any
    negate: bool = False
    weight: float = 1.0
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or (f"not {self.kind}" if self.negate else self.kind)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {self.kind: self.arg}
        if self.negate:
            d = {"not": d}
        if self.weight != 1.0:
            d["weight"] = self.weight
        if self.name:
            d["name"] = self.name
        return d


def spec_problem(a: Any) -> str | None:
    """Why the raw assertion ``a`` is unusable, or None."""
    if not isinstance(a, dict) or not a:
        return "each assertion must be a mapping like {contains: text}"
    if "weight" in a and not (_is_num(a["weight"]) and a["weight"] >= 0):
        return "weight must be a number (0 or more)"
    if "name" in a and not isinstance(a["name"], (str, int)):
        return "name must be a text"
    neg = a.get("not")
    if isinstance(neg, dict):
        if len(a) - sum(k in a for k in ("weight", "name")) != 1:
            return "'not:' holds the negated assertion; put other checks in their own entries"
        inner = spec_problem(neg)
        return inner
    if neg is not None and not isinstance(neg, bool):
        return "'not' must be true/false or hold an assertion, as in {not: {contains: x}}"
    kinds = [k for k in a if k not in MODIFIERS]
    if len(kinds) != 1:
        return f"an assertion names exactly one check, got {', '.join(map(str, kinds)) or 'none'}"
    kind = kinds[0]
    if kind not in CHECKS:
        import difflib

        close = difflib.get_close_matches(str(kind), sorted(CHECKS), n=1)
        return f"unknown assertion {kind!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    problem = CHECKS[kind](a[kind])
    return f"{kind}: {problem}" if problem else None


def compile_assertion(a: dict[str, Any]) -> Assertion:
    """A raw (already validated) assertion mapping as an :class:`Assertion`."""
    weight = float(a.get("weight", 1.0))
    name = str(a["name"]) if a.get("name") is not None else None
    neg = a.get("not")
    if isinstance(neg, dict):
        inner = compile_assertion(neg)
        return Assertion(inner.kind, inner.arg, not inner.negate, weight, name or inner.name)
    kind = next(k for k in a if k not in MODIFIERS)
    return Assertion(kind, a[kind], bool(neg), weight, name)


# --- evaluation --------------------------------------------------------------------------


@dataclass(frozen=True)
class AssertionResult:
    kind: str  # label: "contains", "not regex", or the assertion's name
    passed: bool
    score: float
    weight: float = 1.0
    message: str = ""
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "passed": self.passed,
            "score": round(self.score, 6),
            "weight": self.weight,
            "message": self.message,
            "value": self.value,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AssertionResult:
        return cls(
            str(d.get("type", "")),
            bool(d.get("passed")),
            float(d.get("score") or 0.0),
            float(d.get("weight", 1.0)),
            str(d.get("message") or ""),
            d.get("value"),
        )


@dataclass(frozen=True)
class Observation:
    """What the assertions look at: one answer and what produced it."""

    text: str
    latency_ms: float = 0.0
    cost_usd: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    vars: Mapping[str, Any] = field(default_factory=dict)
    expected: Any = None
    case: str = ""
    prompt: str = ""
    provider: str = ""
    messages: tuple[Mapping[str, str], ...] = ()


class AssertionError_(Exception):
    """An assertion could not be evaluated for reasons outside the answer (judge provider
    down, python checks disabled): the sample becomes an error, not a failure."""


class Services(Protocol):
    """Model access for ``similar`` and ``judge`` and the policy for ``python``."""

    allow_python: bool
    root: str

    def embed(self, model: str, texts: list[str]) -> Awaitable[list[list[float]]]: ...

    def judge(
        self, criteria: str, obs: Observation, model: str | None, prompt: str | None
    ) -> Awaitable[tuple[float, str]]: ...

    def embedding_model(self) -> str | None: ...


def _short(text: Any, n: int = 60) -> str:
    s = str(text)
    return repr(s if len(s) <= n else s[: n - 1] + "…")


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


_WORD = re.compile(r"\w+", re.UNICODE)


def lexical_similarity(a: str, b: str) -> float:
    """Cosine similarity of lower-cased word-count vectors (the offline fallback)."""
    from collections import Counter

    ca, cb = Counter(_WORD.findall(a.lower())), Counter(_WORD.findall(b.lower()))
    if not ca or not cb:
        return 1.0 if not ca and not cb else 0.0
    dot = sum(v * cb.get(k, 0) for k, v in ca.items())
    na = math.sqrt(sum(v * v for v in ca.values()))
    nb = math.sqrt(sum(v * v for v in cb.values()))
    return dot / (na * nb)


def cosine(u: list[float], v: list[float]) -> float:
    dot = sum(x * y for x, y in zip(u, v))
    nu = math.sqrt(sum(x * x for x in u))
    nv = math.sqrt(sum(y * y for y in v))
    return 0.0 if nu == 0 or nv == 0 else dot / (nu * nv)


def _bool(ok: bool, good: str, bad: str) -> tuple[bool, float, str]:
    return ok, 1.0 if ok else 0.0, good if ok else bad


def check_sync(a: Assertion, obs: Observation) -> tuple[bool, float, str] | None:
    """(passed, score, message) for assertions that need no model; None for the others."""
    out, arg, kind = obs.text, a.arg, a.kind
    if kind == "equals":
        if isinstance(arg, (dict, list)):
            ok, value, problem = parse_json(out)
            return _bool(ok and value == arg, "equal JSON", problem or "JSON differs")
        return _bool(
            out.strip() == str(arg).strip(), "equal", f"expected {_short(arg)}, got {_short(out)}"
        )
    if kind == "contains":
        return _bool(str(arg) in out, f"contains {_short(arg)}", f"does not contain {_short(arg)}")
    if kind == "icontains":
        return _bool(
            str(arg).lower() in out.lower(),
            f"contains {_short(arg)}",
            f"does not contain {_short(arg)} (any case)",
        )
    if kind == "not_contains":
        return _bool(
            str(arg) not in out, f"does not contain {_short(arg)}", f"contains {_short(arg)}"
        )
    if kind == "starts_with":
        return _bool(
            out.lstrip().startswith(str(arg)),
            f"starts with {_short(arg)}",
            f"does not start with {_short(arg)}",
        )
    if kind == "ends_with":
        return _bool(
            out.rstrip().endswith(str(arg)),
            f"ends with {_short(arg)}",
            f"does not end with {_short(arg)}",
        )
    if kind in ("contains_any", "icontains_any"):
        fold = (lambda s: s.lower()) if kind == "icontains_any" else (lambda s: s)
        hit = [x for x in arg if fold(str(x)) in fold(out)]
        return _bool(
            bool(hit),
            f"contains {_short(hit[0]) if hit else ''}",
            f"contains none of {', '.join(_short(x, 30) for x in arg)}",
        )
    if kind == "contains_all":
        missing = [x for x in arg if str(x) not in out]
        score = 1.0 - len(missing) / len(arg)
        return (
            not missing,
            score,
            "contains all"
            if not missing
            else f"missing {', '.join(_short(x, 30) for x in missing)}",
        )
    if kind == "regex":
        return _bool(re.search(arg, out) is not None, f"matches /{arg}/", f"does not match /{arg}/")
    if kind == "is_json":
        ok, _, problem = parse_json(out)
        if arg is False:
            return _bool(not ok, "is not JSON", "is JSON")
        return _bool(ok, "is JSON", problem)
    if kind == "json_schema":
        ok, value, problem = parse_json(out)
        if not ok:
            return False, 0.0, problem
        err = json_schema.first_error(json_schema.validator(arg), value)
        if err is None:
            return True, 1.0, "matches the schema"
        where = "/".join(map(str, err[0])) or "(root)"
        return False, 0.0, f"schema: {where}: {err[1]}"
    if kind == "one_of":
        return _bool(
            out.strip() in [str(x).strip() for x in arg],
            "one of the allowed answers",
            f"{_short(out)} is not one of {', '.join(_short(x, 20) for x in arg)}",
        )
    if kind == "min_length":
        return _bool(len(out) >= arg, f"{len(out)} chars ≥ {arg}", f"{len(out)} chars < {arg}")
    if kind == "max_length":
        return _bool(len(out) <= arg, f"{len(out)} chars ≤ {arg}", f"{len(out)} chars > {arg}")
    if kind == "max_latency_ms":
        return _bool(
            obs.latency_ms <= arg,
            f"{obs.latency_ms:.0f} ms ≤ {arg:g}",
            f"{obs.latency_ms:.0f} ms > {arg:g}",
        )
    if kind == "max_cost_usd":
        if obs.cost_usd is None:
            return True, 1.0, "cost unknown (no price for this model); not checked"
        return _bool(
            obs.cost_usd <= arg,
            f"${obs.cost_usd:.6f} ≤ ${arg:g}",
            f"${obs.cost_usd:.6f} > ${arg:g}",
        )
    return None


def _python_check(a: Assertion, obs: Observation, services: Services) -> tuple[bool, float, str]:
    if not services.allow_python:
        raise AssertionError_(
            f"python assertion {a.arg} is disabled in CI; set LOOMGIT_ALLOW_PYTHON=1 to allow it"
        )
    import importlib
    import sys

    modname, _, fname = str(a.arg).partition(":")
    if services.root not in sys.path:
        sys.path.insert(0, services.root)
    try:
        fn = getattr(importlib.import_module(modname), fname)
    except Exception as e:  # the user's module: any failure is a broken test, named once
        raise AssertionError_(
            f"python assertion {a.arg}: cannot load ({type(e).__name__}: {e})"
        ) from None
    context = {
        "vars": dict(obs.vars),
        "case": obs.case,
        "prompt": obs.prompt,
        "provider": obs.provider,
        "expected": obs.expected,
        "latency_ms": obs.latency_ms,
        "cost_usd": obs.cost_usd,
    }
    try:
        rv = fn(obs.text, context)
    except Exception as e:
        return False, 0.0, f"{a.arg} raised {type(e).__name__}: {e}"
    if isinstance(rv, dict):
        ok = bool(rv.get("pass", rv.get("passed", False)))
        score = rv.get("score", 1.0 if ok else 0.0)
        return ok, float(min(max(score, 0.0), 1.0)), str(rv.get("reason", ""))
    if isinstance(rv, bool):
        return rv, 1.0 if rv else 0.0, f"{a.arg} returned {rv}"
    if _is_num(rv):
        score = float(min(max(rv, 0.0), 1.0))
        return score >= 0.5, score, f"{a.arg} scored {score:.2f}"
    return False, 0.0, f"{a.arg} returned {type(rv).__name__}; expected bool, number or dict"


async def _similar(a: Assertion, obs: Observation, services: Services) -> tuple[bool, float, str]:
    spec = a.arg if isinstance(a.arg, dict) else {"to": a.arg}
    target = spec.get("to", obs.expected)
    if not isinstance(target, str):
        raise AssertionError_("similar needs 'to:' or the case's 'expected:' text")
    threshold = float(spec.get("threshold", 0.8))
    model = spec.get("model") or services.embedding_model()
    if model:
        u, v = await services.embed(model, [obs.text, target])
        score, how = max(0.0, min(1.0, cosine(u, v))), "cosine"
    else:
        score, how = lexical_similarity(obs.text, target), "lexical"
    ok = score >= threshold
    return ok, score, f"{how} similarity {score:.2f} {'≥' if ok else '<'} {threshold:g}"


async def _judge(a: Assertion, obs: Observation, services: Services) -> tuple[bool, float, str]:
    spec = a.arg if isinstance(a.arg, dict) else {"criteria": a.arg}
    threshold = float(spec.get("threshold", 0.7))
    score, reason = await services.judge(
        spec["criteria"], obs, spec.get("model"), spec.get("prompt")
    )
    ok = score >= threshold
    return (
        ok,
        score,
        f"judge {score:.2f} {'≥' if ok else '<'} {threshold:g}" + (f": {reason}" if reason else ""),
    )


async def evaluate(a: Assertion, obs: Observation, services: Services) -> AssertionResult:
    """Score one assertion. Raises :class:`AssertionError_` when it cannot be evaluated."""
    res = check_sync(a, obs)
    if res is None:
        if a.kind == "python":
            res = _python_check(a, obs, services)
        elif a.kind == "similar":
            res = await _similar(a, obs, services)
        elif a.kind == "judge":
            res = await _judge(a, obs, services)
        else:  # pragma: no cover - spec_problem rejects unknown kinds
            raise AssertionError_(f"unknown assertion {a.kind!r}")
    passed, score, message = res
    if a.negate:
        passed, score, message = not passed, 1.0 - score, f"negated: {message}"
    return AssertionResult(a.label, passed, score, a.weight, message, a.arg)


def combine(results: list[AssertionResult]) -> tuple[bool, float]:
    """A sample's (passed, score): every weighted assertion passed; weighted mean score.

    Assertions of weight 0 are informational. With no weighted assertions the sample
    passes with score 1 (it ran without error).
    """
    weighted = [r for r in results if r.weight > 0]
    total = sum(r.weight for r in weighted)
    if not weighted or total <= 0:
        return True, 1.0
    return all(r.passed for r in weighted), sum(r.weight * r.score for r in weighted) / total
