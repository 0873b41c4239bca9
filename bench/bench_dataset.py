#!/usr/bin/env python3
"""Benchmark: peak memory of `loomgit eval` on a suite whose cases come from a data file.

    .venv/bin/python bench/bench_dataset.py               # 50 / 500 / 5,000 cases, 3 runs
    .venv/bin/python bench/bench_dataset.py --cases 50,5000,50000 --runs 1

One prompt and one suite naming a CSV file (`cases: [{file: data/golden.csv, vars: {ticket:
body}, expected: answer, name: id, assert: [...]}]`) in a fresh git repository, evaluated
on the offline `echo` model (no network, so the figures are loomgit's own) with
`--no-cache --no-log`, in a fresh process per run; peak memory is that process's maximum
resident set (wait4). Each size runs as it is, with `--json` (the report printed), with
`-o FILE --junit FILE --markdown FILE` (the report files written), and as
`--compare BASE` of a changed prompt (both sides evaluated, the comparison's JSON
printed). The baseline is the smallest suite (50 cases) of the same kind, measured in the
same run: memory is flat when 100x the cases cost about the same peak RSS. For comparison
the same cases are written inline in the suite YAML (at the largest size, halved until the
suite fits the 1 MB limit on suite files).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = """---
model: echo
variables:
  ticket: {type: string, required: true}
---
system:
You are an on-call assistant. Answer in a formal tone.

user:
Summarize this ticket: {{ ticket }}
"""
ASSERTS = "[{icontains: ticket}, {not_contains: 'As an AI'}, {max_length: 2000}]"


def ticket(i: int) -> str:
    return f"Ticket {i}: the printer on floor {i % 9} shows error E{i % 97} and smells of smoke"


def loomgit_bin() -> str:
    exe = Path(sys.executable).with_name("loomgit")
    return str(exe) if exe.exists() else shutil.which("loomgit") or "loomgit"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def make_repo(root: Path, n: int, inline: bool) -> None:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "prompts").mkdir()
    (root / "prompts/summarize.prompt").write_text(PROMPT, encoding="utf-8")
    if inline:
        cases = "".join(
            f"  - name: t{i}\n    vars: {{ticket: {ticket(i)!r}}}\n    expected: E{i % 97}\n"
            f"    assert: {ASSERTS}\n"
            for i in range(n)
        )
    else:
        (root / "data").mkdir()
        with open(root / "data/golden.csv", "w", encoding="utf-8", newline="") as f:
            f.write("id,body,answer\n")
            for i in range(n):
                f.write(f't{i},"{ticket(i)}",E{i % 97}\n')
        cases = (
            "  - file: data/golden.csv\n    vars: {ticket: body}\n    expected: answer\n"
            f"    name: id\n    assert: {ASSERTS}\n"
        )
    suite = f"providers: [echo]\ncases:\n{cases}"
    (root / "prompts/summarize.tests.yaml").write_text(suite, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "x")
    git(root, "tag", "base")
    changed = PROMPT.replace("formal tone", "friendly tone")  # for --compare base
    (root / "prompts/summarize.prompt").write_text(changed, encoding="utf-8")
    git(root, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qam", "y")


class Refused(Exception):
    pass


KINDS = {
    "": [],
    " --json": ["--json"],
    " files": ["-o", "{out}/r.json", "--junit", "{out}/r.xml", "--markdown", "{out}/r.md"],
    " --compare": ["--compare", "base", "--json"],
}


def _kind(k: str) -> str:
    return k.strip().lstrip("-") or "plain"


def run_once(root: Path, kind: str = "") -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB, exit code) of one eval in its own process."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    out = root.parent / f"{root.name}-out"
    out.mkdir(exist_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [loomgit_bin(), "eval", "summarize", "--no-cache", "--no-log"]
        + [a.format(out=out) for a in KINDS[kind]],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if code == 2 and "too large" in err:
        raise Refused(err.strip())
    if code not in (0, 1):
        raise SystemExit(f"eval failed ({code}): {err.strip()}")
    return seconds, usage.ru_maxrss / 1024, code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="50,500,5000", help="comma-separated suite sizes")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-inline", action="store_true", help="skip the inline-YAML comparison")
    ap.add_argument(
        "--kinds",
        default=",".join(_kind(k) for k in KINDS),
        help="comma-separated: plain, json, files, compare",
    )
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.cases.split(","))
    print(f"loomgit eval on the echo model; median of {args.runs} runs; fresh process each")
    rows: list[tuple[str, int, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="loomgit-bench-dataset-") as tmp:
        kinds = [k for k in KINDS if _kind(k) in args.kinds.split(",")]
        plan = [(f"data file{k}", n, False, k) for k in kinds for n in sizes]
        if not args.no_inline:
            plan.append(("inline YAML", sizes[-1], True, ""))
        while plan:
            label, n, inline, kind = plan.pop(0)
            root = Path(tmp) / f"{'inline' if inline else 'data'}-{n}"
            if not root.exists():
                make_repo(root, n, inline)
            try:
                runs = [run_once(root, kind) for _ in range(args.runs)]
            except Refused as e:
                print(f"  {label:<20} {n:>6,} cases  refused: {e}", flush=True)
                plan.append((label, n // 2, inline, kind))  # the largest that fits
                continue
            secs = statistics.median(r[0] for r in runs)
            rss = statistics.median(r[1] for r in runs)
            rows.append((label, n, secs, rss))
            print(
                f"  {label:<20} {n:>6,} cases  {secs:6.2f} s  peak RSS {rss:6.1f} MiB", flush=True
            )
    print()
    for label, n, secs, rss in rows:
        base = next(r for r in rows if r[0] == label.replace("inline YAML", "data file"))
        if (label, n) == base[:2]:
            continue
        print(
            f"{label} {n:,} vs {base[0]} {base[1]:,} (baseline, same run): "
            f"{n / base[1]:.0f}x the cases -> peak RSS x{rss / base[3]:.2f} "
            f"(+{rss - base[3]:.1f} MiB, {(rss - base[3]) * 1024 / max(1, n - base[1]):.2f} KiB "
            f"a case), time x{secs / base[2]:.2f}"
        )


if __name__ == "__main__":
    main()
