#!/usr/bin/env python3
"""Benchmark: versions from git history on a large synthetic repository.

Generates a repository with ``git fast-import`` (default: 1,000 prompts, 20,000 commits,
each commit touching 1-5 prompts, some renames), then times, in the same run:

- the baseline: the raw ``git log -z --raw -M`` pass over the prompt glob plus reading
  every blob it names through one ``git cat-file --batch`` (what any tool must do);
- ``loomgit list --json`` cold (no cache), warm (nothing new committed), and after one
  new commit (incremental);
- ``loomgit log ID --json`` warm.

Prints medians and ratios against the baseline. Targets (issue 3): cold <= 3x baseline,
warm <= 0.3 s.

    .venv/bin/python bench/bench_history.py                 # full size
    .venv/bin/python bench/bench_history.py --prompts 200 --commits 2000 --repeat 3
    .venv/bin/python bench/bench_history.py --repo /tmp/big  # keep/reuse the repository
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
LOOMGIT = [sys.executable, "-m", "loomgit"]
GLOB = "prompts/**/*.prompt"
ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="Bench",
    GIT_AUTHOR_EMAIL="bench@example.com",
    GIT_COMMITTER_NAME="Bench",
    GIT_COMMITTER_EMAIL="bench@example.com",
    GIT_CONFIG_NOSYSTEM="1",
    NO_COLOR="1",
)
WORDS = (
    "ticket customer summary incident urgent billing refund login outage printer "
    "network escalate polite concise bullet answer explain context product manager "
    "engineer deploy rollback latency error warning policy review draft"
).split()
TEAMS = ["support", "sales", "ops", "eng", "legal", "hr", "finance", "search", "docs", "chat"]


def sentence(rng: random.Random, n: int = 10) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


class PromptState:
    def __init__(self, rng: random.Random, i: int) -> None:
        self.path = f"prompts/{TEAMS[i % len(TEAMS)]}/p{i:04d}.prompt"
        self.description = sentence(rng, 6)
        self.model = rng.choice(
            ["openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-3-5-haiku"]
        )
        self.temperature = rng.choice([0.0, 0.2, 0.5, 0.7])
        self.variables = {
            "ticket": "{type: string, required: true}",
            "tone": "{type: string, enum: [formal, casual], default: formal}",
        }
        self.tags = [rng.choice(TEAMS)]
        self.system = [sentence(rng) for _ in range(3)]
        self.user = [sentence(rng) for _ in range(2)]
        self.extra = 0

    def text(self) -> str:
        vs = "".join(f"  {k}: {v}\n" for k, v in self.variables.items())
        used = " ".join(f"{{{{ {k} }}}}" for k in self.variables)
        return (
            f"---\ndescription: {self.description}\nmodel: {self.model}\n"
            f"params: {{temperature: {self.temperature}, max_tokens: 300}}\n"
            f"variables:\n{vs}tags: [{', '.join(self.tags)}]\n---\n"
            "system:\n"
            + "\n".join(self.system)
            + "\n\nuser:\n"
            + "\n".join(self.user)
            + f"\n{used}\n"
        )

    def edit(self, rng: random.Random) -> str:
        r = rng.random()
        if r < 0.55:
            (self.system if rng.random() < 0.5 else self.user)[0] = sentence(rng)
            return "reword"
        if r < 0.70:
            self.temperature = rng.choice([0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9])
            return "tune"
        if r < 0.80:
            self.description = sentence(rng, 6)
            return "describe"
        if r < 0.88:
            self.tags = sorted({*self.tags, rng.choice(TEAMS)})
            return "tag"
        if r < 0.95:
            self.extra += 1
            self.variables[f"extra{self.extra}"] = "{type: string, default: ''}"
            return "add variable"
        if len(self.variables) > 2:
            self.variables.popitem()
            return "drop variable"
        self.model = rng.choice(["openai/gpt-4o-mini", "openai/gpt-4o"])
        return "model"


def generate(path: Path, n_prompts: int, n_commits: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=ENV)
    prompts = [PromptState(rng, i) for i in range(n_prompts)]
    ts = 1_600_000_000
    out: list[bytes] = []

    def data(b: bytes) -> None:
        out.append(b"data %d\n" % len(b) + b + b"\n")

    def commit(msg: str, ops: list[bytes]) -> None:
        nonlocal ts
        ts += 600
        out.append(b"commit refs/heads/main\n")
        out.append(f"author Bench <bench@example.com> {ts} +0000\n".encode())
        out.append(f"committer Bench <bench@example.com> {ts} +0000\n".encode())
        data(msg.encode())
        out.extend(ops)

    def write(p: PromptState) -> bytes:
        b = p.text().encode()
        return f"M 100644 inline {p.path}\n".encode() + b"data %d\n" % len(b) + b + b"\n"

    made = 0
    first = min(n_prompts // 5 or 1, n_commits // 2 or 1)
    per = -(-n_prompts // first)
    for c in range(first):
        batch = prompts[c * per : (c + 1) * per]
        if batch:
            commit(f"add {len(batch)} prompts", [write(p) for p in batch])
            made += 1
    renames = 0
    while made < n_commits:
        k = rng.randint(1, 5)
        chosen = rng.sample(prompts, k)
        ops: list[bytes] = []
        kinds = []
        for p in chosen:
            if rng.random() < 0.02:  # a move, sometimes with an edit in the same commit
                old = p.path
                p.path = f"prompts/{rng.choice(TEAMS)}/moved/{os.path.basename(old)[:-7]}-{renames}.prompt"
                renames += 1
                ops.append(f"D {old}\n".encode())
                kinds.append("move")
                if rng.random() < 0.5:
                    p.edit(rng)
            else:
                kinds.append(p.edit(rng))
            ops.append(write(p))
        commit(f"{', '.join(sorted(set(kinds)))} ({k} prompts)", ops)
        made += 1
    stream = b"".join(out)
    subprocess.run(["git", "fast-import", "--quiet"], input=stream, cwd=path, check=True, env=ENV)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True, env=ENV)
    print(
        f"generated {path}: {n_prompts} prompts, {n_commits} commits, {renames} moves, "
        f"{len(stream) / 1e6:.0f} MB of fast-import stream"
    )


CPU: dict[int, list[float]] = {}


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Wall seconds of each run; the CPU seconds of the processes it ran are kept in CPU."""
    out, cpu = [], []
    for _ in range(repeat):
        c = _children_cpu()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
        cpu.append(_children_cpu() - c)
    CPU[id(out)] = cpu
    return out


def med(samples: list[float]) -> tuple[float, float]:
    """(median wall, median CPU) of a timed() result."""
    return statistics.median(samples), statistics.median(CPU.get(id(samples), [0.0]))


def git_log(repo: Path) -> bytes:
    return subprocess.run(
        [
            "git",
            "log",
            "-z",
            "--raw",
            "--no-abbrev",
            "-M",
            "--first-parent",
            "-m",
            "--format=%x01%H%x00%P%x00%aI%x00%an%x00%ae%x00%B%x00",
            "--",
            f":(glob){GLOB}",
        ],
        cwd=repo,
        check=True,
        capture_output=True,
        env=ENV,
    ).stdout


def blob_ids(log: bytes) -> list[bytes]:
    ids = []
    for tok in log.split(b"\0"):
        t = tok.lstrip(b"\n")
        if t.startswith(b":"):
            parts = t.split()
            if len(parts) >= 5 and parts[3] != b"0" * 40:
                ids.append(parts[3])
    return list(dict.fromkeys(ids))


def cat_blobs(repo: Path, ids: list[bytes]) -> None:
    subprocess.run(
        ["git", "cat-file", "--batch"],
        input=b"\n".join(ids) + b"\n",
        cwd=repo,
        check=True,
        stdout=subprocess.DEVNULL,
        env=ENV,
    )


def loomgit(repo: Path, *args: str) -> bytes:
    proc = subprocess.run([*LOOMGIT, *args], cwd=repo, capture_output=True, env=ENV)
    if proc.returncode:
        raise SystemExit(f"loomgit {' '.join(args)} failed: {proc.stderr.decode()}")
    return proc.stdout


def clear_cache(repo: Path) -> None:
    shutil.rmtree(repo / ".git" / "loomgit" / "history", ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--commits", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--repo", type=Path, help="where to build (reused if it exists)")
    args = ap.parse_args()

    tmp = None
    if args.repo is None:
        tmp = tempfile.mkdtemp(prefix="loomgit-bench-")
        repo = Path(tmp) / "repo"
    else:
        repo = args.repo
    try:
        if not (repo / ".git").exists():
            t = time.perf_counter()
            generate(repo, args.prompts, args.commits)
            print(f"  (generation took {time.perf_counter() - t:.1f} s)")
        log = git_log(repo)
        ids = blob_ids(log)
        log_s, log_c = med(timed(lambda: git_log(repo), args.repeat))
        blob_s, blob_c = med(timed(lambda: cat_blobs(repo, ids), args.repeat))
        base, base_c = log_s + blob_s, log_c + blob_c

        def cold() -> None:
            clear_cache(repo)
            loomgit(repo, "list", "--json")

        cold_s, cold_c = med(timed(cold, args.repeat))
        loomgit(repo, "list", "--json")
        warm_s, warm_c = med(timed(lambda: loomgit(repo, "list", "--json"), max(args.repeat, 7)))
        version_s, version_c = med(timed(lambda: loomgit(repo, "--version"), max(args.repeat, 7)))
        import json

        first_id = json.loads(loomgit(repo, "list", "--json"))[0]["id"]
        log_id_s, log_id_c = med(
            timed(lambda: loomgit(repo, "log", first_id, "--json"), max(args.repeat, 7))
        )
        n_versions = len(json.loads(loomgit(repo, "log", first_id, "--json")))
        incr: list[float] = []
        incr_cpu: list[float] = []

        def incremental() -> None:
            target = sorted(repo.glob("prompts/**/*.prompt"))[:3]
            for p in target:
                p.write_text(p.read_text().replace("system:\n", "system:\nBe brief.\n", 1))
            subprocess.run(
                ["git", "commit", "-q", "-am", "bench: one more"], cwd=repo, check=True, env=ENV
            )
            c = _children_cpu()
            t = time.perf_counter()
            loomgit(repo, "list", "--json")
            incr.append(time.perf_counter() - t)
            incr_cpu.append(_children_cpu() - c)
            subprocess.run(
                ["git", "reset", "-q", "--hard", "HEAD~1"], cwd=repo, check=True, env=ENV
            )
            loomgit(repo, "list", "--json")  # warm again at the old head

        for _ in range(args.repeat):
            incremental()
        incr_s, incr_c = statistics.median(incr), statistics.median(incr_cpu)
        n_commits = int(
            subprocess.run(
                ["git", "rev-list", "--count", "HEAD"],
                cwd=repo,
                capture_output=True,
                text=True,
                env=ENV,
            ).stdout
        )
        print(
            f"\nrepository: {n_commits} commits, {len(ids)} prompt blobs; medians of "
            f"{args.repeat}+ runs; CPU = user+sys of every process the step ran\n"
        )
        print(f"  {'':<48} {'wall':>8}   {'CPU':>8}   ratio (wall)")
        rows = [
            ("baseline: git log -z --raw -M pass", log_s, log_c, ""),
            ("baseline: cat-file --batch of its blobs", blob_s, blob_c, ""),
            ("baseline total", base, base_c, "1.00x"),
            (
                "loomgit list --json, cold (no cache)",
                cold_s,
                cold_c,
                f"{cold_s / base:.2f}x baseline (CPU {cold_c / base_c:.2f}x)",
            ),
            (
                "loomgit list --json, after 1 new commit",
                incr_s,
                incr_c,
                f"{incr_s / base:.2f}x baseline",
            ),
            ("loomgit list --json, warm", warm_s, warm_c, f"{warm_s / base:.2f}x baseline"),
            (f"loomgit log ID --json, warm ({n_versions} versions)", log_id_s, log_id_c, ""),
            ("loomgit --version (interpreter start-up)", version_s, version_c, ""),
        ]
        for name, secs, cpu, note in rows:
            print(f"  {name:<48} {secs:7.3f}s   {cpu:7.3f}s   {note}")
        ok_cold = cold_s <= 3 * base
        ok_warm = warm_s <= 0.3
        print(
            f"\ntarget cold <= 3x baseline: {'met' if ok_cold else 'MISSED'} "
            f"({cold_s / base:.2f}x); target warm <= 0.3 s: "
            f"{'met' if ok_warm else 'MISSED'} ({warm_s:.3f} s)"
        )
        return 0 if ok_cold and ok_warm else 1
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
