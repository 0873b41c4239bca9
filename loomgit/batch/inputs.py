"""Streaming readers for batch inputs: JSON Lines, a JSON array, CSV/TSV.

Every reader yields :class:`Record` values one at a time, so a file of any size is read
in constant memory. A record that cannot be read (a malformed line, a missing column, a
byte that is not UTF-8, a record larger than the limit) is yielded with ``error`` set and
the reading goes on; only problems with the whole file (it does not exist, it is not a
JSON array, the CSV header is unusable) raise :class:`InputError`.

Records are numbered from 1 in file order (bad ones included), so the same file gives the
same numbers on every read: an interrupted run resumes by skipping the numbers it finished.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from loomgit.errors import UsageError

FORMATS = ("jsonl", "json", "csv", "tsv")
MAX_RECORD_BYTES = 8 * 1024 * 1024
PREVIEW_CHARS = 500
_BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 16


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


def _bad_utf8(data: bytes, e: UnicodeDecodeError) -> str:
    col = e.start + 1
    return f"not valid UTF-8 (byte 0x{data[e.start]:02x} at column {col})"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def _json_type(v: Any) -> str:
    if isinstance(v, list):
        return "an array"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, bool):
        return "a boolean"
    if v is None:
        return "null"
    return "a number"


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


class RecordReader:
    """``for record in RecordReader(path): ...``; a context manager that closes the file.

    ``columns`` is the CSV header once read; ``warnings`` collects notes about the file as
    a whole (for example a JSON array that is not closed).
    """

    def __init__(
        self,
        path: str,
        fmt: str | None = None,
        *,
        max_record_bytes: int = MAX_RECORD_BYTES,
        display: str | None = None,
    ) -> None:
        self.path = path
        self.display = display or path
        self.max_record_bytes = max_record_bytes
        self.columns: tuple[str, ...] | None = None
        self.warnings: list[str] = []
        self._fh: IO[bytes] = self._open()
        try:
            self.format = detect_format(self.display, self._peek(), fmt)
        except BaseException:
            self.close()
            raise

    def _open(self) -> IO[bytes]:
        if self.path == "-":
            return sys.stdin.buffer
        try:
            return open(self.path, "rb")  # noqa: SIM115 - closed by close()
        except FileNotFoundError:
            raise InputError("no such file", path=self.display) from None
        except IsADirectoryError:
            raise InputError("is a folder, not a file", path=self.display) from None
        except OSError as e:
            raise InputError(f"cannot read ({e.strerror})", path=self.display) from None

    def _peek(self) -> bytes:
        fh = self._fh
        if isinstance(fh, io.BufferedReader):
            return fh.peek(64)[:64]
        return b""

    def position(self) -> int | None:
        """Bytes of the file read so far (None for a stream such as stdin)."""
        try:
            return self._fh.tell()
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        if self._fh is not sys.stdin.buffer:
            self._fh.close()

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Record]:
        if self.format == "jsonl":
            return self._jsonl()
        if self.format == "json":
            return self._json_array()
        return self._csv("\t" if self.format == "tsv" else ",")

    # -- JSON Lines ----------------------------------------------------------------

    def _jsonl(self) -> Iterator[Record]:
        limit = self.max_record_bytes
        index = 0
        for lineno, raw, oversize in _raw_lines(self._fh, limit):
            if oversize:
                index += 1
                yield Record(
                    index,
                    lineno,
                    error=f"record is larger than {_size(limit)}",
                    raw=preview(raw[:PREVIEW_CHARS]),
                )
                continue
            if not raw.strip():
                continue
            index += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield Record(index, lineno, error=_bad_utf8(raw, e), raw=preview(raw))
                continue
            try:
                value = _loads(text)
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
                    error=f"a record must be a JSON object, got {_json_type(value)}",
                    raw=preview(text),
                )
                continue
            yield Record(index, lineno, value)

    # -- JSON array ----------------------------------------------------------------

    def _json_array(self) -> Iterator[Record]:
        """Split a top-level array into elements without loading the file: a small scanner
        tracks strings and nesting and cuts at commas on the array's own level; each element
        is then decoded and parsed on its own, so one bad element spoils only itself."""
        scanner = _ArrayScanner(self._fh, self.max_record_bytes, self.display)
        index = 0
        for line, body, problem in scanner:
            index += 1
            if problem is not None:
                yield Record(index, line, error=problem, raw=preview(body) if body else None)
                continue
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as e:
                yield Record(index, line, error=_bad_utf8(body, e), raw=preview(body))
                continue
            try:
                value = _loads(text)
            except json.JSONDecodeError as e:
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
                    error=f"a record must be a JSON object, got {_json_type(value)}",
                    raw=preview(text),
                )
                continue
            yield Record(index, line, value)
        self.warnings.extend(scanner.warnings)

    # -- CSV -----------------------------------------------------------------------

    def _csv(self, delimiter: str) -> Iterator[Record]:
        import csv

        if csv.field_size_limit() < self.max_record_bytes:
            csv.field_size_limit(self.max_record_bytes)
        oversize: list[int] = []
        lines = _decoded_lines(self._fh, self.max_record_bytes, oversize)
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            header = next(reader)
            while not header:
                header = next(reader)
        except StopIteration:
            raise InputError("empty CSV file: no header row", path=self.display, line=1) from None
        except csv.Error as e:
            raise InputError(f"malformed CSV header: {e}", path=self.display, line=1) from None
        hline = reader.line_num
        self._check_header(header, hline)
        self.columns = tuple(header)
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
                    error=f"record is larger than {_size(self.max_record_bytes)}",
                )
            if not row:
                continue
            index += 1
            raw = delimiter.join(row)
            bad = next((i for i, v in enumerate(row) if _SURROGATE.search(v)), None)
            if bad is not None:
                col = header[bad] if bad < n else f"#{bad + 1}"
                byte = ord(_SURROGATE.search(row[bad]).group()) - 0xDC00  # type: ignore[union-attr]
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
                error=f"record is larger than {_size(self.max_record_bytes)}",
            )

    def _check_header(self, header: list[str], line: int) -> None:
        for i, name in enumerate(header):
            if _SURROGATE.search(name):
                raise InputError("the CSV header is not valid UTF-8", path=self.display, line=line)
            if not name.strip():
                raise InputError(
                    f"column {i + 1} of the CSV header has no name", path=self.display, line=line
                )
        dup = sorted({h for h in header if header.count(h) > 1})
        if dup:
            raise InputError(
                f"duplicate column name(s) in the CSV header: {', '.join(dup)}",
                path=self.display,
                line=line,
            )


_SURROGATE = re.compile("[\udc80-\udcff]")


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"


def _drain_line(fh: IO[bytes]) -> None:
    while True:
        more = fh.readline(_CHUNK)
        if not more or more.endswith(b"\n"):
            return


def _decoded_lines(fh: IO[bytes], limit: int, oversize: list[int]) -> Iterator[str]:
    """Lines as text; undecodable bytes become lone surrogates (found again per row).
    A line longer than ``limit`` is skipped (its number noted in ``oversize``)."""
    for lineno, raw, too_long in _raw_lines(fh, limit):
        if too_long:
            oversize.append(lineno)
            yield "\n"
            continue
        yield raw.decode("utf-8", "surrogateescape")


def _raw_lines(fh: IO[bytes], limit: int) -> Iterator[tuple[int, bytes, bool]]:
    """``(line number, bytes, too long)`` for each line, without a leading byte-order mark.
    A line longer than ``limit`` is read past (only its first ``limit`` bytes are kept)."""
    lineno = 0
    while True:
        raw = fh.readline(limit + 1)
        if not raw:
            return
        lineno += 1
        if lineno == 1 and raw.startswith(_BOM):
            raw = raw[3:]
        if len(raw) > limit and not raw.endswith(b"\n"):
            _drain_line(fh)
            yield lineno, raw, True
            continue
        yield lineno, raw, False


class _ArrayScanner:
    """Yields ``(line, element bytes, problem)`` for each element of a top-level JSON array."""

    _OUT = re.compile(rb'[\[\]{}",\n]')
    _IN = re.compile(rb'["\\\n]')

    def __init__(self, fh: IO[bytes], limit: int, display: str) -> None:
        self.fh, self.limit, self.display = fh, limit, display
        self.warnings: list[str] = []

    def __iter__(self) -> Iterator[tuple[int, bytes, str | None]]:
        fh, limit = self.fh, self.limit
        chunk = fh.read(_CHUNK)
        while 0 < len(chunk) < 3:  # enough to see a byte-order mark
            more = fh.read(_CHUNK)
            if not more:
                break
            chunk += more
        line, i = 1, 0
        if chunk.startswith(_BOM):
            i = 3
        # find the opening bracket
        while True:
            while i < len(chunk) and chunk[i] in b" \t\r\n":
                if chunk[i] == 10:
                    line += 1
                i += 1
            if i < len(chunk):
                break
            chunk, i = fh.read(_CHUNK), 0
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
                body, problem = b"", f"record is larger than {_size(limit)}"
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
                    rest = chunk[i:] + fh.read(_CHUNK)
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
            chunk, i, elem_start = fh.read(_CHUNK), 0, 0
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


_COERCE_TYPES = ("integer", "number", "boolean", "array", "object")


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
    if vtype in ("array", "object"):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(f"{_short(raw)!r} is not a JSON {vtype}") from None
        if not isinstance(value, list if vtype == "array" else dict):
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


def file_fingerprint(path: str) -> dict[str, Any]:
    """Size and a hash of the first and last MiB: enough to notice a different input on
    ``--resume`` without reading a large file twice."""
    import hashlib

    st = os.stat(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        if st.st_size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            h.update(f.read())
    return {"size": st.st_size, "sha256_ends": h.hexdigest()}
