"""Shared by the history benchmarks: wall seconds of each run with the CPU seconds of the
processes it started, their medians, and the raw git pass they are measured against."""

from __future__ import annotations

import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

CPU: dict[int, list[float]] = {}


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall seconds of each run; the CPU seconds of the processes it ran are kept in CPU."""
    out, cpu = [], []
    for _ in range(repeat):
        c = children_cpu()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
        cpu.append(children_cpu() - c)
    CPU[id(out)] = cpu
    return out


def med(samples: list[float]) -> tuple[float, float]:
    """(median wall, median CPU) of a timed() result."""
    return statistics.median(samples), statistics.median(CPU.get(id(samples), [0.0]))


# The raw git pass the history benchmarks compare against: the log loomgit reads (renames
# on, first parent, every merge's diff) over the prompt globs, then every blob it names.
LOG_ARGS = ["git", "log", "-z", "--raw", "--no-abbrev", "-M", "--first-parent", "-m"]
LOG_ARGS += ["--format=%x01%H%x00%P%x00%aI%x00%an%x00%ae%x00%B%x00", "--"]


def git_log(repo: Path, globs: list[str], env: dict[str, str]) -> bytes:
    """The raw log over ``globs``."""
    args = LOG_ARGS + [f":(glob){g}" for g in globs]
    return subprocess.run(args, cwd=repo, check=True, capture_output=True, env=env).stdout


def blob_ids(log: bytes) -> list[bytes]:
    """The blobs a :func:`git_log` names, each once."""
    ids = []
    for tok in log.split(b"\0"):
        t = tok.lstrip(b"\n")
        if t.startswith(b":"):
            parts = t.split()
            if len(parts) >= 5 and parts[3] != b"0" * 40:
                ids.append(parts[3])
    return list(dict.fromkeys(ids))


def cat_blobs(repo: Path, ids: list[bytes], env: dict[str, str]) -> None:
    """Read every blob through one ``git cat-file --batch``."""
    subprocess.run(
        ["git", "cat-file", "--batch"],
        input=b"\n".join(ids) + b"\n",
        cwd=repo,
        check=True,
        stdout=subprocess.DEVNULL,
        env=env,
    )
