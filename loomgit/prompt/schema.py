"""The one module that imports jsonschema: checking that a mapping is a JSON Schema,
building validators, and the first (or most relevant) error of a value, as text."""

from __future__ import annotations

from typing import Any

ErrorPath = list[str | int]


def schema_error(schema: Any) -> tuple[str, str] | None:
    """(message, ``a/b`` path inside the schema) when ``schema`` is not a valid JSON Schema
    (for the draft its ``$schema`` names, the newest one otherwise), else None."""
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as e:
        return e.message, "/".join(str(p) for p in e.path)
    return None


def validator(schema: dict[str, Any]) -> Any:
    """A validator for ``schema`` (assumed valid: see :func:`schema_error`)."""
    from jsonschema.validators import validator_for

    return validator_for(schema)(schema)


def first_error(validator_: Any, value: Any) -> tuple[ErrorPath, str] | None:
    """(path in ``value``, message) of the first error, or None when ``value`` is valid."""
    err = next(iter(validator_.iter_errors(value)), None)
    return None if err is None else (list(err.absolute_path), str(err.message))


def best_error(validator_: Any, value: Any) -> tuple[ErrorPath, str] | None:
    """:func:`first_error`, choosing the most relevant error as jsonschema ranks them."""
    from jsonschema.exceptions import best_match

    err = best_match(validator_.iter_errors(value))
    return None if err is None else (list(err.absolute_path), str(err.message))
