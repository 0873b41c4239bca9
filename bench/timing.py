"""Timing helpers shared by the benchmarks: wall seconds of each run, with the CPU seconds
of the processes it started, and their medians."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable

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
