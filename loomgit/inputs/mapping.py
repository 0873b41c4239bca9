"""Input fields to prompt variables: ``--map VARIABLE=FIELD``, dotted paths into nested
records, and CSV cells coerced to the variable's declared type."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from loomgit.errors import UsageError
from loomgit.inputs.record import InputError


def parse_map(pairs: Iterable[str]) -> dict[str, str]:
    """``["review=text", ...]`` -> ``{"review": "text"}`` (variable -> field or column)."""
    out: dict[str, str] = {}
    for pair in pairs:
        var, sep, col = pair.partition("=")
        var, col = var.strip(), col.strip()
        if not sep or not var or not col:
            raise UsageError(f"--map {pair!r}: expected VARIABLE=COLUMN")
        if var in out:
            raise UsageError(f"--map {var}: given twice")
        out[var] = col
    return out


def check_mapping(
    names: Iterable[str],
    mapping: Mapping[str, str],
    columns: tuple[str, ...] | None,
    prompt_id: str,
    display: str,
) -> None:
    """Fail early (exit 2) when ``--map`` names an unknown variable or a column the CSV
    header lacks, or when a required variable has no column at all."""
    names = list(names)
    unknown = sorted(set(mapping) - set(names))
    if unknown:
        raise UsageError(
            f"--map: {prompt_id} has no variable(s) {', '.join(unknown)} "
            f"(variables: {', '.join(names) or 'none'})"
        )
    if columns is None:
        return
    absent = sorted(c for c in mapping.values() if c not in columns)
    if absent:
        raise InputError(
            f"no column(s) {', '.join(map(repr, absent))} in the CSV header "
            f"(columns: {', '.join(columns)})",
            path=display,
            line=1,
        )


_COERCE_TYPES = ("integer", "number", "boolean", "array", "object", "messages")


def coerce_cell(vtype: str, raw: str) -> Any:
    """A CSV cell as the variable's declared type; ``ValueError`` with a reason otherwise."""
    if vtype == "integer":
        try:
            return int(raw.strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number") from None
    if vtype == "number":
        try:
            s = raw.strip()
            return float(s) if any(c in s for c in ".eEnN") else int(s)
        except ValueError:
            raise ValueError(f"{raw!r} is not a number") from None
    if vtype == "boolean":
        low = raw.strip().lower()
        if low in ("true", "yes", "1", "on"):
            return True
        if low in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"{raw!r} is not true or false")
    if vtype in ("array", "object", "messages"):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(f"{_short(raw)!r} is not a JSON {vtype}") from None
        if not isinstance(value, dict if vtype == "object" else list):
            raise ValueError(f"{_short(raw)!r} is not a JSON {vtype}")
        return value
    return raw


def _short(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[:n] + "…"


def lookup(data: Mapping[str, Any], field: str) -> tuple[bool, Any]:
    """(found, value) of ``field`` in a record; a dotted name reaches into nested objects."""
    if field in data:
        return True, data[field]
    if "." in field:  # a dotted path into nested JSON objects
        cur: Any = data
        for part in field.split("."):
            if not isinstance(cur, Mapping) or part not in cur:
                return False, None
            cur = cur[part]
        return True, cur
    return False, None


def select_vars(
    data: Mapping[str, Any],
    variables: Mapping[str, Any],
    mapping: Mapping[str, str],
    *,
    from_text: bool,
) -> dict[str, Any]:
    """The prompt's variables taken from one record: each variable from the field of the
    same name (or the one ``--map`` names); other fields are ignored. ``from_text`` (CSV)
    converts cells to the declared types and treats an empty cell of an optional variable
    as absent. Raises ``ValueError`` with a reason a person can act on."""
    out: dict[str, Any] = {}
    for name, var in variables.items():
        field = mapping.get(name, name)
        found, value = lookup(data, field)
        if not found:
            continue
        vtype = getattr(var, "type", "any")
        if from_text and isinstance(value, str):
            if value == "" and not getattr(var, "required", True):
                continue
            if vtype in _COERCE_TYPES:
                try:
                    value = coerce_cell(vtype, value)
                except ValueError as e:
                    where = f"column {field!r}" if field == name else f"column {field!r} ({name})"
                    raise ValueError(f"{where}: {e}") from None
        out[name] = value
    return out
