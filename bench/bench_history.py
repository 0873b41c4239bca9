#!/usr/bin/env python3
"""Benchmark: versions from git history on two large generated repositories.

Generates each repository with ``git fast-import`` (default: 1,000 prompts, 20,000
commits, each commit touching 1-5 prompts, some renames):

- ``jinja``: templates as real repositories write them: conditionals, loops with
  ``loop.*``, filters, ``set``/``with``, includes and macro imports of shared partials
  (which change now and then), several messages, frontmatter with a nested output schema;
  30% declare ``variables:``, the others get their interface from the templates;
- ``synthetic``: the older repository, plain text with a ``{{ var }}`` line and a
  declared ``variables:`` block;
- ``late``: the ``jinja`` prompts, whose shared text is moved into the partials by one
  refactoring commit 40% into the history (before it, nothing includes anything).

For each it times, in the same run:

- the baseline: the raw ``git log -z --raw -M`` pass over the prompt glob (and the
  partials) plus reading every blob it names through one ``git cat-file --batch`` (what
  any tool must do);
- ``loomgit list --json`` cold (no cache), warm (nothing new committed), and after one
  new commit (incremental);
- ``loomgit log ID --json`` warm.

Prints medians and ratios against the baseline. Targets (issue 15): cold <= 2x baseline,
warm <= 0.2 s.

    .venv/bin/python bench/bench_history.py                 # full size, both repositories
    .venv/bin/python bench/bench_history.py --prompts 300 --commits 6000 --kind jinja
    .venv/bin/python bench/bench_history.py --repo /tmp/big  # keep/reuse the repositories
    .venv/bin/python bench/bench_history.py --python ../other/.venv/bin/python  # other code
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from baseline import blob_ids, cat_blobs, children_cpu, git_log, med, timed

HERE = Path(__file__).resolve().parent.parent
LOOMGIT = [sys.executable, "-m", "loomgit"]
GLOB = "prompts/**/*.prompt"
PARTIAL_GLOB = "prompts/partials/*.md"
ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="Bench",
    GIT_AUTHOR_EMAIL="bench@example.com",
    GIT_COMMITTER_NAME="Bench",
    GIT_COMMITTER_EMAIL="bench@example.com",
    GIT_CONFIG_NOSYSTEM="1",
    NO_COLOR="1",
)
WORDS = (
    "ticket customer summary incident urgent billing refund login outage printer "
    "network escalate polite concise bullet answer explain context product manager "
    "engineer deploy rollback latency error warning policy review draft"
).split()
TEAMS = ["support", "sales", "ops", "eng", "legal", "hr", "finance", "search", "docs", "chat"]


def sentence(rng: random.Random, n: int = 10) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


class PromptState:
    def __init__(self, rng: random.Random, i: int) -> None:
        self.path = f"prompts/{TEAMS[i % len(TEAMS)]}/p{i:04d}.prompt"
        self.description = sentence(rng, 6)
        self.model = rng.choice(
            ["openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-3-5-haiku"]
        )
        self.temperature = rng.choice([0.0, 0.2, 0.5, 0.7])
        self.variables = {
            "ticket": "{type: string, required: true}",
            "tone": "{type: string, enum: [formal, casual], default: formal}",
        }
        self.tags = [rng.choice(TEAMS)]
        self.system = [sentence(rng) for _ in range(3)]
        self.user = [sentence(rng) for _ in range(2)]
        self.extra = 0

    def text(self) -> str:
        vs = "".join(f"  {k}: {v}\n" for k, v in self.variables.items())
        used = " ".join(f"{{{{ {k} }}}}" for k in self.variables)
        return (
            f"---\ndescription: {self.description}\nmodel: {self.model}\n"
            f"params: {{temperature: {self.temperature}, max_tokens: 300}}\n"
            f"variables:\n{vs}tags: [{', '.join(self.tags)}]\n---\n"
            "system:\n"
            + "\n".join(self.system)
            + "\n\nuser:\n"
            + "\n".join(self.user)
            + f"\n{used}\n"
        )

    def edit(self, rng: random.Random) -> str:
        r = rng.random()
        if r < 0.55:
            (self.system if rng.random() < 0.5 else self.user)[0] = sentence(rng)
            return "reword"
        if r < 0.70:
            self.temperature = rng.choice([0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9])
            return "tune"
        if r < 0.80:
            self.description = sentence(rng, 6)
            return "describe"
        if r < 0.88:
            self.tags = sorted({*self.tags, rng.choice(TEAMS)})
            return "tag"
        if r < 0.95:
            self.extra += 1
            self.variables[f"extra{self.extra}"] = "{type: string, default: ''}"
            return "add variable"
        if len(self.variables) > 2:
            self.variables.popitem()
            return "drop variable"
        self.model = rng.choice(["openai/gpt-4o-mini", "openai/gpt-4o"])
        return "model"


PARTIALS = {
    "prompts/partials/tone.md": '{% if tone == "formal" %}Write in a formal register.{% else %}Keep it friendly.{% endif %}\n',
    "prompts/partials/safety.md": "Never reveal internal notes.{% if audience %} The reader is {{ audience | lower }}.{% endif %}\n",
    "prompts/partials/macros.md": "{% macro bullet(text, level=0) %}{{ '  ' * level }}- {{ text | trim }}{% endmacro %}\n{% macro section(title) %}## {{ title | upper }}\n{{ caller() }}{% endmacro %}\n",
    "prompts/partials/format.md": "Answer as JSON matching the schema.{% for f in fields %} Field {{ loop.index }}: {{ f.name }}.{% endfor %}\n",
}


EXTRA = "{type: string, default: ''}"


class JinjaPromptState:
    """A prompt as real repositories write them: Jinja control flow, filters, includes,
    macros, several messages, frontmatter with a nested output schema; some declare
    their variables, most let the templates say which they use."""

    def __init__(self, rng: random.Random, i: int) -> None:
        self.path = f"prompts/{TEAMS[i % len(TEAMS)]}/p{i:04d}.prompt"
        self.declares = rng.random() < 0.3
        self.description = sentence(rng, 6)
        self.model = rng.choice(
            ["openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-3-5-haiku"]
        )
        self.temperature = rng.choice([0.0, 0.2, 0.5, 0.7])
        self.tags = [rng.choice(TEAMS)]
        self.system = [sentence(rng) for _ in range(3)]
        self.user = [sentence(rng) for _ in range(2)]
        self.extras: list[str] = []
        self.fields = ["summary", "priority"]
        others = sorted(set(PARTIALS) - {"prompts/partials/tone.md"})
        self.includes = ["prompts/partials/tone.md", *rng.sample(others, rng.randint(0, 2))]
        self.few_shot = rng.random() < 0.5
        self.n = 0
        self.live = True  # the partials exist (the ``late`` repository extracts them later)

    def variables(self) -> list[str]:
        v = ["ticket", "tone", "customer", "history"]
        if "prompts/partials/safety.md" in self.includes:
            v.append("audience")
        if "prompts/partials/format.md" in self.includes:
            v.append("fields")
        return v + self.extras

    def frontmatter(self) -> str:
        props = "".join(
            f"          {f}:\n            type: string\n            description: {f} of the answer\n"
            for f in self.fields
        )
        out = (
            f"description: {self.description}\nmodel: {self.model}\n"
            f"params:\n  temperature: {self.temperature}\n  max_tokens: 400\n"
            "output:\n  format: json\n  schema:\n    type: object\n"
            f"    required: [{', '.join(self.fields)}]\n    properties:\n"
            "      answer:\n        type: object\n        properties:\n"
            f"{props}"
            "      labels:\n        type: array\n        items: {type: string, enum: [bug, question, billing]}\n"
            f"tags: [{', '.join(self.tags)}]\n"
        )
        if self.declares:
            vs = {
                "ticket": "{type: string}",
                "tone": "{type: string, enum: [formal, casual], default: formal}",
                "customer": "{type: object}",
                "history": "{type: array, default: []}",
                "audience": "{type: string, default: ''}",
                "fields": "{type: array, default: []}",
            }
            out += "variables:\n" + "".join(
                f"  {k}: {vs.get(k, EXTRA)}\n" for k in self.variables()
            )
        values = {
            "ticket": "The printer is on fire",
            "tone": "formal",
            "customer": "{name: ada, vip: true}",
            "history": "[{role: user, text: hello}]",
            "audience": "engineers",
            "fields": "[{name: summary}]",
        }
        out += "sample:\n" + "".join(f"  {k}: {values.get(k, 'x')}\n" for k in self.variables())
        return out

    def text(self) -> str:
        includes = self.includes if self.live else []
        inc = "".join(f'{{% include "{p}" %}}\n' for p in includes)
        macros = "prompts/partials/macros.md" in includes
        system = (
            "system:\n"
            + "\n".join(self.system)
            + "\n"
            + inc
            + "{% set name = customer.name | default('there') | title %}\n"
            + "{% if customer.vip %}This customer is a VIP: answer {{ name }} first.{% endif %}\n"
        )
        imp = '{% from "prompts/partials/macros.md" import bullet %}\n' if macros else ""
        user = (
            "\nuser:\n"
            + imp
            + "\n".join(self.user)
            + "\nTicket: {{ ticket | trim | truncate(2000) }}\n"
            + "{% for turn in history[-5:] %}\n"
            + "{{ loop.index }}. {{ turn.role | capitalize }}: {{ turn.text | replace('\\n', ' ') }}"
            + "{% if not loop.last %};{% endif %}\n{% else %}\n(no earlier messages)\n{% endfor %}\n"
            + "{% with count = history | length %}{{ count }} earlier turns.{% endwith %}\n"
            + "".join(
                f"{{{{ {e} | default('') }}}}\n" if not macros else f"{{{{ bullet({e}) }}}}\n"
                for e in self.extras
            )
        )
        shots = ""
        if self.few_shot:
            shots = (
                "\nassistant:\n"
                + '{"summary": "{{ ticket[:40] | e }}", "priority": "{{ \'high\' if customer.vip else \'normal\' }}"}\n'
                + "\nuser:\nNow the real one, please.\n"
            )
        return f"---\n{self.frontmatter()}---\n{system}{user}{shots}"

    def edit(self, rng: random.Random) -> str:
        r = rng.random()
        if r < 0.50:
            (self.system if rng.random() < 0.5 else self.user)[rng.randrange(2)] = sentence(rng)
            return "reword"
        if r < 0.62:
            self.temperature = rng.choice([0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9])
            return "tune"
        if r < 0.70:
            self.description = sentence(rng, 6)
            return "describe"
        if r < 0.76:
            self.tags = sorted({*self.tags, rng.choice(TEAMS)})
            return "tag"
        if r < 0.84:
            self.n += 1
            self.extras.append(f"extra{self.n}")
            return "add variable"
        if r < 0.90 and self.extras:
            self.extras.pop(0)
            return "drop variable"
        if r < 0.95:
            self.n += 1
            self.fields.append(f"field{self.n}")
            return "schema"
        self.few_shot = not self.few_shot
        return "examples"


def generate(path: Path, n_prompts: int, n_commits: int, kind: str, seed: int = 7) -> None:
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=ENV)
    cls = PromptState if kind == "synthetic" else JinjaPromptState
    prompts = [cls(rng, i) for i in range(n_prompts)]
    partials = dict(PARTIALS) if kind != "synthetic" else {}
    late = int(n_commits * 0.4) if kind == "late" else 0  # where the partials are extracted
    for p in prompts:
        if late and isinstance(p, JinjaPromptState):
            p.live = False
    ts = 1_600_000_000
    out: list[bytes] = []

    def data(b: bytes) -> None:
        out.append(b"data %d\n" % len(b) + b + b"\n")

    def commit(msg: str, ops: list[bytes]) -> None:
        nonlocal ts
        ts += 600
        out.append(b"commit refs/heads/main\n")
        out.append(f"author Bench <bench@example.com> {ts} +0000\n".encode())
        out.append(f"committer Bench <bench@example.com> {ts} +0000\n".encode())
        data(msg.encode())
        out.extend(ops)

    def write_file(name: str, text: str) -> bytes:
        b = text.encode()
        return f"M 100644 inline {name}\n".encode() + b"data %d\n" % len(b) + b + b"\n"

    def write(p: PromptState | JinjaPromptState) -> bytes:
        return write_file(p.path, p.text())

    made = 0
    first = min(n_prompts // 5 or 1, n_commits // 2 or 1)
    per = -(-n_prompts // first)
    if partials and not late:
        commit("add partials", [write_file(k, v) for k, v in partials.items()])
        made += 1
    for c in range(first):
        batch = prompts[c * per : (c + 1) * per]
        if batch:
            commit(f"add {len(batch)} prompts", [write(p) for p in batch])
            made += 1
    renames = 0
    partial_every = max(n_commits // 12, 1)  # a shared partial changes about a dozen times
    while made < n_commits:
        if late and made == late:  # a refactor: shared text moves into partials
            ops = [write_file(k, v) for k, v in partials.items()]
            for p in prompts:
                if isinstance(p, JinjaPromptState):
                    p.live = True
                ops.append(write(p))
            commit("extract shared partials", ops)
            made += 1
            continue
        if partials and made % partial_every == 0 and made > late:
            name = rng.choice(sorted(partials))
            partials[name] = partials[name].rstrip("\n") + f" {sentence(rng, 4)}\n"
            commit(f"partials: reword {name}", [write_file(name, partials[name])])
            made += 1
            continue
        k = rng.randint(1, 5)
        chosen = rng.sample(prompts, k)
        ops: list[bytes] = []
        kinds = []
        for p in chosen:
            if rng.random() < 0.02:  # a move, sometimes with an edit in the same commit
                old = p.path
                p.path = f"prompts/{rng.choice(TEAMS)}/moved/{os.path.basename(old)[:-7]}-{renames}.prompt"
                renames += 1
                ops.append(f"D {old}\n".encode())
                kinds.append("move")
                if rng.random() < 0.5:
                    p.edit(rng)
            else:
                kinds.append(p.edit(rng))
            ops.append(write(p))
        commit(f"{', '.join(sorted(set(kinds)))} ({k} prompts)", ops)
        made += 1
    stream = b"".join(out)
    subprocess.run(["git", "fast-import", "--quiet"], input=stream, cwd=path, check=True, env=ENV)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True, env=ENV)
    print(
        f"generated {path} ({kind}): {n_prompts} prompts, {n_commits} commits, {renames} moves, "
        f"{len(stream) / 1e6:.0f} MB of fast-import stream"
    )


def loomgit(repo: Path, *args: str) -> bytes:
    proc = subprocess.run([*LOOMGIT, *args], cwd=repo, capture_output=True, env=ENV)
    if proc.returncode:
        raise SystemExit(f"loomgit {' '.join(args)} failed: {proc.stderr.decode()}")
    return proc.stdout


def clear_cache(repo: Path) -> None:
    shutil.rmtree(repo / ".git" / "loomgit" / "history", ignore_errors=True)


def measure(
    repo: Path, repeat: int
) -> tuple[list[tuple[str, float, float, str]], dict[str, float]]:
    log = git_log(repo, [GLOB, PARTIAL_GLOB], ENV)
    ids = blob_ids(log)
    log_s, log_c = med(timed(lambda: git_log(repo, [GLOB, PARTIAL_GLOB], ENV), repeat))
    blob_s, blob_c = med(timed(lambda: cat_blobs(repo, ids, ENV), repeat))
    base, base_c = log_s + blob_s, log_c + blob_c

    def cold() -> None:
        clear_cache(repo)
        loomgit(repo, "list", "--json")

    cold_s, cold_c = med(timed(cold, repeat))
    loomgit(repo, "list", "--json")
    warm_s, warm_c = med(timed(lambda: loomgit(repo, "list", "--json"), max(repeat, 7)))
    version_s, version_c = med(timed(lambda: loomgit(repo, "--version"), max(repeat, 7)))
    first_id = json.loads(loomgit(repo, "list", "--json"))[0]["id"]
    log_id_s, log_id_c = med(
        timed(lambda: loomgit(repo, "log", first_id, "--json"), max(repeat, 7))
    )
    n_versions = len(json.loads(loomgit(repo, "log", first_id, "--json")))
    incr: list[float] = []
    incr_cpu: list[float] = []

    def incremental() -> None:
        target = sorted(repo.glob("prompts/**/*.prompt"))[:3]
        for p in target:
            p.write_text(p.read_text().replace("system:\n", "system:\nBe brief.\n", 1))
        subprocess.run(
            ["git", "commit", "-q", "-am", "bench: one more"], cwd=repo, check=True, env=ENV
        )
        c = children_cpu()
        t = time.perf_counter()
        loomgit(repo, "list", "--json")
        incr.append(time.perf_counter() - t)
        incr_cpu.append(children_cpu() - c)
        subprocess.run(["git", "reset", "-q", "--hard", "HEAD~1"], cwd=repo, check=True, env=ENV)
        loomgit(repo, "list", "--json")  # warm again at the old head

    for _ in range(repeat):
        incremental()
    incr_s, incr_c = statistics.median(incr), statistics.median(incr_cpu)
    n_commits = int(
        subprocess.run(
            ["git", "rev-list", "--count", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            env=ENV,
        ).stdout
    )
    print(
        f"\nrepository {repo.name}: {n_commits} commits, {len(ids)} blobs; medians of "
        f"{repeat}+ runs; CPU = user+sys of every process the step ran\n"
    )
    rows = [
        ("baseline: git log -z --raw -M pass", log_s, log_c, ""),
        ("baseline: cat-file --batch of its blobs", blob_s, blob_c, ""),
        ("baseline total", base, base_c, "1.00x"),
        (
            "loomgit list --json, cold (no cache)",
            cold_s,
            cold_c,
            f"{cold_s / base:.2f}x baseline (CPU {cold_c / base_c:.2f}x)",
        ),
        (
            "loomgit list --json, after 1 new commit",
            incr_s,
            incr_c,
            f"{incr_s / base:.2f}x baseline",
        ),
        ("loomgit list --json, warm", warm_s, warm_c, f"{warm_s / base:.2f}x baseline"),
        (f"loomgit log ID --json, warm ({n_versions} versions)", log_id_s, log_id_c, ""),
        ("loomgit --version (interpreter start-up)", version_s, version_c, ""),
    ]
    print(f"  {'':<48} {'wall':>8}   {'CPU':>8}   ratio (wall)")
    for name, secs, cpu, note in rows:
        print(f"  {name:<48} {secs:7.3f}s   {cpu:7.3f}s   {note}")
    return rows, {"cold": cold_s / base, "warm": warm_s, "incr": incr_s / base}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--commits", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    ap.add_argument("--repo", type=Path, help="folder to build in (reused if it exists)")
    ap.add_argument(
        "--kind",
        choices=("jinja", "synthetic", "late", "both", "all"),
        default="both",
        help="repositories (both: jinja and synthetic; all: the three)",
    )
    ap.add_argument("--python", help="the interpreter whose loomgit is timed (default: this)")
    args = ap.parse_args()
    if args.python:
        LOOMGIT[0] = args.python

    tmp = None
    if args.repo is None:
        tmp = tempfile.mkdtemp(prefix="loomgit-bench-")
        top = Path(tmp)
    else:
        top = args.repo
    kinds = {"both": ("jinja", "synthetic"), "all": ("jinja", "synthetic", "late")}.get(
        args.kind, (args.kind,)
    )
    ok = True
    summary = []
    try:
        for kind in kinds:
            repo = top / f"{kind}-{args.prompts}x{args.commits}"
            if not (repo / ".git").exists():
                t = time.perf_counter()
                generate(repo, args.prompts, args.commits, kind)
                print(f"  (generation took {time.perf_counter() - t:.1f} s)")
            _, fig = measure(repo, args.repeat)
            summary.append((kind, fig))
            ok = ok and fig["cold"] <= 2 and fig["warm"] <= 0.2
        print()
        for kind, fig in summary:
            print(
                f"{kind}: cold {fig['cold']:.2f}x baseline (target <= 2x, stretch 1.5x): "
                f"{'met' if fig['cold'] <= 2 else 'MISSED'}; warm {fig['warm']:.3f} s "
                f"(target <= 0.2 s): {'met' if fig['warm'] <= 0.2 else 'MISSED'}; "
                f"after one commit {fig['incr']:.2f}x baseline"
            )
        return 0 if ok else 1
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
