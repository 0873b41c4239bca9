"""A JSON array of records, split into elements without loading the file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from json import JSONDecodeError
from typing import IO

import loomgit.inputs.lines as lines
from loomgit.inputs.jsonl import json_type, loads
from loomgit.inputs.lines import BOM
from loomgit.inputs.record import (
    PREVIEW_CHARS,
    InputError,
    Record,
    bad_utf8,
    preview,
    size_text,
)


def read_json_array(
    fh: IO[bytes], limit: int, display: str, warnings: list[str]
) -> Iterator[Record]:
    """Split a top-level array into elements without loading the file: a small scanner
    tracks strings and nesting and cuts at commas on the array's own level; each element
    is then decoded and parsed on its own, so one bad element spoils only itself."""
    scanner = ArrayScanner(fh, limit, display)
    index = 0
    for line, body, problem in scanner:
        index += 1
        if problem is not None:
            yield Record(index, line, error=problem, raw=preview(body) if body else None)
            continue
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            yield Record(index, line, error=bad_utf8(body, e), raw=preview(body))
            continue
        try:
            value = loads(text)
        except JSONDecodeError as e:
            where = f"line {line + e.lineno - 1}, " if e.lineno > 1 else ""
            yield Record(
                index,
                line,
                error=f"invalid JSON: {e.msg} ({where}column {e.colno})",
                raw=preview(text),
            )
            continue
        except (ValueError, RecursionError) as e:
            yield Record(index, line, error=f"invalid JSON: {e}", raw=preview(text))
            continue
        if not isinstance(value, dict):
            yield Record(
                index,
                line,
                error=f"a record must be a JSON object, got {json_type(value)}",
                raw=preview(text),
            )
            continue
        yield Record(index, line, value)
    warnings.extend(scanner.warnings)


class ArrayScanner:
    """Yields ``(line, element bytes, problem)`` for each element of a top-level JSON array."""

    _OUT = re.compile(rb'[\[\]{}",\n]')
    _IN = re.compile(rb'["\\\n]')

    def __init__(self, fh: IO[bytes], limit: int, display: str) -> None:
        self.fh, self.limit, self.display = fh, limit, display
        self.warnings: list[str] = []

    def __iter__(self) -> Iterator[tuple[int, bytes, str | None]]:
        fh, limit = self.fh, self.limit
        chunk = fh.read(lines.CHUNK)
        while 0 < len(chunk) < 3:  # enough to see a byte-order mark
            more = fh.read(lines.CHUNK)
            if not more:
                break
            chunk += more
        line, i = 1, 0
        if chunk.startswith(BOM):
            i = 3
        # find the opening bracket
        while True:
            while i < len(chunk) and chunk[i] in b" \t\r\n":
                if chunk[i] == 10:
                    line += 1
                i += 1
            if i < len(chunk):
                break
            chunk, i = fh.read(lines.CHUNK), 0
            if not chunk:
                raise InputError("empty file: expected a JSON array of records", path=self.display)
        if chunk[i] != ord("["):
            raise InputError(
                f"expected a JSON array of records, found {chr(chunk[i])!r}",
                path=self.display,
                line=line,
            )
        i += 1
        parts: list[bytes] = []
        size = 0
        start_line = line
        depth, in_str, esc, closed = 0, False, False, False
        elem_start = i
        seen_content = False

        def finish(end: int) -> tuple[int, bytes, str | None] | None:
            nonlocal parts, size
            if size + (end - elem_start) > limit:
                body, problem = b"", f"record is larger than {size_text(limit)}"
            else:
                body = b"".join(parts) + chunk[elem_start:end]
                problem = None
            parts, size = [], 0
            stripped = body.lstrip()
            lead = body[: len(body) - len(stripped)].count(b"\n")
            body = stripped.rstrip()
            if problem is None and not body:
                return None
            return start_line + lead, body, problem

        trailing_comma = False
        while True:
            n = len(chunk)
            while i < n:
                if in_str:
                    if esc:
                        esc, i = False, i + 1
                        continue
                    m = self._IN.search(chunk, i)
                    if m is None:
                        i = n
                        break
                    c, i = chunk[m.start()], m.end()
                    if c == 34:  # "
                        in_str = False
                    elif c == 92:  # backslash
                        esc = True
                    else:
                        line += 1
                    continue
                m = self._OUT.search(chunk, i)
                if m is None:
                    if chunk[i:].strip():
                        seen_content = True
                    i = n
                    break
                pos = m.start()
                if chunk[i:pos].strip():
                    seen_content = True
                c, i = chunk[pos], m.end()
                if c == 10:
                    line += 1
                elif c == 34:
                    in_str, seen_content = True, True
                elif c in (91, 123):  # [ {
                    depth += 1
                    seen_content = True
                elif c in (93, 125) and depth > 0:
                    depth -= 1
                elif c == 44 and depth == 0:  # , between elements
                    got = finish(pos)
                    if got is None:
                        yield start_line, b"", "empty element (two commas in a row?)"
                    else:
                        yield got
                    elem_start, start_line, seen_content = i, line, False
                    trailing_comma = True
                elif c == 93 and depth == 0:  # the closing ]
                    got = finish(pos)
                    if got is not None:
                        yield got
                    elif trailing_comma:
                        self.warnings.append(f"{self.display}:{line}: trailing comma before ]")
                    closed = True
                    rest = chunk[i:] + fh.read(lines.CHUNK)
                    if rest.strip():
                        self.warnings.append(
                            f"{self.display}:{line}: text after the closing ] was ignored"
                        )
                    return
                elif c == 125 and depth == 0:
                    seen_content = True  # a stray }: the element fails to parse
            # end of chunk: keep the element's bytes (up to the limit)
            piece = chunk[elem_start:]
            if size + len(piece) <= limit:
                parts.append(piece)
            size += len(piece)
            chunk, i, elem_start = fh.read(lines.CHUNK), 0, 0
            if not chunk:
                break
        if not closed:
            if in_str or depth > 0:
                body = b"".join(parts)
                lead = body[: len(body) - len(body.lstrip())].count(b"\n")
                yield (
                    start_line + lead,
                    body.strip()[:PREVIEW_CHARS],
                    "the file ends inside this record (truncated?)",
                )
            elif seen_content:
                got = finish(0)
                if got is not None:
                    yield got
            self.warnings.append(
                f"{self.display}: the JSON array is not closed with ] (truncated file?)"
            )
