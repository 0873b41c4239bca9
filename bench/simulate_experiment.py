#!/usr/bin/env python3
"""Simulated live traffic for an A/B experiment between two prompt versions.

Builds a throwaway repository (production holds support/summarize 1.0.0, staging holds
1.1.0), declares experiments/summary-tone.yaml, then sends USERS simulated users through
``loomgit.experiment("summary-tone")``: each is assigned a variant, its prompt is rendered,
and the outcome is drawn from that variant's true success rate and recorded. Every
CHECKPOINT users it prints what ``loomgit experiment status`` says: no p-value and no
verdict before the minimum sample, then the winner with its p-value. At the end it runs
``loomgit experiment conclude summary-tone --promote`` and shows production's new version.

    python bench/simulate_experiment.py                      # 20,000 users, 20% vs 24%
    python bench/simulate_experiment.py --control 0.2 --treatment 0.2    # no real difference
    python bench/simulate_experiment.py --store postgresql://me@localhost/exp

Offline, no API key: the "model" is a coin with the variant's true rate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = """---
description: Summarize a support ticket for the on-call engineer
model: openai/gpt-4o-mini
variables:
  ticket: {type: string, required: true}
sample: {ticket: "Printer on floor 3 is on fire"}
---
system:
You are an on-call assistant.

user:
Summarize this ticket: {{ ticket }}
"""

SPEC = """\
prompt: support/summarize
description: Does asking for two sentences resolve more tickets?
variants:
  control: "@production"
  treatment: support/summarize@1.1.0
metric: {{type: rate, name: resolved}}
min_samples: {min_samples}
confidence: 0.95
promote_to: production
"""


def loomgit_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("loomgit")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "loomgit"]


def sh(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{proc.stdout}{proc.stderr}")
    return proc


def build_repo(root: Path, min_samples: int) -> None:
    git = ["git", "-c", "user.name=Sim", "-c", "user.email=sim@example.com"]
    sh(["git", "init", "-q", "-b", "main"], root)
    sh(["git", "config", "user.name", "Sim"], root)
    sh(["git", "config", "user.email", "sim@example.com"], root)
    (root / "prompts/support").mkdir(parents=True)
    (root / "prompts/support/summarize.prompt").write_text(PROMPT)
    sh([*git, "add", "-A"], root)
    sh([*git, "commit", "-qm", "add summarize"], root)
    env_git = {
        "GIT_AUTHOR_NAME": "Sim",
        "GIT_AUTHOR_EMAIL": "sim@example.com",
        "GIT_COMMITTER_NAME": "Sim",
        "GIT_COMMITTER_EMAIL": "sim@example.com",
    }
    os.environ.update(env_git)
    lg = loomgit_cmd()
    sh([*lg, "promote", "support/summarize", "1.0.0", "--to", "staging"], root)
    sh([*lg, "promote", "support/summarize", "1.0.0", "--to", "production"], root)
    (root / "prompts/support/summarize.prompt").write_text(
        PROMPT.replace("Summarize this ticket:", "Summarize this ticket in two sentences:")
    )
    sh([*git, "commit", "-qam", "summarize: two sentences"], root)
    sh([*lg, "promote", "support/summarize", "1.1.0", "--to", "staging"], root)
    (root / "experiments").mkdir()
    (root / "experiments/summary-tone.yaml").write_text(SPEC.format(min_samples=min_samples))
    sh([*git, "add", "-A"], root)
    sh([*git, "commit", "-qm", "experiment: summary-tone"], root)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--control", type=float, default=0.20, help="true success rate of 1.0.0")
    ap.add_argument("--treatment", type=float, default=0.24, help="true success rate of 1.1.0")
    ap.add_argument("--min-samples", type=int, default=2_000, help="per variant")
    ap.add_argument("--checkpoint", type=int, default=2_000, help="print status every N users")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--store", default=None, help="outcome store URL (default: SQLite in .git)")
    ap.add_argument("--keep", action="store_true", help="keep the repository afterwards")
    args = ap.parse_args()

    import loomgit

    root = Path(tempfile.mkdtemp(prefix="loomgit-sim-"))
    try:
        build_repo(root, args.min_samples)
        print(f"repository: {root}")
        print(
            f"true success rates: control (1.0.0) {args.control:.1%}, "
            f"treatment (1.1.0) {args.treatment:.1%}; min {args.min_samples} per variant\n"
        )
        rng = random.Random(args.seed)
        truth = {"control": args.control, "treatment": args.treatment}
        exp = loomgit.experiment("summary-tone", root, store=args.store)
        first_verdict = None
        t_record = 0.0
        print(
            f"{'users':>7}  {'control n':>9} {'rate':>6}  {'treatment n':>11} {'rate':>6}  "
            f"{'p-value':>8}  verdict"
        )
        for i in range(1, args.users + 1):
            unit = f"user-{i}"
            variant = exp.assign(unit)
            variant.render({"ticket": f"ticket {i}"})
            t0 = time.perf_counter()
            exp.record(variant, unit, success=rng.random() < truth[variant.name])
            t_record += time.perf_counter() - t0
            if i % args.checkpoint == 0 or i == args.users:
                st = exp.status()
                c, t = st.variant("control"), st.variant("treatment")
                p = st.comparisons[0].p_value
                print(
                    f"{i:>7}  {c.n:>9} {c.estimate or 0:>6.1%}  {t.n:>11} {t.estimate or 0:>6.1%}"
                    f"  {'-' if p is None else f'{p:.2g}':>8}  "
                    f"{st.verdict}{' (' + st.winner + ')' if st.winner else ''}"
                )
                if st.verdict != "collecting" and first_verdict is None:
                    first_verdict = (i, st.verdict, st.winner)
        print(
            f"\nrecording: {args.users / t_record:,.0f} outcomes/s in one process "
            f"({exp.store_url.split(':', 1)[0]})"
        )
        exp.close()
        if first_verdict:
            print(
                f"first verdict after {first_verdict[0]} users: {first_verdict[1]}"
                f"{' (' + str(first_verdict[2]) + ')' if first_verdict[2] else ''}"
            )
        lg = loomgit_cmd()
        extra = ["--store", args.store] if args.store else []
        print("\n$ loomgit experiment status summary-tone")
        print(sh([*lg, "experiment", "status", "summary-tone", *extra], root).stdout)
        print("$ loomgit experiment conclude summary-tone --promote")
        done = sh(
            [*lg, "experiment", "conclude", "summary-tone", "--promote", *extra], root, check=False
        )
        print(done.stdout + done.stderr)
        stages = json.loads(sh([*lg, "stages", "--json"], root).stdout)["stages"]
        prod = next(s for s in stages if s["stage"] == "production")
        print("production now holds:", {k: v["version"] for k, v in prod["prompts"].items()})
        print(sh(["git", "log", "-1", "--format=%B", prod["branch"]], root).stdout)
        return done.returncode
    finally:
        if args.keep:
            print(f"\nkept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
