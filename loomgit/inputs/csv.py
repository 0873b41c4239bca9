"""CSV and TSV: a header row names the columns; every cell is text."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from typing import IO

from loomgit.inputs.lines import decoded_lines
from loomgit.inputs.record import InputError, Record, preview, size_text

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
    lines = _Lines(decoded_lines(fh, limit, oversize))
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
        while not header:
            header = next(reader)
    except StopIteration:
        raise InputError("empty CSV file: no header row", path=display, line=1) from None
    except csv.Error as e:
        raise InputError(f"malformed CSV header: {e}", path=display, line=1) from None
    hline = lines.line
    opened = _open_quote(lines.pending, delimiter) if lines.done else None
    if opened is not None:
        at = lines.first + opened
        raise InputError(
            f"unclosed quote in the CSV header: the quoted field opened on line {at}"
            " is never closed",
            path=display,
            line=at,
        )
    _check_header(header, hline, display)
    on_header(tuple(header))
    n = len(header)
    index = 0
    while True:
        lines.mark()
        start = lines.first
        try:
            row = next(reader)
            error = None
        except StopIteration:
            break
        except csv.Error as e:
            row, error = [], f"malformed CSV: {e}"
        opened = _open_quote(lines.pending, delimiter) if error or lines.done else None
        if opened is not None:
            # A quote that never closes would swallow every later row into one field:
            # quarantine the record it opened, then read again from the line after it.
            index += 1
            at = start + opened
            rest = f"reading resumes at line {at + 1}" if lines.after(opened) else "end of file"
            yield Record(
                index,
                start,
                error=f"unclosed quote: the quoted field opened on line {at} is never closed"
                f" ({rest})",
                raw=preview(lines.pending[opened].rstrip("\r\n")),
            )
            lines.replay_after(opened)
            reader = csv.reader(lines, delimiter=delimiter)
            continue
        if error:
            index += 1
            yield Record(index, start, error=error)
            continue
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


class _Lines:
    """The lines handed to ``csv.reader``, numbered, keeping those of the record being
    read so that the reader can start again after a quote that never closes."""

    def __init__(self, source: Iterator[str]) -> None:
        self.source = source
        self.pending: list[str] = []
        self.replay: list[str] = []
        self.line = 0  # number of the last line handed out
        self.first = 1  # number of pending[0]
        self.done = False  # the source is exhausted and nothing is left to replay

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.replay:
            text = self.replay.pop(0)
        else:
            try:
                text = next(self.source)
            except StopIteration:
                self.done = True
                raise
        self.line += 1
        self.pending.append(text)
        return text

    def mark(self) -> None:
        """A new record starts with the next line."""
        self.pending = []
        self.first = self.line + 1

    def after(self, i: int) -> bool:
        """Whether any line follows ``pending[i]``."""
        return i + 1 < len(self.pending) or bool(self.replay) or not self.done

    def replay_after(self, i: int) -> None:
        """Hand out again the pending lines after ``pending[i]``."""
        self.replay = self.pending[i + 1 :] + self.replay
        self.line = self.first + i
        self.done = False


def _open_quote(lines: list[str], delimiter: str) -> int | None:
    """Index of the line in ``lines`` whose quoted field is still open at their end, or
    None when every quote closes (the reading rules of ``csv`` in its default dialect)."""
    opened: int | None = None
    for i, text in enumerate(lines):
        at_start, j = opened is None, 0
        while j < len(text):
            c = text[j]
            if opened is not None:
                if c == '"':
                    if text.startswith('""', j):
                        j += 1
                    else:
                        opened = None
            elif c == '"' and at_start:
                opened = i
            at_start = c == delimiter or (c in "\r\n" and opened is None)
            j += 1
    return opened


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
