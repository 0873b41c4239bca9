"""Case results on disk: each finished case goes to a temporary file, so a run's memory
does not grow with its cases.

A :class:`Spool` is one anonymous temporary file (deleted when closed, and by the system
when the process ends) that finished :class:`~loomgit.evals.cases.CaseResult` objects are
appended to, pickled: loomgit writes and reads it itself within one process, nothing of
the repository reads it. :class:`SpooledCases` is a suite's cases in plan order: a slot
is taken when a case is planned and filled when its last sample is scored, so the order
of the report is the plan's whatever order the samples finished in. Memory per case is
24 bytes (its slot, where its record starts and how long it is). Reading walks the file
again, one case at a time.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import weakref
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, overload

if TYPE_CHECKING:
    from loomgit.evals.cases import CaseResult

__all__ = ["Spool", "SpooledCases"]

_pread = getattr(os, "pread", None)


class Spool:
    """Pickled case results, appended as they finish and read back by number."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._end = 0
        self._dirty = False
        self._pos: array[int] = array("q")  # where each record starts
        self._len: array[int] = array("l")  # and how long it is

    def put(self, r: CaseResult) -> int:
        """Append ``r``; returns its number."""
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="loomgit-results-")
            # closed when the spool goes, even from a reference cycle (the registry holds
            # the file until then, so the file is never collected open)
            self._closer = weakref.finalize(self, self._file.close)
        data = pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL)
        self._file.write(data)
        self._dirty = True
        self._pos.append(self._end)
        self._len.append(len(data))
        self._end += len(data)
        return len(self._pos) - 1

    def get(self, n: int) -> CaseResult:
        f = self._file
        assert f is not None
        if self._dirty:
            f.flush()
            self._dirty = False
        if _pread is not None:
            data = _pread(f.fileno(), self._len[n], self._pos[n])
        else:  # pragma: no cover - systems without pread (Windows)
            f.seek(self._pos[n])
            data = f.read(self._len[n])
            f.seek(self._end)
        r: CaseResult = pickle.loads(data)
        return r

    def close(self) -> None:
        if self._file is not None:
            self._closer()
            self._file = None

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._end


class SpooledCases(Sequence["CaseResult"]):
    """A suite's case results in plan order, held in a :class:`Spool`.

    :meth:`reserve` takes the next slot (at planning), :meth:`fill` writes the finished
    result into it; :meth:`append` does both. Iterating reads the results back one at a
    time (each a fresh object: changing one changes nothing stored). ``view`` (see
    :meth:`mapped`) is applied to every result read, e.g. to redact it."""

    def __init__(
        self,
        spool: Spool,
        view: Callable[[CaseResult], CaseResult] | None = None,
        _slots: array[int] | None = None,
    ) -> None:
        self.spool = spool
        self.view = view
        self._slots: array[int] = _slots if _slots is not None else array("q")

    def reserve(self) -> int:
        self._slots.append(-1)
        return len(self._slots) - 1

    def fill(self, slot: int, r: CaseResult) -> None:
        self._slots[slot] = self.spool.put(r)

    def append(self, r: CaseResult) -> None:
        self.fill(self.reserve(), r)

    def __iadd__(self, results: Sequence[CaseResult]) -> SpooledCases:
        for r in results:
            self.append(r)
        return self

    def mapped(self, fn: Callable[[CaseResult], CaseResult]) -> SpooledCases:
        """The same cases, each passed through ``fn`` when read."""
        view = self.view
        return SpooledCases(
            self.spool, fn if view is None else (lambda r: fn(view(r))), self._slots
        )

    def __len__(self) -> int:
        return len(self._slots)

    def _read(self, pos: int) -> CaseResult:
        if pos < 0:
            raise RuntimeError("a planned case has no result (the run did not finish)")
        r = self.spool.get(pos)
        return self.view(r) if self.view is not None else r

    def __iter__(self) -> Iterator[CaseResult]:
        for pos in self._slots:
            yield self._read(pos)

    @overload
    def __getitem__(self, i: int) -> CaseResult: ...
    @overload
    def __getitem__(self, i: slice) -> list[CaseResult]: ...
    def __getitem__(self, i: int | slice) -> CaseResult | list[CaseResult]:
        if isinstance(i, slice):
            return [self._read(p) for p in self._slots[i]]
        return self._read(self._slots[i])
