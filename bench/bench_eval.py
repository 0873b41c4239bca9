#!/usr/bin/env python3
"""Benchmark: `loomgit eval` against `promptfoo eval` on the same suite and the same server.

    .venv/bin/python bench/bench_eval.py                 # 1,000 cases, 3 runs each
    .venv/bin/python bench/bench_eval.py --cases 200 --runs 1 --no-promptfoo

One prompt, N cases with an `icontains` assertion each, sent to a local OpenAI-compatible
mock server (bench/mock_openai.py, a separate process) at equal concurrency, at 50 ms and
at 0 ms of server latency (0 ms measures pure tool overhead): loomgit as on a first run (its
.git/loomgit caches deleted before each run), promptfoo with --no-cache; then a re-run of
loomgit with a warm cache. Each tool is a fresh process per run; peak
memory is that process's maximum resident set (wait4). promptfoo is installed from the
npm registry into a temporary folder (or --promptfoo-dir) and skipped with a message when
npm is missing. Prints the median of --runs runs and the ratios loomgit / promptfoo.
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
    return Run(wall, usage.ru_maxrss / 1024, proc.returncode)


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


def install_promptfoo(folder: Path, version: str, node: str) -> tuple[str, Path] | None:
    """(node binary, promptfoo's CLI script), installing from the npm registry as needed.
    When promptfoo needs a newer Node.js than the one on PATH, the ``node`` package of
    that major version is installed beside it."""
    npm = shutil.which("npm")

    def install(*pkgs: str) -> bool:
        if npm is None:
            print("npm is not installed: skipping promptfoo (loomgit figures only)")
            return False
        print(f"installing {' '.join(pkgs)} from the npm registry into {folder} ...", flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *pkgs],
            cwd=folder,
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            print(f"npm install failed, skipping promptfoo: {r.stderr.strip()[-500:]}")
        return r.returncode == 0

    exe = _entry(folder)
    if exe is None and not install(f"promptfoo@{version}"):
        return None
    exe = _entry(folder)
    if exe is None:
        print("promptfoo's entry point was not found; skipping promptfoo")
        return None
    need = _required_node(folder)
    local = folder / "node_modules" / ".bin" / "node"
    for cand in (node, str(local)):
        if Path(cand).exists() and (need is None or _node_major(cand) >= need[0] * 1000 + need[1]):
            return cand, exe
    if need is None or not install(f"promptfoo@{version}", f"node@{need[0]}"):
        return None
    if local.exists() and _node_major(str(local)) >= need[0] * 1000 + need[1]:
        return str(local), exe
    print(f"promptfoo needs Node.js >= {need[0]}.{need[1]}; skipping promptfoo")
    return None


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


def loomgit_cold(cmd: list[str], repo: Path, env: dict[str, str]) -> Run:
    """A first run: no response cache, no parsed-suite cache, no version cache."""
    shutil.rmtree(repo / ".git" / "loomgit", ignore_errors=True)
    return timed(cmd, repo, env)


def median(runs: list[Run]) -> float:
    return statistics.median(r.wall_s for r in runs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--latencies", default="50,0", help="server latencies in ms, comma-separated")
    ap.add_argument("--no-promptfoo", action="store_true")
    ap.add_argument("--promptfoo-version", default=PROMPTFOO_VERSION)
    ap.add_argument("--promptfoo-dir", type=Path, help="reuse this install folder (kept)")
    ap.add_argument("--serve", type=float, metavar="LATENCY_MS", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.serve is not None:
        return serve(a.serve)

    tmp = Path(tempfile.mkdtemp(prefix="loomgit-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        NO_COLOR="1",
        PROMPTFOO_DISABLE_TELEMETRY="1",
        PROMPTFOO_DISABLE_UPDATE="1",
        PROMPTFOO_CONFIG_DIR=str(tmp / "promptfoo-home"),
        PROMPTFOO_CACHE_PATH=str(tmp / "promptfoo-cache"),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    node = shutil.which("node")
    pf: tuple[str, Path] | None = None
    if not a.no_promptfoo:
        if node is None:
            print("node is not installed: skipping promptfoo")
        else:
            pf = install_promptfoo(a.promptfoo_dir or tmp / "promptfoo", a.promptfoo_version, node)
    repo = tmp / "repo"
    rows: list[tuple[str, float, float | None, float, float | None]] = []
    lg = [
        loomgit_bin(),
        "eval",
        "-j",
        str(a.concurrency),
        "--no-log",
        "--json",
        "-o",
        str(tmp / "loomgit.json"),
    ]
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
                print(
                    f"  loomgit   {median(lruns):7.2f} s  peak {max(r.rss_mb for r in lruns):5.0f} MB"
                    f"  exit {lruns[-1].code}",
                    flush=True,
                )
                pruns: list[Run] = []
                if pf is not None:
                    cfg = make_promptfoo_config(tmp / "pf", a.cases, server.url)
                    pf_cmd = [
                        pf[0],
                        str(pf[1]),
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
                if pruns:
                    print(
                        f"  promptfoo {median(pruns):7.2f} s  peak {max(r.rss_mb for r in pruns):5.0f} MB"
                        f"  exit {pruns[-1].code}",
                        flush=True,
                    )
                rows.append(
                    (
                        f"{lat:g} ms server, no cache",
                        median(lruns),
                        median(pruns) if pruns else None,
                        max(r.rss_mb for r in lruns),
                        max(r.rss_mb for r in pruns) if pruns else None,
                    )
                )
                if lat == 0:  # the last cold run filled the cache
                    wruns = [timed(lg, repo, env) for _ in range(a.runs)]
                    check_loomgit(tmp / "loomgit.json", a.cases)
                    print(
                        f"  loomgit warm cache {median(wruns):5.2f} s  peak "
                        f"{max(r.rss_mb for r in wruns):5.0f} MB",
                        flush=True,
                    )
                    rows.append(
                        (
                            "warm cache re-run",
                            median(wruns),
                            None,
                            max(r.rss_mb for r in wruns),
                            None,
                        )
                    )
            finally:
                server.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"\n| {a.cases} cases, concurrency {a.concurrency} | loomgit | promptfoo "
        f"{a.promptfoo_version} | ratio | loomgit peak | promptfoo peak |"
    )
    print("|---|---|---|---|---|---|")
    for name, lt, pt, lm, pm in rows:
        ratio = f"{lt / pt:.2f}×" if pt else "–"
        print(
            f"| {name} | {lt:.2f} s | {f'{pt:.2f} s' if pt else '–'} | {ratio} | {lm:.0f} MB | "
            f"{f'{pm:.0f} MB' if pm else '–'} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
