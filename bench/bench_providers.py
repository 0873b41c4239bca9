#!/usr/bin/env python3
"""Benchmark of the provider layer against bench/mock_openai.py on 127.0.0.1.

    .venv/bin/python bench/bench_providers.py [--calls 300]

Measured in one run, each against its baseline:

1. per-call overhead: a bare httpx POST (baseline) vs ``ModelClient.complete`` (registry,
   retries, limits, breaker, pricing, cache write) — both sequential, server latency 0;
2. a cache hit vs a live call;
3. throughput with a 20 ms server: max_concurrency 1 (baseline) vs 8 vs 32;
4. a flaky server (20 % of requests answer 429, Retry-After: 0): every call still answers.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from mock_openai import MockOpenAI  # noqa: E402

from loomgit.config import Config  # noqa: E402
from loomgit.providers import ModelClient, ResponseCache  # noqa: E402
from loomgit.providers.resilience import ResilienceSettings  # noqa: E402

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Summarize this ticket: printer on floor 3 is on fire"},
]


def config(url: str, root: Path, **entry: object) -> Config:
    return Config(root=root, providers={"mock": {"type": "openai", "base_url": url, **entry}})


async def bare_httpx(url: str, n: int) -> list[float]:
    times = []
    async with httpx.AsyncClient() as http:
        for _ in range(n):
            t0 = time.perf_counter()
            r = await http.post(
                url + "/chat/completions", json={"model": "m", "messages": MESSAGES}
            )
            r.json()["choices"][0]["message"]["content"]
            times.append((time.perf_counter() - t0) * 1000)
    return times[5:]


async def client_calls(cfg: Config, n: int, cache: ResponseCache | bool, same: bool) -> list[float]:
    times = []
    async with ModelClient(cfg, cache=cache, env={}) as c:
        for i in range(n):
            t0 = time.perf_counter()
            await c.complete("mock/m", MESSAGES, {}, sample=0 if same else i)
            times.append((time.perf_counter() - t0) * 1000)
    return times[5:]


async def throughput(cfg: Config, n: int) -> float:
    t0 = time.perf_counter()
    async with ModelClient(cfg, cache=False, env={}) as c:
        await asyncio.gather(*(c.complete("mock/m", MESSAGES, {}, sample=i) for i in range(n)))
    return time.perf_counter() - t0


async def flaky(cfg: Config, n: int) -> tuple[int, int]:
    ok = attempts = 0
    async with ModelClient(
        cfg, cache=False, env={}, settings=ResilienceSettings(backoff_s=0.01, retries=6)
    ) as c:
        for comp in await asyncio.gather(
            *(c.complete("mock/m", MESSAGES, {}, sample=i) for i in range(n))
        ):
            ok += 1
            attempts += comp.attempts
    return ok, attempts


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=300)
    a = ap.parse_args()
    n = a.calls
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with MockOpenAI(latency_ms=0) as srv:
            bare: list[float] = []
            ours: list[float] = []
            for _ in range(3):  # interleaved, so both see the same machine load
                bare += asyncio.run(bare_httpx(srv.url, n // 3))
                ours += asyncio.run(client_calls(config(srv.url, root), n // 3, False, False))
            base, live = statistics.median(bare), statistics.median(ours)
            cache = ResponseCache(root / "cache")
            asyncio.run(client_calls(config(srv.url, root), 10, cache, True))
            hit = statistics.median(
                asyncio.run(client_calls(config(srv.url, root), n, cache, True))
            )
        print(f"1. per call, server latency 0, {n} sequential calls (median)")
        print(f"   bare httpx POST          {base:7.3f} ms   (baseline)")
        print(
            f"   ModelClient.complete     {live:7.3f} ms   x{live / base:.2f}  "
            f"(+{live - base:.3f} ms overhead)"
        )
        print(f"2. cache hit                {hit:7.3f} ms   x{hit / live:.3f} of a live call")
        with MockOpenAI(latency_ms=20) as srv:
            m = min(n, 200)
            walls = {
                k: asyncio.run(throughput(config(srv.url, root, max_concurrency=k), m))
                for k in (1, 8, 32)
            }
        print(f"3. throughput, server latency 20 ms, {m} calls")
        for k, w in walls.items():
            tag = "(baseline)" if k == 1 else f"x{walls[1] / w:.1f} faster"
            print(f"   max_concurrency {k:<3}      {w:6.2f} s  {m / w:7.1f} calls/s  {tag}")
        with MockOpenAI(latency_ms=5, fail_rate=0.2, fail_status=429, seed=7) as srv:
            t0 = time.perf_counter()
            ok, attempts = asyncio.run(flaky(config(srv.url, root, max_concurrency=16), m))
            wall = time.perf_counter() - t0
        print(
            f"4. flaky server (20 % 429s): {ok}/{m} answered, {attempts} attempts "
            f"({attempts / m:.2f} per call), {wall:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
