"""JSON Schemas (draft 2020-12) of the files loomgit reads, for editors and other tools.

One ``NAME.json`` file per format is shipped as package data and read only when asked
for (``loomgit schema NAME``, ``loomgit init``), so start-up never pays for them. The
schemas are written to agree with the validators (``loomgit.config``,
``loomgit.prompt.fields``, ``loomgit.evals.suite``, ``loomgit.experiments.parse``,
``loomgit.batch.pipeline``); the tests hold both to the same known keys and to every
example in the documentation. The validators stay the authority: a schema cannot say
everything they check (a variant's ref naming the experiment's prompt, a gate's case
names), and unknown frontmatter keys, which ``check`` only warns about, are flagged by
editors reading the schema.

Editors that speak the YAML language server read a schema named on the file's first
line (``# yaml-language-server: $schema=PATH``); ``loomgit init`` writes the schemas to
:data:`INIT_DIR` in the repository, so that modeline works offline and is reviewed like
any other file.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import PurePosixPath
from typing import Any

from loomgit.prompt.schema import best_error, validator

# name -> the files it describes
NAMES: dict[str, str] = {
    "config": "loomgit.yaml",
    "prompt": "the frontmatter of .prompt files",
    "suite": "test suites (*.tests.yaml)",
    "experiment": "experiment files (experiments/*.yaml)",
    "pipeline": "pipeline files (pipelines/*.yaml)",
}
INIT_DIR = ".loomgit/schemas"  # where ``loomgit init`` puts copies, relative to the root
MODELINE = "# yaml-language-server: $schema="

__all__ = ["INIT_DIR", "MODELINE", "NAMES", "init_files", "load", "modeline", "problem", "text"]


def text(name: str) -> str:
    """The schema called ``name`` (one of :data:`NAMES`), as JSON text."""
    if name not in NAMES:
        raise KeyError(name)
    return resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text(name))
    return data


def init_files() -> dict[str, str]:
    """The schema files ``loomgit init`` writes, by path relative to the repository root."""
    return {f"{INIT_DIR}/{name}.json": text(name) for name in NAMES}


def modeline(name: str, file: str) -> str:
    """The first line that points the YAML language server at :data:`INIT_DIR`'s copy of
    schema ``name`` from ``file`` (a path relative to the repository root)."""
    depth = len(PurePosixPath(file).parent.parts)
    return f"{MODELINE}{'../' * depth}{INIT_DIR}/{name}.json"


def problem(name: str, value: Any) -> tuple[list[str | int], str] | None:
    """(path in ``value``, message) of the most relevant way ``value`` breaks schema
    ``name``, or None when it is valid."""
    return best_error(validator(load(name)), value)
