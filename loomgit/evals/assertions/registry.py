"""Assertion types by name: the built-in families in one table, and the
``loomgit.assertions`` entry-point group for types other packages add.

An entry point names an :class:`~loomgit.evals.assertions.model.AssertionType`, or a
function ``run(arg, observation, services)`` (any argument is then accepted). Entry
points are read only when a suite names a type that is not built in. See
``docs/plugins.md``.
"""

from __future__ import annotations

import inspect
from typing import Any

import loomgit.plugins as plugins
from loomgit.config import did_you_mean
from loomgit.errors import PluginError
from loomgit.evals.assertions.graded import TYPES as GRADED
from loomgit.evals.assertions.limits import TYPES as LIMITS
from loomgit.evals.assertions.model import (
    AssertionError_,
    AssertionType,
    Observation,
    Outcome,
    Services,
    is_num,
)
from loomgit.evals.assertions.python import TYPES as PYTHON
from loomgit.evals.assertions.structured import TYPES as STRUCTURED
from loomgit.evals.assertions.text import TYPES as TEXT
from loomgit.evals.assertions.tools import TYPES as TOOLS

BUILTIN: dict[str, AssertionType] = {
    **TEXT,
    **STRUCTURED,
    **TOOLS,
    **GRADED,
    **PYTHON,
    **LIMITS,
}

_added: dict[str, AssertionType] = {}  # by register() and from entry points


def register(name: str, kind: AssertionType | Any) -> None:
    """Add the assertion type ``name`` in this process (a plugin without packaging)."""
    if name in BUILTIN:
        raise ValueError(f"{name!r} is a built-in assertion type")
    _added[name] = _as_type(name, kind)


def unregister(name: str) -> None:
    _added.pop(name, None)


def _as_type(name: str, obj: object) -> AssertionType:
    if isinstance(obj, AssertionType):
        return obj
    if callable(obj) and not isinstance(obj, type):
        return AssertionType(obj)
    raise PluginError(
        f"assertion plugin {name!r} gives {obj!r}: expected an AssertionType "
        "or a function run(arg, observation, services)"
    )


def is_builtin(name: str) -> bool:
    return name in BUILTIN


def get(name: str) -> AssertionType | None:
    """The type called ``name``; a plugin's entry point is imported on first use."""
    found = BUILTIN.get(name) or _added.get(name)
    if found is None:
        obj = plugins.load(plugins.ASSERTIONS, name, "assertion")
        if obj is None:
            return None
        found = _added[name] = _as_type(name, obj)
    return found


def names() -> list[str]:
    """Every assertion type: built in, registered and installed."""
    return sorted({*BUILTIN, *_added, *plugins.names(plugins.ASSERTIONS)})


def unknown(name: str) -> str:
    """The message for a type nobody provides, with the closest name."""
    return f"unknown assertion {name!r}" + did_you_mean(name, names())


def check_arg(name: str, kind: AssertionType, arg: Any) -> str | None:
    """Why ``arg`` is unusable for the type; a plugin's failure is one PluginError line."""
    if name in BUILTIN:
        return kind.check(arg)
    try:
        problem = kind.check(arg)
    except Exception as e:
        raise PluginError(
            f"assertion plugin {name!r} failed checking its argument: {type(e).__name__}: {e}"
        ) from e
    return None if problem is None else str(problem)


async def run(name: str, kind: AssertionType, arg: Any, obs: Observation, sv: Services) -> Outcome:
    """The type's outcome; a plugin that raises or returns nonsense errors the sample."""
    if name in BUILTIN:
        res = kind.run(arg, obs, sv)
        return await res if inspect.isawaitable(res) else res
    try:
        res = kind.run(arg, obs, sv)
        value = await res if inspect.isawaitable(res) else res
    except AssertionError_:
        raise
    except Exception as e:
        raise AssertionError_(f"assertion plugin {name!r} raised {type(e).__name__}: {e}") from None
    return _as_outcome(name, value)


def _as_outcome(name: str, value: Any) -> Outcome:
    if isinstance(value, bool):
        return value, 1.0 if value else 0.0, ""
    if is_num(value):
        score = float(min(max(value, 0.0), 1.0))
        return score >= 0.5, score, f"scored {score:.2f}"
    if (
        isinstance(value, tuple)
        and len(value) == 3
        and isinstance(value[0], bool)
        and is_num(value[1])
    ):
        return value[0], float(min(max(value[1], 0.0), 1.0)), str(value[2])
    raise AssertionError_(
        f"assertion plugin {name!r} returned {type(value).__name__}; "
        "expected (passed, score, message), a bool or a score"
    )
