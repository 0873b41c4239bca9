"""The parsed-suite cache: a suite file's parse, kept as JSON by the hash of its text
(``load_suite``'s ``cache_dir``), so a suite read again is not parsed again."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from loomgit.evals.dataset_model import Dataset
from loomgit.evals.suite_model import Case, Suite
from loomgit.fsutil import atomic_write

CACHE_FORMAT = 2


def cached_suite(path: Path) -> Suite | None:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        cases = tuple(
            Case(
                **{
                    **c,
                    "asserts": tuple(c["asserts"]),
                    "tags": tuple(c["tags"]),
                    "turns": tuple(c.get("turns") or ()),
                }
            )
            for c in d.pop("cases")
        )
        return Suite(
            **{
                **d,
                "cases": cases,
                "providers": tuple(d["providers"]),
                "distribution": tuple(d["distribution"]),
                "datasets": tuple(Dataset.from_dict(x) for x in d["datasets"]),
            }
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _fields(obj: object) -> dict[str, object]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}  # type: ignore[arg-type]


def store_suite(path: Path, suite: Suite) -> None:
    # Case and Dataset are the only dataclasses in a suite: the rest is plain data, which
    # json writes as it is (dataclasses.asdict's deep copy of every value cost 40 ms for
    # 1,000 cases, as much as parsing them)
    d = _fields(suite)
    d["cases"] = [_fields(c) for c in suite.cases]
    d["datasets"] = [_fields(x) for x in suite.datasets]
    try:
        atomic_write(path, json.dumps(d, ensure_ascii=False))
    except (OSError, TypeError, ValueError):
        pass  # a cache that cannot be written is no reason to fail
