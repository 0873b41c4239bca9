"""A ``cases:`` entry naming a data file, as data (read by :mod:`loomgit.evals.datasets`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

DATASET_KEYS = {
    "file",
    "format",
    "vars",
    "expected",
    "name",
    "assert",
    "limit",
    "sample",
    "seed",
    "description",
    "repeat",
    "skip",
    "tags",
    "weight",
}


@dataclass(frozen=True)
class Dataset:
    """One ``cases:`` entry naming a data file, as the suite file wrote it."""

    file: str  # relative to the repository's root
    line: int | None = None  # of the entry in the suite file
    position: int = 0  # inline cases written before it
    format: str | None = None
    vars: dict[str, str] | None = None  # variable -> field; None: every field
    expected: str | None = None  # field holding the expected answer
    name: str | None = None  # field holding the case name
    asserts: tuple[dict[str, Any], ...] = ()
    limit: int | None = None
    sample: int | None = None
    seed: int = 0
    description: str = ""
    repeat: int | None = None
    skip: bool = False
    tags: tuple[str, ...] = ()
    weight: float = 1.0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Dataset:
        known = {f.name for f in fields(cls)}
        v = {k: d[k] for k in d if k in known}
        return cls(
            **{**v, "asserts": tuple(v.get("asserts", ())), "tags": tuple(v.get("tags", ()))}
        )
