"""How fast does the review page of a 5,000-case result open in a real browser?

Writes a compare result of N cases (``tests/viewer_data.py``: the JSON shape of
``loomgit eval --compare BASE -o F``, one model, answers of 20-40 words, every 7th case a
regression, every 5th reworded), builds the page with ``loomgit report --html F
--results R.json`` (timed: the CLI process from start to the file written), then opens it
in headless Chromium (``tests/browser.py``, over the DevTools pipe) and times, as the
browser's clock measures it, navigation start to the first frame painted after the load
event. Each open is a new tab; the median of ``--rounds`` opens is reported.

Baselines measured in the same run and the same browser: a page of the same size in
bytes that is only text in one ``<pre>`` (what parsing and painting that many bytes
costs with no table to lay out), and the review page of 100 cases. Beside wall time it
prints the CPU seconds Chromium's processes spent, which a loaded machine inflates less.

Target (issue: "the viewer for it opens in Chromium in under 2 s"): the 5,000-case page
under 2 s.

Run: ``.venv/bin/python bench/bench_viewer.py [--cases 5000] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import html
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser import Browser, find_chromium  # noqa: E402
from viewer_data import compare_result  # noqa: E402


def build(cases: int, folder: Path) -> tuple[Path, float]:
    """The review page of ``cases`` cases, and the seconds the CLI took to write it."""
    src = folder / f"compare-{cases}.json"
    src.write_text(json.dumps(compare_result(cases)), encoding="utf-8")
    out = folder / f"review-{cases}.html"
    loomgit = Path(sys.executable).with_name("loomgit")
    t = time.perf_counter()
    subprocess.run(
        [str(loomgit), "report", "--html", str(out), "--results", str(src)],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return out, time.perf_counter() - t


def first_open(browser: Browser, page: Path, rounds: int) -> tuple[list[float], list[float]]:
    """Navigation start to the first frame after load, in a fresh tab each time, and
    the CPU seconds Chromium's processes spent on it."""
    wall, cpu = [], []
    for _ in range(rounds):
        before = browser.cpu_seconds()
        tab = browser.open(page, width=1280, height=900)
        wall.append(tab.load_s)
        cpu.append(browser.cpu_since(before))
        tab.close()
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if find_chromium() is None:
        print("no chromium found (apt-get install -y chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="lgview.") as tmp:
        folder = Path(tmp)
        big, build_big = build(args.cases, folder)
        small, build_small = build(100, folder)
        text = folder / "text.html"
        body = html.escape(big.read_text(encoding="utf-8"))
        text.write_text(f"<!DOCTYPE html><title>t</title><pre>{body}</pre>", encoding="utf-8")
        size = big.stat().st_size
        with Browser() as browser:
            first_open(browser, small, 1)  # warm the browser up
            walls, cpus = {}, {}
            for name, page in (("text", text), ("small", small), ("big", big)):
                walls[name], cpus[name] = first_open(browser, page, args.rounds)
            probe = browser.open(big, width=1280, height=900)
            shown = probe.evaluate("document.querySelectorAll('tbody tr').length")
            probe.close()
    wall = {k: statistics.median(v) for k, v in walls.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    load = os.getloadavg()[0]
    print(f"review page of {args.cases:,} cases: {size / 1e6:.1f} MB, {shown:,} rows")
    print(
        f"  written by `loomgit report --html`: {build_big:.2f} s (100 cases: {build_small:.2f} s)"
    )
    print(f"  opens in Chromium, median of {args.rounds} (wall: navigation to the first frame")
    print(
        f"  after load; cpu: Chromium's processes; load average {load:.1f} on {os.cpu_count()} cores):"
    )
    for name, label in (
        ("big", f"{args.cases:,} cases"),
        ("small", "100 cases"),
        ("text", "same bytes as plain text"),
    ):
        print(f"    {label:<26} wall {wall[name]:5.2f} s   cpu {cpu[name]:5.2f} s")
    print(
        f"  the review page against plain text of its size: wall "
        f"{wall['big'] / wall['text']:.1f}x, cpu {cpu['big'] / cpu['text']:.1f}x"
    )
    print(
        f"  every open of the {args.cases:,}-case page: "
        f"{', '.join(f'{t:.2f}' for t in walls['big'])} s"
    )
    met = wall["big"] < 2
    print(
        f"  target: opens in under 2 s: {'met' if met else 'NOT met'}"
        f" (wall {wall['big']:.2f} s, cpu {cpu['big']:.2f} s)"
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
