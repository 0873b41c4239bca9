"""How fast is ``loomgit.load()``? Cold and warm, from the repository and from a bundle.

Builds a throwaway repository with N prompts, promotes them all to staging and
production (one commit each, git plumbing only), exports a bundle, then times:

- warm ``load(id, repo=...)`` and ``load(id, bundle=...)`` (the target: <= 1 ms per call),
- cold loads (cache cleared: ref read, manifest, blob, parse),
- baselines measured in the same run: a plain dict look-up, reading the bundle with
  ``json.load`` on every call, and one ``git cat-file`` process per call (what a loader
  without a cache would pay).

Run: ``.venv/bin/python bench/bench_load.py [--prompts 200] [--calls 20000]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = """---
description: prompt {i}
model: openai/gpt-4o-mini
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


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def per_call(fn: Callable[[], object], calls: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the mean seconds per call."""
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls)
    return statistics.median(times)


def fmt(s: float) -> str:
    return f"{s * 1e6:9.2f} µs"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=200)
    ap.add_argument("--calls", type=int, default=20000)
    args = ap.parse_args()

    import loomgit
    from loomgit.app.bundle import clear_cache
    from loomgit.app.export import export_bundle, write_bundle
    from loomgit.stages.promote import write
    from loomgit.stages.source import at_commit
    from loomgit.workspace import Workspace

    env = {
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    os.environ.update(env)
    with tempfile.TemporaryDirectory(prefix="loomgit-bench-load-") as tmp:
        repo = Path(tmp) / "repo"
        (repo / "prompts").mkdir(parents=True)
        git("init", "-q", "-b", "main", cwd=repo)
        for i in range(args.prompts):
            (repo / "prompts" / f"p{i:04d}.prompt").write_text(PROMPT.format(i=i))
        git("add", "-A", cwd=repo)
        git("commit", "-q", "-m", "prompts", cwd=repo)
        head = git("rev-parse", "HEAD", cwd=repo)
        ws = Workspace(repo)
        t0 = time.perf_counter()
        for i in range(args.prompts):
            src = at_commit(ws, f"p{i:04d}", "1.0.0", head, f"prompts/p{i:04d}.prompt", "-")
            write(ws, "staging", src)
            write(ws, "production", src)
        promote_s = (time.perf_counter() - t0) / (2 * args.prompts)
        bundle = Path(tmp) / "prompts.json"
        write_bundle(export_bundle(ws, "production"), bundle)
        ident = f"p{args.prompts // 2:04d}"

        def cold_repo() -> object:
            clear_cache()
            return loomgit.load(ident, repo=repo)

        def cold_bundle() -> object:
            clear_cache()
            return loomgit.load(ident, bundle=bundle)

        results = {
            "cold load, repo": per_call(cold_repo, 20, 3),
            "cold load, bundle": per_call(cold_bundle, 20, 3),
        }
        loomgit.load(ident, repo=repo)
        loomgit.load(ident, bundle=bundle)
        results["warm load, repo"] = per_call(lambda: loomgit.load(ident, repo=repo), args.calls)
        results["warm load, bundle"] = per_call(
            lambda: loomgit.load(ident, bundle=bundle), args.calls
        )
        d = {ident: object()}
        results["baseline: dict look-up"] = per_call(lambda: d[ident], args.calls)

        def json_each_time() -> object:
            with open(bundle, encoding="utf-8") as f:
                return json.load(f)["prompts"][ident]

        results["baseline: json.load per call"] = per_call(json_each_time, 200, 3)
        blob = f"refs/heads/stage/production:prompts/{ident}.prompt"
        results["baseline: git cat-file per call"] = per_call(
            lambda: subprocess.run(
                ["git", "cat-file", "blob", blob], cwd=repo, capture_output=True, check=True
            ),
            50,
            3,
        )
        p = loomgit.load(ident, repo=repo)
        results["render (not cached, for scale)"] = per_call(lambda: p.render(ticket="x"), 200, 3)

    print(f"loomgit.load() with {args.prompts} prompts on the stage")
    print(f"promote (library, one commit each):   {fmt(promote_s)}")
    width = max(map(len, results))
    for name, s in results.items():
        print(f"{name:<{width}}  {fmt(s)}")
    warm = max(results["warm load, repo"], results["warm load, bundle"])
    print()
    print(
        f"warm load vs json.load per call:  {results['baseline: json.load per call'] / warm:8.0f}x faster"
    )
    print(
        f"warm load vs git cat-file per call:{results['baseline: git cat-file per call'] / warm:8.0f}x faster"
    )
    print(
        f"warm load vs dict look-up:        {warm / results['baseline: dict look-up']:8.1f}x slower"
    )
    ok = warm <= 1e-3
    print(f"target warm <= 1 ms per call: {'met' if ok else 'NOT met'} ({warm * 1e3:.4f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
