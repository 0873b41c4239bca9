"""Option values of ``loomgit run`` and ``loomgit cost``: inline YAML for ``--assert``,
``--param`` and ``--gate``, budgets, and the paths of a pipeline file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import loomgit._yaml as _yaml
from loomgit.batch.cost import parse_budget
from loomgit.batch.pipeline import load_pipeline
from loomgit.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from loomgit.batch.pipeline import Pipeline
    from loomgit.workspace import Workspace


def inline_asserts(values: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    """``--assert '{contains: positive}'`` (YAML flow or ``kind: value``) as mappings."""
    out = []
    for raw in values:
        text = raw if raw.strip().startswith("{") else "{" + raw + "}"
        try:
            data = _yaml.plain(_yaml.load(text))
        except _yaml.YamlError as e:
            raise UsageError(f"--assert {raw!r}: {e.message}") from None
        if not isinstance(data, dict):
            raise UsageError(
                f"--assert {raw!r}: expected an assertion such as '{{contains: positive}}'"
            )
        out.append(data)
    return tuple(out)


def param_values(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        k, sep, v = pair.partition("=")
        if not sep or not k:
            raise UsageError(f"--param {pair!r}: expected NAME=VALUE, as in temperature=0")
        try:
            out[k] = _yaml.plain(_yaml.load(v)) if v.strip() else ""
        except _yaml.YamlError:
            out[k] = v
    return out


def gate_value(raw: str) -> Any:
    """``--gate all_pass`` or a YAML mapping such as ``{weighted: true, threshold: 0.6}``."""
    if not raw.strip().startswith("{"):
        return raw

    try:
        return _yaml.plain(_yaml.load(raw))
    except _yaml.YamlError as e:
        raise UsageError(f"--gate {raw!r}: {e.message}") from None


def budget_value(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return parse_budget(raw)
    except ValueError as e:
        raise UsageError(f"--budget: {e}") from None


def config_budget(ws: Workspace) -> float | None:
    raw = ws.config.raw.get("budget")
    if isinstance(raw, dict):
        raw = raw.get("run", raw.get("default"))
    try:
        return parse_budget(raw)
    except ValueError as e:
        raise ConfigError(f"budget: {e}", path="loomgit.yaml") from None


def pipeline_spec(ws: Workspace, name: str | None) -> Pipeline | None:
    if not name:
        return None

    return load_pipeline(ws, name)


def from_root(ws: Workspace, path: str | None) -> str | None:
    """A pipeline path (relative to the repository root) as seen from the cwd."""
    if path is None or path == "-":
        return path

    p = Path(path)
    full = p if p.is_absolute() else ws.root / p
    try:
        return os.path.relpath(full)
    except ValueError:  # another drive (Windows)
        return str(full)
