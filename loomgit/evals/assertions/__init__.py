"""Assertions: checks on one model answer, each giving a score in [0, 1] and pass/fail.

Types are a registry (``registry.py``): the built-in families (``text``, ``structured``,
``graded``, ``python``, ``limits``) and types other packages add through the
``loomgit.assertions`` entry-point group (``docs/plugins.md``). ``spec.py`` checks and
compiles what a suite writes; ``scoring.py`` scores an answer.
"""

from __future__ import annotations

from loomgit.evals.assertions.graded import cosine, lexical_similarity
from loomgit.evals.assertions.model import (
    Assertion,
    AssertionError_,
    AssertionResult,
    AssertionType,
    Observation,
    Outcome,
    Services,
)
from loomgit.evals.assertions.registry import register, unregister
from loomgit.evals.assertions.scoring import combine, evaluate
from loomgit.evals.assertions.spec import MODIFIERS, compile_assertion, spec_problem
from loomgit.evals.assertions.structured import parse_json

__all__ = [
    "MODIFIERS",
    "Assertion",
    "AssertionError_",
    "AssertionResult",
    "AssertionType",
    "Observation",
    "Outcome",
    "Services",
    "combine",
    "compile_assertion",
    "cosine",
    "evaluate",
    "lexical_similarity",
    "parse_json",
    "register",
    "spec_problem",
    "unregister",
]
