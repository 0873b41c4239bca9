"""Variables given on the command line: ``--var NAME=VALUE`` (typed by the prompt's
declaration) and ``--vars-file`` (JSON or YAML)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import loomgit._yaml as _yaml
from loomgit.errors import RenderError, UsageError


def coerce(vtype: str, name: str, raw: str) -> Any:
    """A ``--var`` string converted to the variable's declared type."""
    try:
        if vtype == "integer":
            return int(raw)
        if vtype == "number":
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
        if vtype == "boolean":
            low = raw.lower()
            if low in ("true", "yes", "1", "on"):
                return True
            if low in ("false", "no", "0", "off"):
                return False
            raise ValueError(raw)
        if vtype in ("array", "object", "messages"):
            value = json.loads(raw)
            if not isinstance(value, dict if vtype == "object" else list):
                raise ValueError(raw)
            return value
    except ValueError:
        raise RenderError(f"--var {name}={raw}: not a valid {vtype}") from None
    return raw


def read_vars_file(path: str) -> dict[str, Any]:

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"--vars-file {path}: cannot read ({e})") from None
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(f"invalid JSON: {e.msg}", path=path, line=e.lineno) from None
    else:
        data = _yaml.plain(_yaml.load(text, path=path))
    if not isinstance(data, dict):
        raise UsageError("vars file must hold a mapping of variable names to values", path=path)
    return data


def collect_vars(
    prompt: Any, pairs: tuple[str, ...], vars_file: str | None
) -> dict[str, Any] | None:
    """The prompt's sample with ``--vars-file`` on top and ``--var k=v`` on top of that
    (None: neither given, so rendering uses the sample as it is)."""
    if not pairs and not vars_file:
        return None
    values: dict[str, Any] = dict(getattr(prompt, "sample", None) or {})
    values.update(read_vars_file(vars_file) if vars_file else {})
    declared = prompt.variables or {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--var {pair!r}: expected NAME=VALUE")
        var = declared.get(name)
        values[name] = coerce(var.type, name, raw) if var is not None else raw
    return values
