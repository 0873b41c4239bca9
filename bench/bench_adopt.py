#!/usr/bin/env python3
"""Benchmark: adopting an existing system-prompt collection.

Generates, with ``git fast-import``, a repository shaped like a real collection of
system prompts (default: 225 prompts as ``patterns/<name>/system.md`` in markdown, a
few with a ``user.md`` beside them, some using Jinja, most plain text; 2,800 commits,
about a third of them touching only code and docs; one restructure, made on a branch
and merged, moving every prompt folder to ``data/patterns/``). The repository's
``loomgit.yaml`` knows only the current layout (``data/patterns/*/system.md``), so the
history before the restructure is found by following the moves.

Times, in the same run (medians of ``--repeat`` runs):

- the baseline: ``git log -z --raw -M --first-parent`` over both layouts' paths plus one
  ``git cat-file --batch`` of every blob it names (what any tool needs to read to give
  these prompts their whole history);
- ``loomgit list --json`` cold (no history cache);
- ``loomgit check`` of the whole repository, cold (it reads the history too, to warn
  about moves it cannot follow), and warm.

Targets (issue 16): cold list <= 1 s, check <= 1 s.

    .venv/bin/python bench/bench_adopt.py
    .venv/bin/python bench/bench_adopt.py --repeat 7 --repo /tmp/adopt   # keep/reuse it
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
from pathlib import Path

from baseline import blob_ids, cat_blobs, git_log, med, timed

LOOMGIT = [sys.executable, "-m", "loomgit"]
OLD, NEW = "patterns/*/system.md", "data/patterns/*/system.md"
ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="Bench",
    GIT_AUTHOR_EMAIL="bench@example.com",
    GIT_COMMITTER_NAME="Bench",
    GIT_COMMITTER_EMAIL="bench@example.com",
    GIT_CONFIG_NOSYSTEM="1",
    NO_COLOR="1",
)
VERBS = "analyze extract summarize create improve explain rate write find label check".split()
NOUNS = (
    "paper code prose claims risks wisdom threat_model logs incident essay tweet pr "
    "meeting video lecture contract email story poem report sales_call"
).split()
WORDS = (
    "take a deep breath and think step by step about the input carefully extract every "
    "idea insight quote habit fact reference recommendation from the content output only "
    "markdown bullet points never repeat yourself do not give warnings or notes"
).split()


def sentence(rng: random.Random, n: int = 14) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


class Pattern:
    def __init__(self, rng: random.Random, i: int) -> None:
        self.name = f"{VERBS[i % len(VERBS)]}_{NOUNS[(i // len(VERBS)) % len(NOUNS)]}_{i}"
        self.jinja = i % 5 == 0  # a fifth use variables, the rest are plain text
        self.sections = {
            "IDENTITY and PURPOSE": [sentence(rng) for _ in range(3)],
            "STEPS": [sentence(rng) for _ in range(rng.randint(3, 8))],
            "OUTPUT INSTRUCTIONS": [sentence(rng) for _ in range(rng.randint(3, 6))],
        }
        self.user = rng.random() < 0.2

    def text(self) -> str:
        out = []
        for title, items in self.sections.items():
            out.append(f"# {title}\n\n" + "".join(f"- {s}\n" for s in items))
        if self.jinja:
            out.append(
                "# INPUT\n\n{% if language %}Answer in {{ language }}.\n{% endif %}"
                "INPUT: {{ input }}\n"
            )
        else:
            out.append("# INPUT\n\nINPUT:\n")
        return "\n".join(out)

    def edit(self, rng: random.Random) -> None:
        items = self.sections[rng.choice(list(self.sections))]
        r = rng.random()
        if r < 0.5 or len(items) < 2:
            items.append(sentence(rng))
        elif r < 0.8:
            items[rng.randrange(len(items))] = sentence(rng)
        else:
            items.pop(rng.randrange(len(items)))


def generate(path: Path, n_prompts: int, n_commits: int, seed: int = 16) -> None:
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=ENV)
    pats = [Pattern(rng, i) for i in range(n_prompts)]
    ts = 1_600_000_000
    out: list[bytes] = []
    mark = 0
    root = "patterns"

    def blob(p: str, text: str) -> bytes:
        b = text.encode()
        return f"M 100644 inline {p}\n".encode() + b"data %d\n" % len(b) + b + b"\n"

    def commit(ref: str, msg: str, ops: list[bytes], head: str = "") -> int:
        nonlocal ts, mark
        ts += 900
        mark += 1
        m = msg.encode()
        out.append(f"commit {ref}\nmark :{mark}\n".encode())
        out.append(f"author Bench <bench@example.com> {ts} +0000\n".encode())
        out.append(f"committer Bench <bench@example.com> {ts} +0000\n".encode())
        out.append(b"data %d\n" % len(m) + m + b"\n" + head.encode())
        out.extend(ops)
        return mark

    def write(p: Pattern) -> list[bytes]:
        ops = [blob(f"{root}/{p.name}/system.md", p.text())]
        if p.user:
            ops.append(blob(f"{root}/{p.name}/user.md", "CONTENT:\n"))
        return ops

    made = 0
    code = 0
    restructure_at = int(n_commits * 0.8)
    added = 0
    readme = [sentence(rng) for _ in range(20)]
    while made < n_commits - 2:
        if made == restructure_at:  # a branch that moves every folder, merged with --no-ff
            main_tip = mark
            side = commit(
                "refs/heads/restructure",
                "restructure: move patterns under data/",
                [b"R patterns data/patterns\n"],
                head=f"from :{main_tip}\n",
            )
            commit(
                "refs/heads/main",
                "Merge pull request #1 from restructure",
                [b"R patterns data/patterns\n"],
                head=f"from :{main_tip}\nmerge :{side}\n",
            )
            root = "data/patterns"
            made += 2
            continue
        if added < n_prompts and (made < 40 or rng.random() < 0.15):
            k = min(n_prompts - added, rng.randint(1, 6))
            ops = [op for p in pats[added : added + k] for op in write(p)]
            added += k
            commit("refs/heads/main", f"add {k} patterns", ops)
        elif rng.random() < 0.35:
            code += 1
            readme[rng.randrange(len(readme))] = sentence(rng)
            ops = [
                blob(f"cmd/tool/file{code % 40}.go", f"package main\n// rev {code}\n"),
                blob("README.md", "\n".join(readme) + "\n"),
            ]
            commit("refs/heads/main", f"code: change {code}", ops)
        else:
            live = pats[: max(added, 1)]
            chosen = rng.sample(live, min(len(live), rng.randint(1, 3)))
            for p in chosen:
                p.edit(rng)
            ops = [op for p in chosen for op in write(p)]
            commit("refs/heads/main", f"update {', '.join(p.name for p in chosen)}", ops)
        made += 1
    rest = pats[added:]
    commit("refs/heads/main", "add the rest", [op for p in rest for op in write(p)] or [])
    config = f'prompts:\n  - {{glob: "{NEW}", id: "{{1}}"}}\n'
    commit("refs/heads/main", "adopt loomgit", [blob("loomgit.yaml", config)])
    stream = b"".join(out)
    subprocess.run(["git", "fast-import", "--quiet"], input=stream, cwd=path, check=True, env=ENV)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True, env=ENV)


def loomgit(repo: Path, *args: str, ok: tuple[int, ...] = (0,)) -> bytes:
    proc = subprocess.run([*LOOMGIT, *args], cwd=repo, capture_output=True, env=ENV)
    if proc.returncode not in ok:
        raise SystemExit(f"loomgit {' '.join(args)} failed: {proc.stderr.decode()}")
    return proc.stdout


def clear_cache(repo: Path) -> None:
    shutil.rmtree(repo / ".git" / "loomgit" / "history", ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=225)
    ap.add_argument("--commits", type=int, default=2800)
    ap.add_argument("--repeat", type=int, default=5, help="runs per measurement (median)")
    ap.add_argument("--repo", type=Path, help="where to build (reused if it exists)")
    args = ap.parse_args()
    tmp = None
    if args.repo is None:
        tmp = tempfile.mkdtemp(prefix="loomgit-adopt-")
        repo = Path(tmp) / "repo"
    else:
        repo = args.repo
    try:
        if not (repo / ".git").exists():
            generate(repo, args.prompts, args.commits)
        n_commits = subprocess.run(
            ["git", "rev-list", "--count", "HEAD"], cwd=repo, capture_output=True, text=True
        ).stdout.strip()
        log = git_log(repo, [OLD, NEW], ENV)
        ids = blob_ids(log)
        log_s, log_c = med(timed(lambda: git_log(repo, [OLD, NEW], ENV), args.repeat))
        blob_s, blob_c = med(timed(lambda: cat_blobs(repo, ids, ENV), args.repeat))
        base, base_c = log_s + blob_s, log_c + blob_c

        def cold_list() -> None:
            clear_cache(repo)
            loomgit(repo, "list", "--json")

        def cold_check() -> None:
            clear_cache(repo)
            loomgit(repo, "check", ok=(0, 1))

        list_s, list_c = med(timed(cold_list, args.repeat))
        check_s, check_c = med(timed(cold_check, args.repeat))
        cfg = repo / "loomgit.yaml"
        current = cfg.read_text()
        cfg.write_text(current + f'  - {{glob: "{OLD}", id: "{{1}}"}}\n')
        try:  # the workaround the follow replaces: the old layout as a second glob
            both_s, both_c = med(timed(cold_list, args.repeat))
        finally:
            cfg.write_text(current)
        loomgit(repo, "list", "--json")
        warm_s, warm_c = med(timed(lambda: loomgit(repo, "check", ok=(0, 1)), args.repeat))
        rows = json.loads(loomgit(repo, "list", "--json"))
        longest = max(rows, key=lambda r: r["version"] or "")
        n_vs = max(len(json.loads(loomgit(repo, "log", r["id"], "--json"))) for r in rows[:20])
        print(
            f"repository: {n_commits} commits, {len(rows)} prompts listed, "
            f"{len(ids)} prompt blobs (both layouts); up to {n_vs} versions per prompt "
            f"(e.g. {longest['id']} at {longest['version']}); medians of {args.repeat} runs\n"
        )
        print(f"{'':44} {'wall':>8} {'CPU':>8} {'ratio':>7}")

        def row(name: str, s: float, c: float, ratio: bool = True) -> None:
            r = f"{s / base:6.2f}x" if ratio else ""
            print(f"{name:44} {s:7.3f}s {c:7.3f}s {r:>7}")

        row("baseline: git log -z --raw -M (both globs)", log_s, log_c, False)
        row("baseline: cat-file --batch of its blobs", blob_s, blob_c, False)
        row("baseline total", base, base_c)
        row("loomgit list --json, cold", list_s, list_c)
        row("  same, both layouts as globs (nothing to follow)", both_s, both_c)
        row("loomgit check (all files), cold", check_s, check_c)
        row("loomgit check (all files), warm", warm_s, warm_c)
        print("\ntargets (issue 16): cold list <= 1 s, check <= 1 s")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
