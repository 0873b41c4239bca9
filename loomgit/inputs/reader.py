"""``RecordReader``: opens an input (a file or ``-`` for standard input), detects its
format and yields its records one at a time."""

from __future__ import annotations

import hashlib
import io
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

from loomgit.inputs.csv import read_csv
from loomgit.inputs.json_array import read_json_array
from loomgit.inputs.jsonl import read_jsonl
from loomgit.inputs.record import MAX_RECORD_BYTES, InputError, Record, detect_format


class RecordReader:
    """``for record in RecordReader(path): ...``; a context manager that closes the file
    (``fh``: a file already opened, read instead of ``path``).

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
        fh: IO[bytes] | None = None,
    ) -> None:
        self.path = path
        self.display = display or path
        self.max_record_bytes = max_record_bytes
        self.columns: tuple[str, ...] | None = None
        self.warnings: list[str] = []
        self._fh: IO[bytes] = fh if fh is not None else self._open()
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
            return read_jsonl(self._fh, self.max_record_bytes)
        if self.format == "json":
            return read_json_array(self._fh, self.max_record_bytes, self.display, self.warnings)
        delimiter = "\t" if self.format == "tsv" else ","
        return read_csv(self._fh, delimiter, self.max_record_bytes, self.display, self._set_columns)

    def _set_columns(self, columns: tuple[str, ...]) -> None:
        self.columns = columns


def file_fingerprint(path: str) -> dict[str, Any]:
    """Size and a hash of the first and last MiB: enough to notice a different input on
    ``--resume`` without reading a large file twice."""
    st = os.stat(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        if st.st_size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            h.update(f.read())
    return {"size": st.st_size, "sha256_ends": h.hexdigest()}
