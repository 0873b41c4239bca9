"""Output paths that are not regular files (``-o /dev/null``, ``/dev/stdout``, a FIFO)
are written into, never replaced by a renamed temporary file: replacing ``/dev/null``
with a regular file breaks every program on the machine that writes to it."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from conftest import GitRepo

from loomgit.batch.outputs import write_atomic
from loomgit.fsutil import atomic_write

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


def reading(fifo: Path) -> tuple[threading.Thread, list[bytes]]:
    got: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as f:
            got.append(f.read())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t, got


@pytest.mark.parametrize("write", [atomic_write, write_atomic])
def test_a_fifo_is_written_into_and_stays_a_fifo(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    t, got = reading(fifo)
    write(fifo, "hello\n")
    t.join(5)
    assert got == [b"hello\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary file left


def test_eval_output_to_a_fifo(sample_repo: GitRepo, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    suite = (
        'cases:\n  - {name: fire, vars: {ticket: "Printer on fire"}, assert: [{contains: fire}]}\n'
    )
    sample_repo.commit("a suite", {"prompts/support/summarize.tests.yaml": suite})
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    t, got = reading(fifo)
    r = cli(["eval", "--model", "echo", "--no-log", "-o", str(fifo)], cwd=sample_repo.path)
    t.join(10)
    assert r.exit_code == 0, r.out + r.err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert json.loads(got[0])["results"]
