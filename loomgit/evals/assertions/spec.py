"""An assertion as a suite writes it: checking it (``loomgit check``) and compiling it.

An assertion in a suite is a one-key mapping (``{contains: fire}``) with optional
``weight:`` (default 1; 0 makes it informational), ``name:`` and ``not:``. Negation is
written ``{not: {contains: fire}}`` or ``{contains: fire, not: true}``: the score becomes
``1 - score`` and pass becomes fail. The key names an assertion type of the registry:
built in, or added by a plugin.
"""

from __future__ import annotations

from typing import Any

import loomgit.evals.assertions.registry as registry
from loomgit.evals.assertions.model import Assertion, is_num

MODIFIERS = ("weight", "not", "name")


def spec_problem(a: Any) -> str | None:
    """Why the raw assertion ``a`` is unusable, or None."""
    if not isinstance(a, dict) or not a:
        return "each assertion must be a mapping like {contains: text}"
    if "weight" in a and not (is_num(a["weight"]) and a["weight"] >= 0):
        return "weight must be a number (0 or more)"
    if "name" in a and not isinstance(a["name"], (str, int)):
        return "name must be a text"
    neg = a.get("not")
    if isinstance(neg, dict):
        if len(a) - sum(k in a for k in ("weight", "name")) != 1:
            return "'not:' holds the negated assertion; put other checks in their own entries"
        return spec_problem(neg)
    if neg is not None and not isinstance(neg, bool):
        return "'not' must be true/false or hold an assertion, as in {not: {contains: x}}"
    kinds = [k for k in a if k not in MODIFIERS]
    if len(kinds) != 1:
        return f"an assertion names exactly one check, got {', '.join(map(str, kinds)) or 'none'}"
    kind = str(kinds[0])
    found = registry.get(kind)
    if found is None:
        return registry.unknown(kind)
    problem = registry.check_arg(kind, found, a[kind])
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
