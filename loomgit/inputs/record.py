"""Records and the things every input format shares: the record type, the error for a
file that cannot be read as a whole, previews of bad records, and detecting the format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loomgit.errors import UsageError

FORMATS = ("jsonl", "json", "csv", "tsv")

MAX_RECORD_BYTES = 8 * 1024 * 1024

PREVIEW_CHARS = 500


class InputError(UsageError):
    """The input file as a whole cannot be read (exit 2)."""


@dataclass(frozen=True)
class Record:
    """One input record: its number, the line it starts on, and its fields or the reason
    it could not be read (then ``raw`` holds the start of its text)."""

    index: int
    line: int
    data: dict[str, Any] | None = None
    error: str | None = None
    raw: str | None = None


def preview(raw: bytes | str, limit: int = PREVIEW_CHARS) -> str:
    text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
    text = text.rstrip("\r\n")
    return text if len(text) <= limit else text[:limit] + "…"


def bad_utf8(data: bytes, e: UnicodeDecodeError) -> str:
    col = e.start + 1
    return f"not valid UTF-8 (byte 0x{data[e.start]:02x} at column {col})"


def size_text(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"


def detect_format(path: str, head: bytes, explicit: str | None = None) -> str:
    """The input's format from ``--format``, the file name, or its first byte."""
    if explicit:
        if explicit not in FORMATS:
            raise InputError(f"--format {explicit}: expected one of {', '.join(FORMATS)}")
        return explicit
    low = path.lower()
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if low.endswith((".jsonl", ".ndjson", ".jsonlines")):
        return "jsonl"
    if low.endswith(".tsv"):
        return "tsv"
    if low.endswith(".csv"):
        return "csv"
    if low.endswith(".json"):
        if first == b"{":
            raise InputError(
                "expected a JSON array of records ([{...}, {...}]); for one "
                "object per line name the file .jsonl or pass --format jsonl",
                path=path,
                line=1,
            )
        return "json"
    if first == b"[":
        return "json"
    if first == b"{":
        return "jsonl"
    raise InputError(
        "cannot tell the format from the file name; pass --format jsonl, json, csv or tsv",
        path=path,
    )
