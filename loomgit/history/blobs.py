"""A fold's blobs: their text (:func:`decode_blob`), and reading them ahead of the fold
(a thread reads the next batch's blobs through a ``git cat-file`` process of its own
while the batch before it is folded)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator

from loomgit._git.log import Commit

Read = Callable[[list[str]], dict[str, bytes | None]]


def decode_blob(data: bytes | None) -> str | None:
    if data is None or b"\0" in data[:8192] or len(data) > 1_000_000:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text[1:] if text.startswith("\ufeff") else text


def chunks(items: Iterable[Commit], size: int) -> Iterator[list[Commit]]:
    batch: list[Commit] = []
    for c in items:
        batch.append(c)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Ahead:
    """Blobs read by a thread of their own (git's pipe is read without the GIL)."""

    def __init__(self, read: Read, keys: list[str]) -> None:
        self._got: dict[str, bytes | None] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(read, keys), daemon=True)
        self._thread.start()

    def _run(self, read: Read, keys: list[str]) -> None:
        try:
            self._got = read(keys) if keys else {}
        except BaseException as e:  # handed to the folding thread by join()
            self._error = e

    def join(self) -> dict[str, bytes | None]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._got
