"""What tracing costs ``LoadedPrompt.render()``: warm renders per call, with
``opentelemetry`` not importable, with the API installed but no tracer provider set, and
with the SDK recording every span (for scale), each in a fresh process.

With ``--baseline-src DIR`` (a checkout of loomgit without tracing, e.g. the previous
release) the same renders run against that code too, interleaved round by round in the
same run, so the ratios do not drift with the machine's load.

Run: ``.venv/bin/python bench/bench_tracing.py [--baseline-src DIR] [--calls 5000]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROMPT = """---
model: openai/gpt-4o-mini
variables:
  ticket: {type: string, required: true}
  tone: {type: string, enum: [formal, casual], default: formal}
---
system:
You are an on-call assistant. Answer in a {{ tone }} tone.

user:
Summarize this ticket: {{ ticket }}
"""

CHILD = r"""
import sys, time
MODE, CALLS = sys.argv[1], int(sys.argv[2])
if MODE == "hidden":
    class Hide:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "opentelemetry":
                raise ImportError(name)
    sys.meta_path.insert(0, Hide())
elif MODE == "sdk":
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
    class Drop(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Drop()))
    trace.set_tracer_provider(provider)
from loomgit.app.bundle import loaded_prompt
entry = {"path": "prompts/p.prompt", "version": "1.0.0", "content_hash": "c0ffee",
         "source_commit": "0" * 40}
lp = loaded_prompt("p", entry, "production", sys.stdin.read(), {}, "bench")
for _ in range(200):
    lp.render(ticket="x")
t0 = time.perf_counter()
for _ in range(CALLS):
    lp.render(ticket="x")
print((time.perf_counter() - t0) / CALLS)
"""


def one(src: Path, mode: str, calls: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(calls)],
        input=PROMPT,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    return float(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline-src", type=Path, default=None)
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    cases: dict[str, tuple[Path, str]] = {}
    if args.baseline_src:
        cases["baseline, opentelemetry absent"] = (args.baseline_src, "hidden")
        cases["baseline, API installed"] = (args.baseline_src, "api")
    cases["opentelemetry absent"] = (ROOT, "hidden")
    cases["API installed, no provider"] = (ROOT, "api")
    cases["SDK recording every span"] = (ROOT, "sdk")
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.rounds):
        for name, (src, mode) in cases.items():
            times[name].append(one(src, mode, args.calls))
    med = {k: statistics.median(v) for k, v in times.items()}
    width = max(map(len, med))
    print(f"warm render, median of {args.rounds} processes x {args.calls} calls")
    for name, s in med.items():
        print(f"{name:<{width}}  {s * 1e6:8.2f} µs")
    if args.baseline_src:
        print()
        for ours, base in (
            ("opentelemetry absent", "baseline, opentelemetry absent"),
            ("API installed, no provider", "baseline, API installed"),
        ):
            print(f"{ours} vs baseline: {med[ours] / med[base]:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
