"""Streaming readers for batch inputs: JSON Lines, a JSON array, CSV/TSV.

Every reader yields :class:`Record` values one at a time, so a file of any size is read
in constant memory. A record that cannot be read (a malformed line, a missing column, a
byte that is not UTF-8, a record larger than the limit) is yielded with ``error`` set and
the reading goes on; only problems with the whole file (it does not exist, it is not a
JSON array, the CSV header is unusable) raise :class:`InputError`.

Records are numbered from 1 in file order (bad ones included), so the same file gives the
same numbers on every read: an interrupted run resumes by skipping the numbers it finished.

``reader`` opens a file and picks the format; ``jsonl``, ``json_array`` and ``csv`` read
one format each over ``lines``; ``mapping`` turns a record's fields into variables.
"""

from __future__ import annotations

from loomgit.batch.inputs.mapping import (
    check_mapping,
    coerce_cell,
    lookup,
    parse_map,
    select_vars,
)
from loomgit.batch.inputs.reader import RecordReader, file_fingerprint
from loomgit.batch.inputs.record import (
    FORMATS,
    MAX_RECORD_BYTES,
    PREVIEW_CHARS,
    InputError,
    Record,
    detect_format,
    preview,
)

__all__ = [
    "FORMATS",
    "MAX_RECORD_BYTES",
    "PREVIEW_CHARS",
    "InputError",
    "Record",
    "RecordReader",
    "check_mapping",
    "coerce_cell",
    "detect_format",
    "file_fingerprint",
    "lookup",
    "parse_map",
    "preview",
    "select_vars",
]
