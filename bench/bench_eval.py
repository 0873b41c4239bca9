#!/usr/bin/env python3
"""Benchmark: `loomgit eval` against the physical floor and `promptfoo eval`, same server.

    .venv/bin/python bench/bench_eval.py                 # 1,000 cases, concurrency 32, 3 runs
    .venv/bin/python bench/bench_eval.py --cases 200 --runs 1 --no-promptfoo

One prompt, N cases with an `icontains` assertion each, sent to a local OpenAI-compatible
mock server (bench/mock_openai.py, a separate process) at equal concurrency, at 50 ms and
at 0 ms of server latency (0 ms measures pure tool overhead): loomgit as on a first run (its
.git/loomgit caches deleted before each run), also with httpx's own transport
(LOOMGIT_HTTP_TRANSPORT=httpx) to show what the aiohttp transport buys, promptfoo with
--no-cache, and a bare aiohttp client (a Python process that imports aiohttp and sends the
same requests, doing nothing else: the least any Python tool can take on this server); then
a re-run of loomgit with a warm cache. Each tool is a fresh process per
run; peak memory is that process's maximum resident set (wait4). Every figure is printed
with its baseline and the ratio: at 50 ms the physical floor (cases × latency /
concurrency), at 0 ms promptfoo.

promptfoo is not installed by this script: it is found in the folder named by
$LOOMGIT_BENCH_PROMPTFOO_DIR or --promptfoo-dir (where `npm install promptfoo@0.123.1`
ran; a newer Node.js installed there with `npm install node@22` is used when the one on
PATH is too old), else as `promptfoo` on PATH; without it its rows are skipped, saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROMPTFOO_VERSION = "0.123.1"
SYSTEM = "You are an on-call assistant. Answer in a formal tone."
MODEL = "bench-model"


@dataclass
class Run:
    wall_s: float
    rss_mb: float
    code: int
    cpu_s: float = 0.0  # user + system: what the tool itself cost, whatever the load


def ticket(i: int) -> str:
    return f"Ticket {i}: the printer on floor {i % 9} shows error E{i % 97} and smells of smoke"


def loomgit_bin() -> str:
    exe = Path(sys.executable).with_name("loomgit")
    return str(exe) if exe.exists() else shutil.which("loomgit") or "loomgit"


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> Run:
    """Wall time and peak RSS of one process (its own, via wait4)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 100):  # promptfoo exits 100 when an assertion fails
        sys.stderr.write(err.decode("utf-8", "replace")[-2000:])
    proc.stderr.close()
    return Run(wall, usage.ru_maxrss / 1024, proc.returncode, usage.ru_utime + usage.ru_stime)


def serve(latency_ms: float) -> int:
    """bench/mock_openai.py's server with TCP_NODELAY on its connections, as production
    HTTP servers set it: http.server writes headers and body apart, and without NODELAY
    Nagle's algorithm and delayed ACKs stall most responses by up to 40 ms, which would
    measure TCP timers rather than either tool."""
    import signal
    import threading

    sys.path.insert(0, str(HERE))
    from mock_openai import MockOpenAI

    mock = MockOpenAI(0, latency_ms)
    mock.server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
    mock.server.request_queue_size = 128
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=mock.server.shutdown).start())
    print(f"mock OpenAI server on {mock.url}", flush=True)
    try:
        mock.server.serve_forever()
    finally:
        mock.server.server_close()
    return 0


class MockServer:
    """bench/mock_openai.py in its own process (see :func:`serve`)."""

    def __init__(self, latency_ms: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(latency_ms)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.url = line.strip().rsplit(" ", 1)[-1]
        if not self.url.startswith("http"):
            self.close()
            raise SystemExit(f"mock server did not start: {line!r}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stdout:
            self.proc.stdout.close()


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_loomgit_repo(path: Path, n: int, url: str) -> None:
    (path / "prompts").mkdir(parents=True)
    (path / "loomgit.yaml").write_text(
        f'providers:\n  mock: {{type: openai, base_url: "{url}", retries: 3}}\n'
    )
    (path / "prompts/bench.prompt").write_text(
        f"---\nmodel: mock/{MODEL}\nparams: {{temperature: 0.2, max_tokens: 300}}\n"
        "variables:\n  ticket: {type: string}\n---\n"
        f"system:\n{SYSTEM}\n\nuser:\nSummarize this ticket: {{{{ ticket }}}}\n"
    )
    cases = [
        {"name": f"case-{i}", "vars": {"ticket": ticket(i)}, "assert": [{"icontains": "printer"}]}
        for i in range(n)
    ]
    (path / "prompts/bench.tests.yaml").write_text(json.dumps({"gate": "all_pass", "cases": cases}))
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(
        path,
        "-c",
        "user.name=bench",
        "-c",
        "user.email=bench@example.com",
        "commit",
        "-qm",
        "bench",
    )


def set_url(path: Path, url: str) -> None:
    (path / "loomgit.yaml").write_text(
        f'providers:\n  mock: {{type: openai, base_url: "{url}", retries: 3}}\n'
    )


def make_promptfoo_config(path: Path, n: int, url: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "prompt.json").write_text(
        json.dumps(
            [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": "Summarize this ticket: {{ ticket }}"},
            ]
        )
    )
    config = {
        "description": "loomgit bench",
        "prompts": ["file://prompt.json"],
        "providers": [
            {
                "id": f"openai:chat:{MODEL}",
                "config": {
                    "apiBaseUrl": url,
                    "apiKey": "bench",
                    "temperature": 0.2,
                    "max_tokens": 300,
                },
            }
        ],
        "tests": [
            {"vars": {"ticket": ticket(i)}, "assert": [{"type": "icontains", "value": "printer"}]}
            for i in range(n)
        ],
    }
    cfg = path / "promptfooconfig.json"
    cfg.write_text(json.dumps(config))
    return cfg


def _entry(folder: Path) -> Path | None:
    """promptfoo's CLI script, from its package.json ``bin``."""
    pkg = folder / "node_modules" / "promptfoo" / "package.json"
    try:
        b = json.loads(pkg.read_text()).get("bin")
    except (OSError, ValueError):
        return None
    rel = b.get("promptfoo") if isinstance(b, dict) else b
    exe = pkg.parent / rel if isinstance(rel, str) else None
    return exe if exe is not None and exe.exists() else None


def _node_major(node: str) -> int:
    out = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    m = re.match(r"v(\d+)\.(\d+)", out.strip())
    return int(m.group(1)) * 1000 + int(m.group(2)) if m else 0


def _required_node(folder: Path) -> tuple[int, int] | None:
    """(major, minor) from promptfoo's ``engines.node`` (``>=22.22.0``)."""
    try:
        pkg = json.loads((folder / "node_modules/promptfoo/package.json").read_text())
    except (OSError, ValueError):
        return None
    m = re.search(r">=\s*(\d+)(?:\.(\d+))?", str((pkg.get("engines") or {}).get("node", "")))
    return (int(m.group(1)), int(m.group(2) or 0)) if m else None


def find_promptfoo(folder: Path | None) -> tuple[list[str] | None, str]:
    """(the command that runs promptfoo, or None; what was found or why it was not)."""
    if folder is not None:
        exe = _entry(folder)
        if exe is None:
            return (
                None,
                f"no promptfoo under {folder}/node_modules (run npm install promptfoo there)",
            )
        need = _required_node(folder)
        local = folder / "node_modules" / ".bin" / "node"
        for cand in (shutil.which("node"), str(local)):
            if cand and Path(cand).exists():
                if need is None or _node_major(cand) >= need[0] * 1000 + need[1]:
                    return [cand, str(exe)], f"promptfoo in {folder}, {cand}"
        want = f"{need[0]}.{need[1]}" if need else "?"
        return (
            None,
            f"promptfoo needs Node.js >= {want} (npm install node@{want.split('.')[0]} in {folder})",
        )
    on_path = shutil.which("promptfoo")
    if on_path:
        return [on_path], f"promptfoo on PATH ({on_path})"
    return None, (
        "promptfoo not found: set LOOMGIT_BENCH_PROMPTFOO_DIR (or --promptfoo-dir) to a folder "
        f"where 'npm install promptfoo@{PROMPTFOO_VERSION}' ran, or put promptfoo on PATH"
    )


def check_promptfoo(out: Path, n: int) -> None:
    """Say so when promptfoo did not score every case (the timing would mean little)."""
    try:
        stats = json.loads(out.read_text())["results"]["stats"]
    except (OSError, ValueError, KeyError, TypeError):
        print("  (promptfoo's output could not be read to check its results)")
        return
    ok = stats.get("successes", 0)
    if ok != n:
        print(f"  warning: promptfoo scored {ok} of {n} cases as passed: {stats}")


def check_loomgit(out: Path, n: int) -> None:
    s = json.loads(out.read_text())["summary"]
    if s["passed"] != n:
        print(f"  warning: loomgit passed {s['passed']} of {n} cases: {s}")


BARE_CLIENT = """
import asyncio, json, sys
import aiohttp
url, n, c = sys.argv[1] + "/chat/completions", int(sys.argv[2]), int(sys.argv[3])
async def main():
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        todo = iter(range(n))
        async def worker():
            for i in todo:
                body = {"model": sys.argv[4], "messages": [{"role": "user", "content": f"case {i}"}]}
                async with s.post(url, json=body) as r:
                    json.loads(await r.read())
        await asyncio.gather(*(worker() for _ in range(c)))
asyncio.run(main())
"""


def bare_client(url: str, n: int, concurrency: int, env: dict[str, str]) -> Run:
    """The least any Python tool can take on this server: a process that imports aiohttp
    and sends the same number of requests at the same concurrency, doing nothing else."""
    cmd = [sys.executable, "-c", BARE_CLIENT, url, str(n), str(concurrency), MODEL]
    return timed(cmd, ROOT, env)


def loomgit_cold(cmd: list[str], repo: Path, env: dict[str, str]) -> Run:
    """A first run: no response cache, no parsed-suite cache, no version cache."""
    shutil.rmtree(repo / ".git" / "loomgit", ignore_errors=True)
    return timed(cmd, repo, env)


def median(runs: list[Run]) -> float:
    return statistics.median(r.wall_s for r in runs)


def ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}×" if base else "–"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--latencies", default="50,0", help="server latencies in ms, comma-separated")
    ap.add_argument("--no-promptfoo", action="store_true")
    ap.add_argument("--no-httpx", action="store_true", help="skip the httpx-transport rows")
    ap.add_argument(
        "--promptfoo-dir",
        type=Path,
        default=Path(os.environ["LOOMGIT_BENCH_PROMPTFOO_DIR"])
        if os.environ.get("LOOMGIT_BENCH_PROMPTFOO_DIR")
        else None,
        help="folder where promptfoo was installed with npm",
    )
    ap.add_argument("--serve", type=float, metavar="LATENCY_MS", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.serve is not None:
        return serve(a.serve)

    tmp = Path(tempfile.mkdtemp(prefix="loomgit-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.pop("LOOMGIT_HTTP_TRANSPORT", None)
    env.update(
        NO_COLOR="1",
        PROMPTFOO_DISABLE_TELEMETRY="1",
        PROMPTFOO_DISABLE_UPDATE="1",
        PROMPTFOO_CONFIG_DIR=str(tmp / "promptfoo-home"),
        PROMPTFOO_CACHE_PATH=str(tmp / "promptfoo-cache"),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    httpx_env = {**env, "LOOMGIT_HTTP_TRANSPORT": "httpx"}
    pf: list[str] | None = None
    if a.no_promptfoo:
        print("promptfoo: skipped (--no-promptfoo)")
    else:
        pf, found = find_promptfoo(a.promptfoo_dir)
        print(f"promptfoo: {found}" if pf else f"promptfoo: skipped: {found}")
    repo = tmp / "repo"
    # (what, seconds, baseline name, baseline seconds, peak MB)
    rows: list[tuple[str, float, str, float | None, float]] = []
    lg = [
        loomgit_bin(),
        "eval",
        "-j",
        str(a.concurrency),
        "--no-log",
        "-o",  # the JSON report to a file, as promptfoo's -o below
        str(tmp / "loomgit.json"),
    ]

    def show(name: str, runs: list[Run]) -> None:
        print(
            f"  {name:28} {median(runs):7.2f} s  cpu {statistics.median(r.cpu_s for r in runs):6.2f} s"
            f"  peak {max(r.rss_mb for r in runs):5.0f} MB  exit {runs[-1].code}",
            flush=True,
        )

    try:
        for lat in [float(x) for x in a.latencies.split(",") if x.strip()]:
            server = MockServer(lat)
            try:
                if not repo.exists():
                    make_loomgit_repo(repo, a.cases, server.url)
                else:
                    set_url(repo, server.url)
                print(
                    f"\n{a.cases} cases, server latency {lat:g} ms, concurrency {a.concurrency}",
                    flush=True,
                )
                lruns = [loomgit_cold(lg, repo, env) for _ in range(a.runs)]
                check_loomgit(tmp / "loomgit.json", a.cases)
                show("loomgit", lruns)
                bruns = [
                    bare_client(server.url, a.cases, a.concurrency, env) for _ in range(a.runs)
                ]
                show("bare aiohttp client", bruns)
                hruns: list[Run] = []
                if not a.no_httpx:
                    hruns = [loomgit_cold(lg, repo, httpx_env) for _ in range(a.runs)]
                    check_loomgit(tmp / "loomgit.json", a.cases)
                    show("loomgit, httpx transport", hruns)
                pruns: list[Run] = []
                if pf is not None:
                    cfg = make_promptfoo_config(tmp / "pf", a.cases, server.url)
                    pf_cmd = [
                        *pf,
                        "eval",
                        "-c",
                        str(cfg),
                        "-j",
                        str(a.concurrency),
                        "--no-cache",
                        "--no-table",
                        "--no-write",
                        "--no-progress-bar",
                        "-o",
                        str(tmp / "pf" / "out.json"),
                    ]
                    first = timed(pf_cmd, tmp / "pf", env)
                    if first.code not in (0, 100):
                        print("  promptfoo failed (above); skipping it")
                        pf = None
                    else:
                        pruns = [first] + [
                            timed(pf_cmd, tmp / "pf", env) for _ in range(a.runs - 1)
                        ]
                        check_promptfoo(tmp / "pf" / "out.json", a.cases)
                        show(f"promptfoo {PROMPTFOO_VERSION}", pruns)
                floor = a.cases * lat / 1000 / a.concurrency
                pf_s = median(pruns) if pruns else None
                peak = max(r.rss_mb for r in lruns)
                tag = f"{lat:g} ms server"
                if lat:
                    rows.append((f"{tag}, loomgit", median(lruns), "physical floor", floor, peak))
                    rows.append(
                        (f"{tag}, bare aiohttp client", median(bruns), "physical floor", floor, 0)
                    )
                rows.append(
                    (f"{tag}, loomgit", median(lruns), "bare aiohttp client", median(bruns), peak)
                )
                rows.append((f"{tag}, loomgit", median(lruns), "promptfoo", pf_s, peak))
                if hruns:
                    rows.append(
                        (
                            f"{tag}, loomgit",
                            median(lruns),
                            "loomgit, httpx transport",
                            median(hruns),
                            peak,
                        )
                    )
                if pruns:
                    rows.append(
                        (
                            f"{tag}, promptfoo",
                            median(pruns),
                            "physical floor" if lat else "–",
                            floor if lat else None,
                            max(r.rss_mb for r in pruns),
                        )
                    )
                cpu = statistics.median(r.cpu_s for r in lruns)
                if pruns:
                    pf_cpu = statistics.median(r.cpu_s for r in pruns)
                    rows.append((f"{tag}, loomgit CPU time", cpu, "promptfoo CPU", pf_cpu, peak))
                if hruns:
                    h_cpu = statistics.median(r.cpu_s for r in hruns)
                    rows.append(
                        (f"{tag}, loomgit CPU time", cpu, "httpx transport CPU", h_cpu, peak)
                    )
                rows.append((f"{tag}, loomgit peak memory (MB)", peak, "target", 100.0, peak))
                if lat == 0:  # the last cold run (httpx) filled the cache
                    wruns = [timed(lg, repo, env) for _ in range(a.runs)]
                    check_loomgit(tmp / "loomgit.json", a.cases)
                    show("loomgit, warm cache", wruns)
                    rows.append(
                        (
                            "warm cache re-run, loomgit",
                            median(wruns),
                            "cold run",
                            median(lruns),
                            max(r.rss_mb for r in wruns),
                        )
                    )
            finally:
                server.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n| {a.cases} cases, concurrency {a.concurrency} | figure | baseline | ratio |")
    print("|---|---|---|---|")
    for name, value, bname, base, _ in rows:
        unit = "" if "MB" in name else " s"
        shown = f"{base:.0f} MB" if "MB" in name and base else f"{base:.2f} s" if base else "–"
        print(f"| {name} | {value:.2f}{unit} | {bname}: {shown} | {ratio(value, base)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
