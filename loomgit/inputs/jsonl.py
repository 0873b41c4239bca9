"""JSON Lines: one JSON object per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from loomgit.inputs.lines import raw_lines
from loomgit.inputs.record import PREVIEW_CHARS, Record, bad_utf8, preview, size_text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def json_type(v: Any) -> str:
    if isinstance(v, list):
        return "an array"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, bool):
        return "a boolean"
    if v is None:
        return "null"
    return "a number"


def read_jsonl(fh: IO[bytes], limit: int) -> Iterator[Record]:
    """Records of a JSON Lines file; a bad line is a record with ``error`` set."""
    index = 0
    for lineno, raw, oversize in raw_lines(fh, limit):
        if oversize:
            index += 1
            yield Record(
                index,
                lineno,
                error=f"record is larger than {size_text(limit)}",
                raw=preview(raw[:PREVIEW_CHARS]),
            )
            continue
        if not raw.strip():
            continue
        index += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield Record(index, lineno, error=bad_utf8(raw, e), raw=preview(raw))
            continue
        try:
            value = loads(text)
        except json.JSONDecodeError as e:
            yield Record(
                index,
                lineno,
                error=f"invalid JSON: {e.msg} (column {e.colno})",
                raw=preview(text),
            )
            continue
        except (ValueError, RecursionError) as e:
            yield Record(index, lineno, error=f"invalid JSON: {e}", raw=preview(text))
            continue
        if not isinstance(value, dict):
            yield Record(
                index,
                lineno,
                error=f"a record must be a JSON object, got {json_type(value)}",
                raw=preview(text),
            )
            continue
        yield Record(index, lineno, value)
