"""Reading a file line by line in bounded pieces: a leading byte-order mark dropped, a line
longer than the record limit read past (and reported), undecodable bytes kept as lone
surrogates for the CSV reader to report per row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

BOM = b"\xef\xbb\xbf"

CHUNK = 1 << 16  # bytes per read


def drain_line(fh: IO[bytes]) -> None:
    while True:
        more = fh.readline(CHUNK)
        if not more or more.endswith(b"\n"):
            return


def decoded_lines(fh: IO[bytes], limit: int, oversize: list[int]) -> Iterator[str]:
    """Lines as text; undecodable bytes become lone surrogates (found again per row).
    A line longer than ``limit`` is skipped (its number noted in ``oversize``)."""
    for lineno, raw, too_long in raw_lines(fh, limit):
        if too_long:
            oversize.append(lineno)
            yield "\n"
            continue
        yield raw.decode("utf-8", "surrogateescape")


def raw_lines(fh: IO[bytes], limit: int) -> Iterator[tuple[int, bytes, bool]]:
    """``(line number, bytes, too long)`` for each line, without a leading byte-order mark.
    A line longer than ``limit`` is read past (only its first ``limit`` bytes are kept)."""
    lineno = 0
    while True:
        raw = fh.readline(limit + 1)
        if not raw:
            return
        lineno += 1
        if lineno == 1 and raw.startswith(BOM):
            raw = raw[3:]
        if len(raw) > limit and not raw.endswith(b"\n"):
            drain_line(fh)
            yield lineno, raw, True
            continue
        yield lineno, raw, False
