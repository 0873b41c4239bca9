"""How fast is ``loomgit serve``? A bounded load test against a static file server serving
the same JSON, measured in the same run.

Builds a throwaway repository with N prompts promoted to production (git plumbing only),
then starts, each as its own process on 127.0.0.1:

- ``loomgit serve`` on the repository (access log on, written to /dev/null), and
- the baseline: a static file server (Starlette's ``StaticFiles`` on the same Uvicorn,
  httptools and uvloop) serving the bytes ``GET /v1/prompts/{id}`` answers, as a file,

and drives each with C concurrent keep-alive connections from a small raw-socket HTTP
client (so the client costs little next to the servers; it shares the machine's cores).
It prints requests/s, p50 and p99 latency for

- ``GET`` of a prompt: static baseline and loomgit (target: loomgit's throughput within
  2x of the baseline's, p99 under 20 ms at 50 clients),
- ``GET`` with ``If-None-Match`` (304) and ``POST .../render``,

and the resident memory of the ``loomgit serve`` process over R requests (GET and render
alternating; target: flat). Every phase stops at its request count or its time limit.

Run: ``.venv/bin/python bench/bench_serve.py [--clients 50] [--requests 20000]
[--memory-requests 100000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = """---
description: prompt {i}
model: echo
params: {{temperature: 0.2}}
variables:
  ticket: {{type: string, required: true}}
  tone: {{type: string, enum: [formal, casual], default: formal}}
---
system:
You are assistant number {i}. Answer in a {{{{ tone }}}} tone.

user:
Summarize this ticket: {{{{ ticket }}}}
"""

STATIC = """
import os, socket, sys
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

folder = sys.argv[1]
if sys.argv[2] == "starlette":
    app = Starlette(routes=[Mount("/", StaticFiles(directory=folder))])
else:
    async def app(scope, receive, send):  # the file read on each request, nothing else
        if scope["type"] != "http":
            return
        with open(os.path.join(folder, os.path.basename(scope["path"])), "rb") as f:
            data = f.read()
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(2048)
print(sock.getsockname()[1], flush=True)
uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])
"""


NGINX = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        default_type application/json;
        keepalive_requests 1000000;
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def load(
    port: int, requests: list[bytes], total: int, clients: int, limit_s: float
) -> tuple[int, float, list[float], dict[int, int]]:
    """(requests done, seconds, latencies in s, count by status)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    left = [total]
    deadline = time.perf_counter() + limit_s

    async def worker(n: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = n
        while left[0] > 0 and time.perf_counter() < deadline:
            left[0] -= 1
            req = requests[i % len(requests)]
            i += 1
            t0 = time.perf_counter()
            status = await _one(reader, writer, req)
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(clients)))
    return len(latencies), time.perf_counter() - t0, latencies, statuses


def run_load(port: int, requests: list[bytes], total: int, clients: int, limit_s: float) -> dict:
    try:
        import uvloop

        loop_new = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        loop_new = asyncio.new_event_loop
    loop = loop_new()
    try:
        done, secs, lat, statuses = loop.run_until_complete(
            load(port, requests, total, clients, limit_s)
        )
    finally:
        loop.close()
    lat.sort()
    return {
        "requests": done,
        "rps": done / secs,
        "p50_ms": statistics.median(lat) * 1000,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        "statuses": statuses,
        "latencies": lat,
    }


def get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


def post(path: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode() + data


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=50)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20000, help="per throughput phase")
    ap.add_argument("--memory-requests", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=5, help="phases take turns this many times")
    ap.add_argument("--limit-s", type=float, default=120.0, help="time limit of each phase")
    args = ap.parse_args()

    from loomgit.app.bundle import load as load_prompt
    from loomgit.app.describe import describe
    from loomgit.stages.promote import write
    from loomgit.stages.source import at_commit
    from loomgit.workspace import Workspace

    os.environ.update(
        {
            "GIT_AUTHOR_NAME": "Bench",
            "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "Bench",
            "GIT_COMMITTER_EMAIL": "bench@example.com",
        }
    )
    procs: list[subprocess.Popen[str]] = []
    with tempfile.TemporaryDirectory(prefix="loomgit-bench-serve-") as tmp:
        repo = Path(tmp) / "repo"
        (repo / "prompts").mkdir(parents=True)
        git("init", "-q", "-b", "main", cwd=repo)
        (repo / "loomgit.yaml").write_text("stages: [production]\n")
        for i in range(args.prompts):
            (repo / "prompts" / f"p{i:04d}.prompt").write_text(PROMPT.format(i=i))
        git("add", "-A", cwd=repo)
        git("commit", "-q", "-m", "prompts", cwd=repo)
        head = git("rev-parse", "HEAD", cwd=repo)
        ws = Workspace(repo)
        for i in range(args.prompts):
            src = at_commit(ws, f"p{i:04d}", "1.0.0", head, f"prompts/p{i:04d}.prompt", "-")
            write(ws, "production", src)
        ident = f"p{args.prompts // 2:04d}"
        lp = load_prompt(ident, stage="production", repo=repo)
        static = Path(tmp) / "static"
        static.mkdir()
        os.chmod(tmp, 0o755)  # nginx workers run as another user
        answer = json.dumps(describe(lp), ensure_ascii=False, separators=(",", ":")).encode()
        (static / f"{ident}.json").write_bytes(answer)
        try:
            serve = subprocess.Popen(
                [sys.executable, "-m", "loomgit", "serve", "--port", "0"],
                cwd=repo,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs.append(serve)
            assert serve.stderr is not None
            line = ""
            while " at http://" not in line:
                line = serve.stderr.readline()
                if not line:
                    raise SystemExit("loomgit serve did not start")
            serve_port = int(line.split(" at http://", 1)[1].split(" ", 1)[0].rsplit(":", 1)[1])
            started_kib = rss_kib(serve.pid)
            # the access log goes on being written; nobody reads it
            drain = subprocess.Popen(["cat"], stdin=serve.stderr, stdout=subprocess.DEVNULL)
            procs.append(drain)
            baselines: list[tuple[str, int]] = []
            for kind, label in (
                ("asgi", "GET static file, bare ASGI on Uvicorn (baseline)"),
                ("starlette", "GET static file, Starlette StaticFiles (baseline)"),
            ):
                base = subprocess.Popen(
                    [sys.executable, "-c", STATIC, str(static), kind],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                procs.append(base)
                assert base.stdout is not None
                baselines.append((label, int(base.stdout.readline())))
            nginx = shutil.which("nginx") or (
                "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
            )
            if nginx:
                port = free_port()
                conf = Path(tmp) / "nginx.conf"
                conf.write_text(NGINX.format(tmp=tmp, port=port, root=static))
                procs.append(
                    subprocess.Popen(
                        [nginx, "-c", str(conf), "-e", f"{tmp}/nginx-error.log"],
                        stderr=subprocess.DEVNULL,
                    )
                )
                for _ in range(200):  # until it listens
                    try:
                        socket.create_connection(("127.0.0.1", port), 0.1).close()
                        break
                    except OSError:
                        time.sleep(0.05)
                baselines.append(("GET static file, nginx, 1 worker (baseline)", port))

            path = f"/v1/prompts/{ident}"
            etag = f'If-None-Match: "{lp.content_hash}"\r\n'
            render = post(f"{path}/render", {"variables": {"ticket": "VPN down"}})
            phases = [
                *((label, port, [get(f"/{ident}.json")]) for label, port in baselines),
                ("GET /v1/prompts/{id}", serve_port, [get(path)]),
                ("GET /v1/prompts/{id}, If-None-Match (304)", serve_port, [get(path, etag)]),
                ("POST /v1/prompts/{id}/render", serve_port, [render]),
            ]
            print(
                f"{args.prompts} prompts; {args.clients} concurrent clients; "
                f"{args.requests:,} requests a phase in {args.rounds} rounds; "
                f"answer {len(answer):,} bytes; "
                f"load average {os.getloadavg()[0]:.1f}"
            )
            # the phases take turns, round by round, so a change of load on the machine
            # falls on all of them alike; rates are medians of the rounds, latencies pooled
            for _, port, reqs in phases:
                run_load(port, reqs, 2000, args.clients, 30)  # warm-up
            per_round = max(1, args.requests // args.rounds)
            rounds: dict[str, list[dict]] = {name: [] for name, _, _ in phases}
            lat: dict[str, list[float]] = {name: [] for name, _, _ in phases}
            for _ in range(args.rounds):
                for name, port, reqs in phases:
                    r = run_load(port, reqs, per_round, args.clients, args.limit_s)
                    rounds[name].append(r)
                    lat[name] += r["latencies"]
            results = {}
            for name, _, _ in phases:
                ls = sorted(lat[name])
                statuses: dict[int, int] = {}
                for r in rounds[name]:
                    for k, v in r["statuses"].items():
                        statuses[k] = statuses.get(k, 0) + v
                res = results[name] = {
                    "rps": statistics.median(r["rps"] for r in rounds[name]),
                    "p50_ms": statistics.median(ls) * 1000,
                    "p99_ms": ls[min(len(ls) - 1, int(len(ls) * 0.99))] * 1000,
                    "requests": len(ls),
                    "statuses": statuses,
                }
                print(
                    f"  {name:<52} {res['rps']:8.0f} req/s   p50 {res['p50_ms']:6.2f} ms   "
                    f"p99 {res['p99_ms']:6.2f} ms   {res['requests']:,} requests {statuses}"
                )
            g = results["GET /v1/prompts/{id}"]
            for label, _ in baselines:
                b = results[label]
                print(
                    f"  GET throughput: {label.split(', ', 1)[1]} / loomgit = {b['rps'] / g['rps']:.2f}x"
                )
            print(
                f"  (target <= 2x); loomgit GET p99 {g['p99_ms']:.1f} ms, render p99 "
                f"{results['POST /v1/prompts/{id}/render']['p99_ms']:.1f} ms (target < 20 ms)"
            )

            mixed = [get(path), render, get(f"/v1/prompts/p{0:04d}")]
            before = rss_kib(serve.pid)
            marks = [(0, before)]
            step = max(1, args.memory_requests // 5)
            done = 0
            t0 = time.perf_counter()
            while done < args.memory_requests and time.perf_counter() - t0 < args.limit_s * 3:
                r = run_load(serve_port, mixed, step, args.clients, args.limit_s)
                done += r["requests"]
                marks.append((done, rss_kib(serve.pid)))
            print(f"  loomgit serve RSS at start: {started_kib / 1024:.1f} MiB")
            print(
                "  loomgit serve RSS over requests (GET and render), after the phases above: "
                + ", ".join(f"{n:,}: {kib / 1024:.1f} MiB" for n, kib in marks)
            )
            first_after = marks[1][1] if len(marks) > 1 else before
            print(
                f"  growth after the first {marks[1][0] if len(marks) > 1 else 0:,}: "
                f"{(marks[-1][1] - first_after) / 1024:+.1f} MiB over "
                f"{marks[-1][0] - (marks[1][0] if len(marks) > 1 else 0):,} requests"
            )
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
