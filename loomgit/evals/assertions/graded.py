"""Assertions graded by a model: ``similar`` (embeddings, or lexical similarity offline)
and ``judge`` (a rubric scored by a judge model)."""

from __future__ import annotations

import math
import re
from collections import Counter
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

_WORD = re.compile(r"\w+", re.UNICODE)


def lexical_similarity(a: str, b: str) -> float:
    """Cosine similarity of lower-cased word-count vectors (the offline fallback)."""
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


def _threshold_problem(d: Mapping[str, Any]) -> str | None:
    t = d.get("threshold")
    if t is not None and not (is_num(t) and 0 <= t <= 1):
        return "threshold must be a number from 0 to 1"
    return None


def _unknown_keys(v: Mapping[str, Any], known: tuple[str, ...]) -> str | None:
    unknown = set(v) - set(known)
    if not unknown:
        return None
    return f"unknown key(s) {', '.join(sorted(map(str, unknown)))} (known: {', '.join(known)})"


def _similar_arg(v: Any) -> str | None:
    if isinstance(v, str):
        return None
    if not isinstance(v, dict):
        return "expects a text or {to: text, threshold: 0.8, model: provider/model}"
    unknown = _unknown_keys(v, ("to", "threshold", "model"))
    if unknown:
        return unknown
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
    unknown = _unknown_keys(v, ("criteria", "threshold", "model", "prompt"))
    if unknown:
        return unknown
    if not isinstance(v.get("criteria"), str) or not v["criteria"].strip():
        return "needs 'criteria:' (the rubric the answer is graded on)"
    for key in ("model", "prompt"):
        if key in v and not isinstance(v[key], str):
            return f"'{key}' must be a text"
    return _threshold_problem(v)


async def _similar(arg: Any, obs: Observation, services: Services) -> Outcome:
    spec = arg if isinstance(arg, dict) else {"to": arg}
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


async def _judge(arg: Any, obs: Observation, services: Services) -> Outcome:
    spec = arg if isinstance(arg, dict) else {"criteria": arg}
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


TYPES: dict[str, AssertionType] = {
    "similar": AssertionType(_similar, _similar_arg),
    "judge": AssertionType(_judge, _judge_arg),
}
