"""The README's first command, run as a test: `.ci/demo` must keep working.

It drives every area on a real sample repository (history, providers against a local
server, evals, stages, hooks, ci against a fake GitHub API, experiments, a batch run), so
a change that breaks what a new user tries first fails here rather than in their hands.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_runs_from_start_to_end(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        TMPDIR=str(tmp_path),
        LOOMGIT_DEMO_BIN=str(Path(sys.executable).with_name("loomgit")),
    )
    proc = subprocess.run(
        ["bash", str(ROOT / ".ci" / "demo")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "done: the sample repository is left at" in proc.stdout
    assert "internal error" not in out and "Traceback" not in out
    # the reports the demo announces are there to open once it is done
    announced = [
        Path(line.split(": ", 1)[1].split(" (", 1)[0])
        for line in proc.stdout.splitlines()
        if line.startswith(("overview: ", "review page: "))
    ]
    assert len(announced) == 2, proc.stdout[-3000:]
    for page in announced:
        assert page.is_file() and page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
