"""``python: module:function``: a check written in the repository's own Python.

The function gets the answer and a context mapping and returns a bool, a score (pass at
0.5 or more) or ``{pass, score, reason}``. It imports and runs code from the checkout,
so it runs only when the person running loomgit allows it (``allow_python``: off by
default everywhere; see :func:`python_allowed`).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from loomgit.evals.assertions.model import (
    AssertionError_,
    AssertionType,
    Observation,
    Outcome,
    Services,
    is_num,
)

PYTHON_REFUSED = (
    "python: assertions run local code; allow them with --allow-python or LOOMGIT_ALLOW_PYTHON=1"
)
PYTHON_WARNING = (
    "python: assertions run local code; loomgit eval refuses them unless allowed "
    "(--allow-python, LOOMGIT_ALLOW_PYTHON=1 or eval.allow_python)"
)
_TRUE = ("1", "true", "yes", "on")
_PY_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def python_allowed(env: Mapping[str, str] | None = None, config: Any = None) -> bool:
    """Whether ``python:`` assertions may run: only when the person running loomgit says
    so. ``LOOMGIT_ALLOW_PYTHON=1`` allows them and ``=0`` forbids them; otherwise
    ``config`` (the ``eval: allow_python`` setting of a loomgit.yaml the caller trusts)
    decides; off by default, in CI and out of it."""
    env = os.environ if env is None else env
    flag = env.get("LOOMGIT_ALLOW_PYTHON", "").strip().lower()
    if flag:
        return flag in _TRUE
    return config is True


def uses_python(a: Any) -> bool:
    """Whether the raw assertion ``a`` is (or negates) a ``python:`` check."""
    if not isinstance(a, Mapping):
        return False
    neg = a.get("not")
    return "python" in a or (isinstance(neg, Mapping) and "python" in neg)


def _python_arg(v: Any) -> str | None:
    if isinstance(v, str) and _PY_REF.match(v):
        return None
    return "expects 'module:function' (a module importable from the repository root)"


def _python(arg: Any, obs: Observation, services: Services) -> Outcome:
    if not services.allow_python:
        raise AssertionError_(f"python assertion {arg}: {PYTHON_REFUSED}")
    modname, _, fname = str(arg).partition(":")
    if services.root not in sys.path:
        sys.path.insert(0, services.root)
    try:
        fn = getattr(importlib.import_module(modname), fname)
    except Exception as e:  # the user's module: any failure is a broken test, named once
        raise AssertionError_(
            f"python assertion {arg}: cannot load ({type(e).__name__}: {e})"
        ) from None
    context = {
        "vars": dict(obs.vars),
        "case": obs.case,
        "prompt": obs.prompt,
        "provider": obs.provider,
        "expected": obs.expected,
        "latency_ms": obs.latency_ms,
        "cost_usd": obs.cost_usd,
        "tool_calls": [c.to_dict() for c in obs.tool_calls],
        "messages": [dict(m) for m in obs.messages],
    }
    try:
        rv = fn(obs.text, context)
    except Exception as e:
        return False, 0.0, f"{arg} raised {type(e).__name__}: {e}"
    if isinstance(rv, dict):
        ok = bool(rv.get("pass", rv.get("passed", False)))
        score = rv.get("score", 1.0 if ok else 0.0)
        return ok, float(min(max(score, 0.0), 1.0)), str(rv.get("reason", ""))
    if isinstance(rv, bool):
        return rv, 1.0 if rv else 0.0, f"{arg} returned {rv}"
    if is_num(rv):
        score = float(min(max(rv, 0.0), 1.0))
        return score >= 0.5, score, f"{arg} scored {score:.2f}"
    return False, 0.0, f"{arg} returned {type(rv).__name__}; expected bool, number or dict"


TYPES: dict[str, AssertionType] = {"python": AssertionType(_python, _python_arg)}
