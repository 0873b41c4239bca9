"""Start-up and commit-hook speed: what every `git commit` pays for loomgit.

Builds a synthetic repository of 1,000 prompts (each with a test suite), stages a change
to 5 of them, and times, as real subprocesses:

* ``python -c pass``           the floor: the same interpreter starting and doing nothing
* ``loomgit --version``        target <= 0.15 s median
* ``loomgit hook check``       the plain pre-commit hook's check of the staged files
                               (read from the index), target <= 0.3 s median
* ``loomgit hook check FILES`` the same check as the pre-commit framework runs it
* ``loomgit hook pre-commit``  protect + check, what the installed plain hook runs
* ``loomgit hook versions MSG`` the prepare-commit-msg hook (history cache warm)

Each figure is printed as wall time and as CPU time (user + system of the process); the
load average is printed too, as wall time on a busy machine says little.

Usage: python bench/bench_startup.py [--runs 21] [--prompts 1000] [--changed 5] [--keep]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = """---
description: Synthetic prompt {i} for the start-up benchmark
model: openai/gpt-4o-mini
params: {{temperature: 0.2, max_tokens: 300}}
variables:
  ticket: {{type: string, required: true, description: raw ticket text}}
  tone: {{type: string, enum: [formal, casual], default: formal}}
  examples: {{type: array, default: []}}
sample: {{ticket: "Printer {i} on floor 3 is on fire"}}
tags: [bench, team-{team}]
---
system:
You are assistant number {i}. Answer in a {{{{ tone }}}} tone.
{{% for e in examples %}}Example: {{{{ e }}}}
{{% endfor %}}
user:
Summarize this ticket: {{{{ ticket }}}}
"""

SUITE = """providers: [echo]
cases:
  - name: fire
    vars: {{ticket: "Printer {i} is on fire"}}
    assert: [{{icontains: fire}}]
  - name: casual
    vars: {{ticket: "Coffee machine {i} is empty", tone: casual, examples: [a, b]}}
    assert: [{{contains: casual}}]
"""


def git(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def make_repo(path: Path, n: int, env: dict[str, str]) -> list[str]:
    """A repository with ``n`` prompts and suites in one commit; returns the prompt paths."""
    git(["init", "-q", "-b", "main"], path, env)
    (path / "loomgit.yaml").write_text("prompts: [prompts/**/*.prompt]\n")
    paths = []
    for i in range(n):
        folder = path / "prompts" / f"team{i % 25:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"p{i:04d}.prompt").write_text(PROMPT.format(i=i, team=i % 25))
        (folder / f"p{i:04d}.tests.yaml").write_text(SUITE.format(i=i))
        paths.append(f"prompts/team{i % 25:02d}/p{i:04d}.prompt")
    git(["add", "-A"], path, env)
    git(["commit", "-q", "-m", "synthetic prompts"], path, env)
    return paths


def timed(
    cmd: list[str], cwd: Path, env: dict[str, str], runs: int, expect: int = 0
) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of ``cmd`` over ``runs`` runs,
    after one warm-up run. CPU time is the steadier figure on a busy machine."""
    walls, cpus = [], []
    for k in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
        dt = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != expect:
            sys.exit(
                f"{' '.join(cmd)} exited {proc.returncode}: "
                f"{proc.stderr.decode(errors='replace').strip()}"
            )
        if k:
            walls.append(dt)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--changed", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="leave the repository in place")
    args = ap.parse_args()

    loomgit = shutil.which("loomgit", path=str(Path(sys.executable).parent)) or shutil.which(
        "loomgit"
    )
    if not loomgit:
        sys.exit("loomgit is not installed next to this Python or on PATH")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "NO_COLOR": "1",
    }
    tmp = Path(tempfile.mkdtemp(prefix="loomgit-bench-startup-"))
    try:
        t0 = time.perf_counter()
        paths = make_repo(tmp, args.prompts, env)
        step = max(1, len(paths) // args.changed)
        changed = paths[::step][: args.changed]
        for rel in changed:
            p = tmp / rel
            p.write_text(p.read_text().replace("Summarize this ticket:", "Summarize briefly:"))
        git(["add", *changed], tmp, env)
        msg = tmp / ".git" / "BENCH_MSG"
        msg.write_text("bench: shorter summaries\n")
        print(
            f"repository: {args.prompts} prompts + suites, {len(changed)} staged changes "
            f"(built in {time.perf_counter() - t0:.1f} s); median of {args.runs} runs\n"
        )

        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ("loomgit --version", [loomgit, "--version"], 0.15),
            ("loomgit hook check (index)", [loomgit, "hook", "check"], 0.3),
            (
                "loomgit hook check FILES",
                [loomgit, "hook", "check", "--source", "worktree", *changed],
                0.3,
            ),
            ("loomgit hook pre-commit", [loomgit, "hook", "pre-commit"], 0.3),
            ("loomgit hook versions MSG", [loomgit, "hook", "versions", str(msg), "message"], None),
        ]
        base = None
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
        print(f"{'command':<30} {'wall':>8} {'x python':>9} {'cpu':>8} {'target':>8}  ok")
        for label, cmd, target in rows:
            med, cpu = timed(cmd, tmp, env, args.runs)
            base = base or med
            tgt = f"{target:.2f} s" if target else "-"
            ok = "" if target is None else ("yes" if med <= target else "NO")
            print(
                f"{label:<30} {med * 1000:>6.0f}ms {med / base:>8.1f}x {cpu * 1000:>6.0f}ms "
                f"{tgt:>8}  {ok}"
            )
        print("\nwall and cpu are medians; the targets apply to wall time on an idle machine")
    finally:
        if args.keep:
            print(f"\nrepository kept at {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
