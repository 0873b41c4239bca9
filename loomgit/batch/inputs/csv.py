"""CSV and TSV: a header row names the columns; every cell is text."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from typing import IO

from loomgit.batch.inputs.lines import decoded_lines
from loomgit.batch.inputs.record import InputError, Record, preview, size_text

SURROGATE = re.compile("[\udc80-\udcff]")


def read_csv(
    fh: IO[bytes],
    delimiter: str,
    limit: int,
    display: str,
    on_header: Callable[[tuple[str, ...]], None],
) -> Iterator[Record]:
    """Records of a CSV/TSV file; ``on_header`` gets the columns once the header is read."""
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)
    oversize: list[int] = []
    lines = decoded_lines(fh, limit, oversize)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
        while not header:
            header = next(reader)
    except StopIteration:
        raise InputError("empty CSV file: no header row", path=display, line=1) from None
    except csv.Error as e:
        raise InputError(f"malformed CSV header: {e}", path=display, line=1) from None
    hline = reader.line_num
    _check_header(header, hline, display)
    on_header(tuple(header))
    n = len(header)
    index, prev = 0, reader.line_num
    while True:
        start = prev + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            index += 1
            prev = reader.line_num
            yield Record(index, start, error=f"malformed CSV: {e}")
            continue
        prev = reader.line_num
        while oversize:
            index += 1
            yield Record(
                index,
                oversize.pop(0),
                error=f"record is larger than {size_text(limit)}",
            )
        if not row:
            continue
        index += 1
        raw = delimiter.join(row)
        bad = next((i for i, v in enumerate(row) if SURROGATE.search(v)), None)
        if bad is not None:
            col = header[bad] if bad < n else f"#{bad + 1}"
            byte = ord(SURROGATE.search(row[bad]).group()) - 0xDC00  # type: ignore[union-attr]
            yield Record(
                index,
                start,
                error=f"not valid UTF-8 (byte 0x{byte:02x} in column {col!r})",
                raw=preview(raw.encode("utf-8", "surrogateescape")),
            )
            continue
        if any("\0" in v for v in row):
            yield Record(
                index,
                start,
                error="contains a NUL byte (binary data?)",
                raw=preview(raw.replace("\0", "\\0")),
            )
            continue
        if len(row) < n:
            missing = ", ".join(repr(c) for c in header[len(row) :])
            yield Record(
                index,
                start,
                error=f"missing column(s) {missing} (the row has {len(row)} of {n} fields)",
                raw=preview(raw),
            )
            continue
        if len(row) > n:
            yield Record(
                index,
                start,
                error=f"the row has {len(row)} fields but the header has {n} columns",
                raw=preview(raw),
            )
            continue
        yield Record(index, start, dict(zip(header, row)))
    while oversize:
        index += 1
        yield Record(
            index,
            oversize.pop(0),
            error=f"record is larger than {size_text(limit)}",
        )


def _check_header(header: list[str], line: int, display: str) -> None:
    for i, name in enumerate(header):
        if SURROGATE.search(name):
            raise InputError("the CSV header is not valid UTF-8", path=display, line=line)
        if not name.strip():
            raise InputError(
                f"column {i + 1} of the CSV header has no name", path=display, line=line
            )
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise InputError(
            f"duplicate column name(s) in the CSV header: {', '.join(dup)}",
            path=display,
            line=line,
        )
