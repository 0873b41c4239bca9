"""How fast is rendering a prompt in process? The plain case every eval case and
``render`` pays, and (when the tree has them) conversation placeholders and content parts.

Times, as the median over rounds of the mean per call:

- ``plain``: a two-message prompt with two variables (the usual prompt),
- ``history``: the same prompt with a ``messages`` placeholder given 6 turns,
- ``image``: the same prompt with ``{{ image(...) }}`` of a tracked 20 kB PNG,
- the baseline, measured in the same run: the same two templates rendered directly by a
  bare Jinja2 sandboxed environment (compiled once), so the ratio says what loomgit's
  checks, limits and message handling add.

Run: ``.venv/bin/python bench/bench_render.py [--calls 5000] [--rounds 7]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLAIN = """---
variables:
  ticket: {type: string, required: true}
  tone: {type: string, enum: [formal, casual], default: formal}
---
system:
You are an on-call assistant. Answer in a {{ tone }} tone.

user:
Summarize this ticket: {{ ticket }}
"""

HISTORY = """---
variables:
  ticket: {type: string, required: true}
  tone: {type: string, enum: [formal, casual], default: formal}
  history: {type: messages, default: []}
---
system:
You are an on-call assistant. Answer in a {{ tone }} tone.

{{ history }}

user:
Summarize this ticket: {{ ticket }}
"""

IMAGE = """---
variables:
  ticket: {type: string, required: true}
  tone: {type: string, enum: [formal, casual], default: formal}
---
system:
You are an on-call assistant. Answer in a {{ tone }} tone.

user:
Summarize this ticket: {{ ticket }}
{{ image("prompts/shot.png") }}
"""

TURNS = [
    {"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} of the talk"}
    for i in range(6)
]


def png(size: int) -> bytes:
    """A valid PNG of about ``size`` bytes (noise does not compress)."""
    raw = os.urandom(size)
    width = 100
    rows = b"".join(b"\0" + raw[i : i + width * 3] for i in range(0, len(raw), width * 3))
    height = len(rows) // (width * 3 + 1)
    rows = rows[: height * (width * 3 + 1)]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(rows, 0))
        + chunk(b"IEND", b"")
    )


def per_call(fn: Callable[[], object], calls: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()

    import loomgit
    from loomgit.prompt import jinja

    values = {"ticket": "Printer on floor 3 is on fire", "tone": "casual"}
    plain = loomgit.parse_prompt(PLAIN, "prompts/plain.prompt")
    env = jinja.make_env()
    templates = [env.from_string(m.source) for m in plain.messages]

    def bare() -> object:
        return [t.render(**values) for t in templates]

    rows = [
        ("bare Jinja2 sandbox, 2 templates (baseline)", per_call(bare, args.calls, args.rounds)),
        ("plain prompt", per_call(lambda: plain.render(values), args.calls, args.rounds)),
    ]
    if "messages" in loomgit.prompt.parts.VARIABLE_TYPES:
        hist = loomgit.parse_prompt(HISTORY, "prompts/history.prompt")
        with_turns = {**values, "history": TURNS}
        rows.append(
            (
                "6-turn placeholder",
                per_call(lambda: hist.render(with_turns), args.calls, args.rounds),
            )
        )
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "prompts").mkdir()
            (root / "prompts" / "shot.png").write_bytes(png(20_000))
            (root / "prompts" / "image.prompt").write_text(IMAGE)
            subprocess.run(["git", "init", "-q"], cwd=root, check=True)
            subprocess.run(["git", "add", "-A"], cwd=root, check=True)
            ws = loomgit.Workspace(root)
            prompt = ws.prompt("image")
            loader = ws.loader
            rows.append(
                (
                    "image part, 20 kB PNG",
                    per_call(
                        lambda: prompt.render(values, loader=loader),
                        max(args.calls // 10, 50),
                        args.rounds,
                    ),
                )
            )
    base = rows[0][1]
    print(f"{'what':<46} {'per call':>10} {'ratio':>7}")
    for name, t in rows:
        print(f"{name:<46} {t * 1e6:>8.1f}µs {t / base:>6.2f}×")
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
