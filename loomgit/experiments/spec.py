"""Experiment files: where they live (``experiments/NAME.yaml``), loading one and checking
it for ``loomgit check`` (the parsing itself is :mod:`loomgit.experiments.parse`).

```yaml
prompt: support/summarize
variants:                       # the first one is the control
  control: {ref: "@production", weight: 50}
  treatment: {ref: support/summarize@1.4.0, weight: 50}
metric: {type: rate, name: resolved}    # rate (success=True/False) | mean (value=0.83)
min_samples: 1000               # per variant, before any verdict
confidence: 0.95
promote_to: production          # default: the last configured stage
```
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from loomgit.config import closest
from loomgit.errors import ConfigError, LoomgitError
from loomgit.experiments.model import (
    DEFAULT_DIR,
    SETTINGS_KEYS,
    SUFFIXES,
    ExperimentError,
    ExperimentSpec,
    Metric,
    VariantSpec,
)
from loomgit.experiments.parse import parse_spec
from loomgit.findings import Finding, error, warning
from loomgit.prompt.parse import decode
from loomgit.refs import resolve

if TYPE_CHECKING:
    from loomgit.config import Config
    from loomgit.workspace import Workspace

__all__ = [
    "ExperimentError",
    "ExperimentSpec",
    "Metric",
    "VariantSpec",
    "check_experiment_file",
    "experiment_files",
    "find_file",
    "is_experiment_file",
    "load_spec",
    "name_of",
    "parse_spec",
    "settings",
]


# -- where experiments live -----------------------------------------------------------


def settings(config: Config) -> dict[str, str]:
    """The ``experiments:`` section of loomgit.yaml: ``dir`` and ``store``."""
    raw = config.section("experiments")
    for key in raw:
        if key not in SETTINGS_KEYS:
            raise ConfigError(
                f"experiments: unknown setting {key!r} (known: dir, store)", path="loomgit.yaml"
            )
    out = {"dir": DEFAULT_DIR}
    for key in SETTINGS_KEYS & set(raw):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise ConfigError(f"experiments: {key} must be a non-empty string", path="loomgit.yaml")
        out[key] = raw[key].strip()
    out["dir"] = out["dir"].strip("/")
    return out


def is_experiment_file(config: Config, rel: str) -> bool:
    folder = settings(config)["dir"] + "/"
    return rel.startswith(folder) and rel.endswith(SUFFIXES)


def experiment_files(ws: Workspace) -> list[str]:
    """Repo-relative paths of every experiment file in the working tree."""
    return [p for p in ws.tracked if is_experiment_file(ws.config, p)]


def name_of(config: Config, rel: str) -> str:
    folder = settings(config)["dir"] + "/"
    stem = rel[len(folder) :] if rel.startswith(folder) else Path(rel).name
    return re.sub(r"\.ya?ml$", "", stem)


def find_file(ws: Workspace, name: str) -> str:
    """The repo-relative file of experiment ``name`` (a name or a path to the file)."""
    if name.endswith(SUFFIXES):
        cand = Path(name)
        full = cand.resolve() if cand.is_file() else (ws.root / name).resolve()
        if full.is_file():
            try:
                return full.relative_to(ws.root).as_posix()
            except ValueError:
                raise ExperimentError(f"{name}: file is outside the repository") from None
    folder = settings(ws.config)["dir"]
    for suffix in SUFFIXES:
        rel = f"{folder}/{name}{suffix}"
        if (ws.root / rel).is_file():
            return rel
    known = [name_of(ws.config, p) for p in experiment_files(ws)]
    close = closest(name, known)
    hint = (
        f"; did you mean {close!r}?"
        if close
        else f"; known: {', '.join(known)}"
        if known
        else f"; create {folder}/{name}.yaml (see 'docs/experiments.md')"
    )
    raise ExperimentError(f"no experiment {name!r} ({folder}/{name}.yaml not found){hint}")


# -- parsing --------------------------------------------------------------------------


def _read(ws: Workspace, rel: str) -> str:

    try:
        return decode((ws.root / rel).read_bytes(), rel)
    except OSError as e:
        raise ExperimentError(f"cannot read: {e.strerror}", path=rel) from None


def load_spec(ws: Workspace, name: str) -> ExperimentSpec:
    """The experiment called ``name``; :class:`ExperimentError` (file:line) on the first
    problem, naming how many more there are."""
    rel = find_file(ws, name)
    spec, findings = parse_spec(_read(ws, rel), rel, name_of(ws.config, rel), ws.config)
    errors = [f for f in findings if f.level == "error"]
    if errors or spec is None:
        first = errors[0] if errors else error(rel, None, "unusable experiment")
        more = (
            f" (and {len(errors) - 1} more; run 'loomgit check {rel}')" if len(errors) > 1 else ""
        )
        raise ExperimentError(first.message + more, path=first.path, line=first.line)
    return spec


def check_experiment_file(ws: Workspace, rel: str) -> list[Finding]:
    """Findings for ``loomgit check``: the file's structure, then its references. An
    unknown prompt is an error; a reference that does not resolve yet (a version not
    committed, a stage not created) is a warning."""
    try:
        text = _read(ws, rel)
        spec, out = parse_spec(text, rel, name_of(ws.config, rel), ws.config)
    except LoomgitError as e:
        return [error(e.path or rel, e.line, e.message)]
    if spec is None:
        return out
    try:
        ws.find(spec.prompt)
    except LoomgitError as e:
        return [*out, error(rel, spec.variants[0].line, e.message)]

    for v in spec.variants:
        if "@" not in v.ref:
            continue
        try:
            resolve(ws, v.ref)
        except LoomgitError as e:
            out.append(
                warning(
                    rel, v.line, f"variant {v.name!r}: {v.ref} does not resolve yet: {e.message}"
                )
            )
    return out
