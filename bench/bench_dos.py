"""Denial-of-service payloads through the real CLI: time and peak memory of each.

Every YAML bomb and deep nesting (in a prompt's frontmatter via ``check``, ``render`` and
``list`` from history, in a suite, in ``loomgit.yaml``) and every render-limit payload
(``render``) of the bad-input corpus (tests/corpus/security/payloads.py) runs as its own
child process in a fresh repository; the table gives the wall time and the child's peak
resident memory (``ru_maxrss``), against the targets: refused in < 1 s, under 200 MB.

Usage: python bench/bench_dos.py [--markdown]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIME_S, MEMORY_MB = 1.0, 200.0
SUMMARIZE = (
    "---\nid: support/summarize\nvariables:\n  ticket: {type: string}\n---\nuser:\n{{ ticket }}\n"
)


def _payloads() -> object:
    path = ROOT / "tests" / "corpus" / "security" / "payloads.py"
    spec = importlib.util.spec_from_file_location("payloads", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _repo(base: Path, name: str, files: dict[str, str], then: dict[str, str] | None) -> Path:
    repo = base / name
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    for step in (files, then):
        if step is None:
            continue
        for rel, text in step.items():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            (repo / rel).write_text(text, encoding="utf-8")
        _git(repo, "add", "-A")
        _git(repo, "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "x")
    return repo


def _measure(repo: Path, args: list[str]) -> tuple[float, float, float, int]:
    """(wall s, CPU s, peak MB of the child, exit code) of one ``loomgit ARGS``."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "loomgit", *args],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def _cases(p: object) -> list[tuple[str, dict[str, str], dict[str, str] | None, list[str]]]:
    out = []
    fixed = {"prompts/bomb.prompt": p.prompt("model: openai/gpt-4o-mini\n")}  # type: ignore[attr-defined]
    for name, (fm, _line, _words) in sorted(p.YAML.items()):  # type: ignore[attr-defined]
        bomb = {"prompts/bomb.prompt": p.prompt(fm)}  # type: ignore[attr-defined]
        out.append((f"yaml {name}: check", bomb, None, ["check", "prompts/bomb.prompt"]))
        out.append((f"yaml {name}: render", bomb, None, ["render", "prompts/bomb.prompt"]))
        out.append((f"yaml {name}: list (history)", bomb, fixed, ["list"]))
        suite = {
            "prompts/support/summarize.prompt": SUMMARIZE,
            "prompts/support/summarize.tests.yaml": fm + "cases:\n  - name: a\n",
        }
        out.append((f"yaml {name}: suite check", suite, None, ["check"]))
        out.append((f"yaml {name}: loomgit.yaml", {"loomgit.yaml": fm}, None, ["list"]))
    for name, expr in sorted(p.RENDER.items()):  # type: ignore[attr-defined]
        files = {"prompts/dos.prompt": f"---\nid: dos\n---\nuser:\n{expr}\n"}
        out.append((f"render {name}", files, None, ["render", "prompts/dos.prompt"]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    opts = ap.parse_args()
    p = _payloads()
    head = ["payload", "wall s", "CPU s", "peak MB", "exit", "target", "result"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LOOMGIT_HOME"] = str(Path(tmp) / "home")
        floor = _measure(_repo(Path(tmp), "floor", {"x": "x"}, None), ["--version"])
        for i, (label, files, then, args) in enumerate(_cases(p)):
            wall, cpu, mb, code = _measure(_repo(Path(tmp), f"r{i}", files, then), args)
            want = (0,) if then is not None else (1, 2)  # history: listed; else refused
            ok = cpu < TIME_S and mb < MEMORY_MB and code in want
            target = f"< {TIME_S:.0f} s CPU, < {MEMORY_MB:.0f} MB"
            result = "pass" if ok else "FAIL"
            rows.append(
                [label, f"{wall:.2f}", f"{cpu:.2f}", f"{mb:.0f}", str(code), target, result]
            )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for n, row in enumerate([head, *rows]):
        if opts.markdown:
            print("| " + " | ".join(row) + " |")
            if n == 0:
                print("|" + "---|" * len(head))
        else:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    print(
        f"(floor: loomgit --version {floor[0]:.2f} s wall, {floor[1]:.2f} s CPU, "
        f"{floor[2]:.0f} MB; load average {os.getloadavg()[0]:.1f}; wall time on a busy "
        "machine includes waiting for a core, so the target is judged on CPU time)"
    )
    return 0 if all(r[-1] == "pass" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
