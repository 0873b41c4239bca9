"""Where batch results go: append-only JSON Lines files and a checkpoint beside them.

Each result is one ``write()`` of one whole line to a file opened with ``O_APPEND``, so a
crash can leave at most one torn line at the very end (no newline yet); the files are
fsync'd at every checkpoint. The files are the record of what is finished: ``recover()``
rereads them on ``--resume`` (cutting a torn tail, and dropping infrastructure errors so
those records are tried again) and returns which record numbers are done.

The checkpoint (``OUTPUT.checkpoint.json``, written to a temporary file, fsync'd and
renamed) identifies the run (input, prompt version, model, options), so ``--resume``
refuses to continue a different run into the same files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loomgit.errors import UsageError
from loomgit.fsutil import write_special

CHECKPOINT_SUFFIX = ".checkpoint.json"


class OutputError(UsageError):
    """An output file cannot be used (exists without --resume, not ours, unwritable)."""


def dumps(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")


class ResultLog:
    """An append-only JSON Lines file. ``append`` writes one whole line per call."""

    def __init__(self, path: str | os.PathLike[str], *, fresh: bool) -> None:
        self.path = Path(path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if fresh else 0)
        try:
            self.fd: int | None = os.open(self.path, flags, 0o644)
        except OSError as e:
            raise OutputError(f"cannot write ({e.strerror})", path=str(path)) from None
        self.count = 0

    def append(self, record: dict[str, Any]) -> None:
        assert self.fd is not None, "log is closed"
        data = memoryview(dumps(record))
        while data:
            n = os.write(self.fd, data)
            data = data[n:]
        self.count += 1

    def sync(self) -> None:
        if self.fd is not None:
            os.fsync(self.fd)

    def size(self) -> int:
        return os.fstat(self.fd).st_size if self.fd is not None else 0

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.fsync(self.fd)
            finally:
                os.close(self.fd)
                self.fd = None

    def __enter__(self) -> ResultLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DoneSet:
    """Which record numbers are finished: one bit per record (1M records = 125 KB)."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self.count = 0

    def add(self, index: int) -> None:
        byte, bit = divmod(index, 8)
        if byte >= len(self._bits):
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits))))
        if not self._bits[byte] >> bit & 1:
            self._bits[byte] |= 1 << bit
            self.count += 1

    def __contains__(self, index: object) -> bool:
        if not isinstance(index, int):
            return False
        byte, bit = divmod(index, 8)
        return byte < len(self._bits) and bool(self._bits[byte] >> bit & 1)

    def __len__(self) -> int:
        return self.count


class RunLock:
    """An exclusive advisory lock on the output file for the length of a run, so two runs
    (say, a second ``--resume`` by mistake) cannot write the same files. The operating
    system drops it when the process ends, even on ``kill -9``."""

    def __init__(self, path: Path) -> None:
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.fd: int | None = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError as e:
            raise OutputError(f"cannot write ({e.strerror})", path=str(path)) from None
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.close()
            raise OutputError(
                "another loomgit run is writing this file; wait for it or stop it first",
                path=str(path),
            ) from None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old or the new file, never half
    (a device or pipe such as ``/dev/null`` is written in place, never replaced)."""
    if write_special(path, text):
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def checkpoint_path(output: str | os.PathLike[str]) -> Path:
    p = Path(output)
    return p.with_name(p.name + CHECKPOINT_SUFFIX)


def save_checkpoint(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise OutputError(
            f"unreadable checkpoint ({e}); remove it to start again", path=str(path)
        ) from None
    if not isinstance(data, dict):
        raise OutputError("not a loomgit checkpoint", path=str(path))
    return data


@dataclass
class Recovered:
    """What the files of an interrupted run already hold."""

    done: DoneSet = field(default_factory=DoneSet)
    ok: int = 0
    quarantined: int = 0
    retried_errors: int = 0
    torn: int = 0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    score_sum: float = 0.0
    scored: int = 0
    latency_sum: float = 0.0
    answered: int = 0
    judged: int = 0


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as f:
        yield from enumerate(f, 1)


def _complete_size(path: Path) -> int:
    """Length of ``path`` up to and including its last newline (a torn tail is cut off)."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb") as f:
        pos = size
        while pos > 0:
            step = min(pos, 1 << 16)
            f.seek(pos - step)
            block = f.read(step)
            nl = block.rfind(b"\n")
            if nl >= 0:
                return pos - step + nl + 1
            pos -= step
    return 0


def _cut_torn_tail(path: Path) -> int:
    """Truncate a line a crash left half-written; returns how many lines were cut (0/1)."""
    good = _complete_size(path)
    if good == path.stat().st_size:
        return 0
    with open(path, "r+b") as f:
        f.truncate(good)
        f.flush()
        os.fsync(f.fileno())
    return 1


def _record_of(path: Path, n: int, raw: bytes) -> dict[str, Any]:
    try:
        rec = json.loads(raw)
    except ValueError:
        rec = None
    if not isinstance(rec, dict) or not isinstance(rec.get("index"), int):
        raise OutputError(
            "not a loomgit result record; cannot resume into this file", path=str(path), line=n
        )
    return rec


def _add_usage(rv: Recovered, rec: dict[str, Any]) -> None:
    score = rec.get("score")
    if isinstance(score, (int, float)):
        rv.score_sum += float(score)
        rv.scored += 1
    lin = rec.get("lineage")
    if not isinstance(lin, dict):
        return
    latency = lin.get("latency_ms")
    if isinstance(latency, (int, float)):
        rv.latency_sum += float(latency)
        rv.answered += 1
        if rec.get("kind") != "error":
            rv.judged += 1
    cost = lin.get("cost_usd")
    if isinstance(cost, (int, float)):
        rv.cost_usd += float(cost)
    tokens = lin.get("tokens")
    if isinstance(tokens, dict):
        rv.input_tokens += int(tokens.get("input") or 0)
        rv.output_tokens += int(tokens.get("output") or 0)


def recover(output: Path, quarantine: Path | None) -> Recovered:
    """Read what an interrupted run finished. Quarantined records stay finished; records
    that failed on an infrastructure error (``kind: error``) are removed from the
    quarantine file so that the resumed run tries them again."""
    rv = Recovered()
    if output.exists():
        rv.torn += _cut_torn_tail(output)
        for n, raw in _lines(output):
            if not raw.strip():
                continue
            rec = _record_of(output, n, raw)
            rv.done.add(rec["index"])
            rv.ok += 1
            _add_usage(rv, rec)
    if quarantine is not None and quarantine.exists():
        rv.torn += _cut_torn_tail(quarantine)
        tmp = quarantine.with_name(f".{quarantine.name}.{os.getpid()}.tmp")
        dropped = 0
        try:
            with open(tmp, "wb") as out:
                for n, raw in _lines(quarantine):
                    if not raw.strip():
                        continue
                    rec = _record_of(quarantine, n, raw)
                    if rec.get("kind") == "error":
                        dropped += 1
                        continue
                    out.write(raw)
                    rv.done.add(rec["index"])
                    rv.quarantined += 1
                    _add_usage(rv, rec)
                out.flush()
                os.fsync(out.fileno())
            if dropped:
                os.replace(tmp, quarantine)
                _fsync_dir(quarantine.parent)
        finally:
            if tmp.exists():
                tmp.unlink()
        rv.retried_errors = dropped
    return rv


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def prepare(
    output: Path, quarantine: Path | None, inputs: list[Path], *, resume: bool, overwrite: bool
) -> None:
    """Refuse output paths that would destroy data: the input itself, output equal to
    quarantine, or an existing file without ``--resume``/``--overwrite``."""
    if quarantine is not None and same_file(output, quarantine):
        raise OutputError("--output and --quarantine must be different files")
    for src in inputs:
        for dst in (output, quarantine):
            if dst is not None and src.exists() and same_file(src, dst):
                raise OutputError(f"{dst} is the input file; choose another output")
    if resume and overwrite:
        raise UsageError("--resume and --overwrite cannot be used together")
    if resume or overwrite:
        return
    for dst in (output, quarantine):
        if dst is not None and dst.exists() and dst.stat().st_size > 0:
            raise OutputError(
                f"{dst} already exists; pass --resume to continue the run that "
                "wrote it, or --overwrite to start again"
            )


__all__ = [
    "CHECKPOINT_SUFFIX",
    "DoneSet",
    "OutputError",
    "Recovered",
    "ResultLog",
    "RunLock",
    "checkpoint_path",
    "dumps",
    "load_checkpoint",
    "prepare",
    "recover",
    "save_checkpoint",
    "write_atomic",
]
