#!/usr/bin/env python3
"""Benchmark ``loomgit run``: records/s and peak memory over growing JSONL inputs.

    python bench/bench_batch.py                      # 10k, 100k and 1,000,000 records
    python bench/bench_batch.py --sizes 2000,20000 --repeat 3

Everything is local: a temporary git repository with one prompt, JSONL inputs written
here, and bench/mock_openai.py started as its own process on 127.0.0.1. Each size runs
``loomgit run`` in a fresh process (so its peak RSS is its own, read with wait4) and
prints the median over ``--repeat`` runs. Two baselines are measured in the same run:

- ``raw HTTP``: the same number of requests sent by a bare httpx client with the same
  concurrency: the mock server's ceiling on this machine;
- ``read only``: loomgit's JSONL reader alone over the largest input.

Constant memory shows as a flat peak RSS while the input grows 100x.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

PROMPT = """---
description: Summarize a short review in a few words
model: mock/bench
params: {temperature: 0, max_tokens: 16}
variables:
  review: {type: string}
---
system:
Summarize the review in five words.

user:
{{ review }}
"""


def write_input(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(
                json.dumps(
                    {
                        "id": i,
                        "review": f"Review {i}: the kettle boils fast and looks fine, four stars.",
                    }
                )
                + "\n"
            )


def make_repo(base: Path, url: str, concurrency: int) -> Path:
    repo = base / "repo"
    (repo / "prompts").mkdir(parents=True)
    (repo / "prompts" / "summary.prompt").write_text(PROMPT, encoding="utf-8")
    (repo / "loomgit.yaml").write_text(
        f'providers:\n  mock: {{type: openai, base_url: "{url}", retries: 2, '
        f"max_concurrency: {concurrency}, timeout_s: 30}}\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "b@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "b@example.com",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    return repo


def start_mock(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "mock_openai.py"),
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    url = line.strip().rsplit(" ", 1)[-1]
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit(f"mock server did not start: {line!r}")
    return proc, url


def run_loomgit(
    repo: Path, inp: Path, out: Path, concurrency: int, model: str | None = None
) -> tuple[float, float, dict]:
    """(seconds, peak RSS in MiB, summary) of one ``loomgit run`` in its own process."""
    for p in (out, out.with_name(out.stem + ".quarantine.jsonl")):
        if p.exists():
            p.unlink()
    cmd = [
        sys.executable,
        "-m",
        "loomgit",
        "run",
        "summary",
        "-i",
        str(inp),
        "-o",
        str(out),
        "-j",
        str(concurrency),
        "--json",
        "--no-record",
        "--overwrite",
    ]
    if model:
        cmd += ["--model", model]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    stdout = proc.stdout.read()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"loomgit run failed ({proc.returncode}): {stderr.decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, json.loads(stdout)


async def raw_http(url: str, n: int, concurrency: int) -> float:
    """Seconds for ``n`` chat requests from a bare httpx client, ``concurrency`` at once."""
    import httpx

    body = {
        "model": "bench",
        "temperature": 0,
        "max_tokens": 16,
        "messages": [
            {"role": "system", "content": "Summarize the review in five words."},
            {"role": "user", "content": "Review 1: the kettle boils fast and looks fine."},
        ],
    }
    counter = iter(range(n))
    async with httpx.AsyncClient(
        base_url=url, timeout=30, limits=httpx.Limits(max_connections=concurrency)
    ) as client:

        async def worker() -> None:
            for _ in counter:
                r = await client.post("/chat/completions", json=body)
                r.raise_for_status()
                r.json()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0


def read_only(path: Path) -> float:
    from loomgit.inputs.reader import RecordReader

    t0 = time.perf_counter()
    with RecordReader(str(path)) as r:
        for _ in r:
            pass
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="comma-separated record counts (default 10k,100k,1M)",
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs per size (median reported)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency-ms", type=float, default=0.0, help="mock server latency")
    ap.add_argument("--baseline-requests", type=int, default=20000)
    ap.add_argument(
        "--echo-records",
        type=int,
        default=20000,
        help="also run this many records on the echo model (0: skip)",
    )
    args = ap.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    mock, url = start_mock(args.latency_ms)
    try:
        with tempfile.TemporaryDirectory(prefix="loomgit-bench-batch-") as tmp:
            base = Path(tmp)
            repo = make_repo(base, url, args.concurrency)
            print(
                f"mock server {url}, latency {args.latency_ms:g} ms, concurrency "
                f"{args.concurrency}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
            )
            n_raw = min(args.baseline_requests, max(sizes))
            raw_s = statistics.median(
                asyncio.run(raw_http(url, n_raw, args.concurrency)) for _ in range(args.repeat)
            )
            raw_rate = n_raw / raw_s
            print(
                f"baseline raw HTTP: {n_raw:,} requests in {raw_s:.2f} s = "
                f"{raw_rate:,.0f} requests/s"
            )
            if args.echo_records:
                inp = base / "in-echo.jsonl"
                write_input(inp, args.echo_records)
                runs = [
                    run_loomgit(repo, inp, base / "out-echo.jsonl", args.concurrency, "echo/echo")
                    for _ in range(args.repeat)
                ]
                secs = statistics.median(r[0] for r in runs)
                print(
                    f"loomgit run, echo model (no HTTP) {args.echo_records:,} records: "
                    f"{secs:.1f} s = {args.echo_records / secs:,.0f} records/s "
                    f"(loomgit's own ceiling)",
                    flush=True,
                )
                inp.unlink()
            rows = []
            for n in sizes:
                inp = base / f"in-{n}.jsonl"
                write_input(inp, n)
                runs = [
                    run_loomgit(repo, inp, base / f"out-{n}.jsonl", args.concurrency)
                    for _ in range(args.repeat)
                ]
                secs = statistics.median(r[0] for r in runs)
                rss = statistics.median(r[1] for r in runs)
                summary = runs[-1][2]
                c = summary["counts"]
                assert c["ok"] == n and c["quarantined"] == c["errors"] == 0, summary
                rows.append((n, secs, n / secs, rss))
                print(
                    f"loomgit run {n:>11,} records: {secs:8.1f} s  {n / secs:8,.0f} records/s"
                    f"  ({n / secs / raw_rate:.2f}x raw HTTP)  peak RSS {rss:6.1f} MiB",
                    flush=True,
                )
                if n != max(sizes):
                    inp.unlink()
            biggest = base / f"in-{max(sizes)}.jsonl"
            ro = read_only(biggest)
            print(
                f"baseline read only: {max(sizes):,} records parsed in {ro:.1f} s = "
                f"{max(sizes) / ro:,.0f} records/s"
            )
            if len(rows) > 1:
                lo, hi = rows[0], rows[-1]
                print(
                    f"memory: {hi[0] // lo[0]}x the records -> peak RSS x{hi[3] / lo[3]:.2f} "
                    f"({lo[3]:.1f} -> {hi[3]:.1f} MiB)"
                )
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
