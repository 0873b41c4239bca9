#!/usr/bin/env python3
"""Run one benchmark on two checkouts in the same run: this one and a baseline.

Each side runs its own copy of the script with its own virtualenv, so the figures compare
the code, not the benchmark. Sides alternate (baseline, this, baseline, this ...) so that
a change in machine load falls on both. Make the baseline checkout with::

    git worktree add ../loomgit-before <commit>
    (cd ../loomgit-before && python3 -m venv .venv && .venv/bin/pip install -e '.[test]')

then, for example::

    .venv/bin/python bench/before_after.py --baseline ../loomgit-before -- \\
        bench_history.py --repo /tmp/bench-repo --repeat 3
    .venv/bin/python bench/before_after.py --baseline ../loomgit-before --rounds 2 -- \\
        bench_startup.py

Each round prints both sides' output under a heading; the scripts print their own
medians and ratios against the baseline they measure themselves.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def side(root: Path, script: str, args: list[str]) -> int:
    python = root / ".venv" / "bin" / "python"
    if not python.exists():
        print(f"{root}: no .venv (create it as the docstring says)", file=sys.stderr)
        return 2
    cmd = [str(python), str(root / "bench" / script), *args]
    print(f"\n### {root.name or root}: {' '.join(cmd[1:])}", flush=True)
    return subprocess.call(cmd, cwd=root)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True, help="the other checkout")
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds (default 1)")
    ap.add_argument("script", help="a script in bench/, e.g. bench_history.py")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    opts = ap.parse_args()
    rc = 0
    for n in range(opts.rounds):
        print(f"\n## round {n + 1} of {opts.rounds}", flush=True)
        for root in (opts.baseline.resolve(), HERE):
            rc |= side(root, opts.script, [a for a in opts.args if a != "--"])
    return rc


if __name__ == "__main__":
    sys.exit(main())
