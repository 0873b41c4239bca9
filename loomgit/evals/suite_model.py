"""A test suite as data: its cases, defaults, gate and distribution checks, and the keys a
suite file may use (parsed by :mod:`loomgit.evals.suite`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loomgit.errors import PromptError, UsageError

if TYPE_CHECKING:
    from loomgit.evals.dataset_model import Dataset

SUITE_KEYS = {
    "providers",
    "repeat",
    "gate",
    "defaults",
    "cases",
    "distribution",
    "prompt",
    "threshold",
    "description",
}


CASE_KEYS = {
    "name",
    "vars",
    "assert",
    "description",
    "repeat",
    "skip",
    "tags",
    "expected",
    "weight",
    "turns",
}


DEFAULT_KEYS = {"assert", "vars", "params"}


GATES = {"all_pass", "majority_pass", "any_pass", "weighted"}


MAX_REPEAT = 1000


class SuiteError(UsageError, PromptError):
    """A test suite cannot be used (exit 2: the input is wrong, nothing was evaluated)."""


@dataclass(frozen=True)
class Case:
    name: str
    vars: dict[str, Any]
    asserts: tuple[dict[str, Any], ...]
    line: int | None = None
    repeat: int | None = None
    expected: Any = None
    weight: float = 1.0
    skip: bool = False
    tags: tuple[str, ...] = ()
    description: str = ""
    turns: tuple[dict[str, Any], ...] = ()  # a multi-turn case (see evals/turns.py)
    file: str | None = None  # the data file the case comes from (None: the suite file)


@dataclass(frozen=True)
class Suite:
    path: str
    cases: tuple[Case, ...]
    providers: tuple[str, ...] = ()
    repeat: int = 1
    gate: Any = "all_pass"
    defaults: dict[str, Any] = field(default_factory=dict)
    distribution: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None
    prompt: str | None = None
    datasets: tuple[Dataset, ...] = ()  # cases: entries naming data files (evals.datasets)
    root: str | None = None  # the repository the data files are read from

    @property
    def default_asserts(self) -> tuple[dict[str, Any], ...]:
        return tuple(self.defaults.get("assert") or ())

    @property
    def default_vars(self) -> dict[str, Any]:
        return dict(self.defaults.get("vars") or {})

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.defaults.get("params") or {})

    def case_vars(self, case: Case) -> dict[str, Any]:
        return {**self.default_vars, **case.vars}

    def case_asserts(self, case: Case) -> tuple[dict[str, Any], ...]:
        return self.default_asserts + case.asserts
