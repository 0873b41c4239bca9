"""A cold pass covers from its first round the files the last commit's prompts include
(``loomgit.history.partials``): a partial extracted late in the history costs no second
pass, and the state is byte for byte the one the rounds make without that step, also
when the last commit names files no version uses."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GitRepo

RUN = """
import sys
import loomgit.history.rounds as rounds
from loomgit.history.fold import Folder
if sys.argv[1] == "off":
    rounds.used_at = lambda *a: set()
folded = [0]
real = Folder.apply
def counting(self, c):
    folded[0] += 1
    return real(self, c)
Folder.apply = counting
from loomgit.cli import main
try:
    main(["list", "--json"])
finally:
    print(folded[0], file=sys.stderr)
"""


def cold(repo: GitRepo, how: str = "") -> tuple[str, dict[str, bytes], int]:
    """A cold ``list --json`` in a new process (``how="off"``: without covering from the
    start): its output, every cache file, and how many commits it folded."""
    store = repo.path / ".git" / "loomgit"
    shutil.rmtree(store, ignore_errors=True)
    proc = subprocess.run(
        [sys.executable, "-c", RUN, how],
        cwd=repo.path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    files = {str(p.relative_to(store)): p.read_bytes() for p in store.rglob("*") if p.is_file()}
    return proc.stdout, files, int(proc.stderr.split()[-1])


def same_state(repo: GitRepo) -> int:
    """Assert a cold pass gives what it gives without covering from the start; returns
    how many commits it folded."""
    out, files, folded = cold(repo)
    out_off, files_off, _ = cold(repo, "off")
    assert out == out_off
    assert sorted(files) == sorted(files_off)
    for name in files:
        if name.startswith("history/shapes-"):  # a memo of what templates use, not state:
            shapes, shapes_off = json.loads(files[name]), json.loads(files_off[name])
            assert shapes_off.items() <= shapes.items()  # also the last commit's templates
        else:
            assert files[name] == files_off[name], name
    return folded


def commits(repo: GitRepo) -> int:
    got = subprocess.run(
        ["git", "rev-list", "--count", "HEAD"], cwd=repo.path, capture_output=True, text=True
    )
    return int(got.stdout)


def test_a_partial_extracted_late_is_covered_from_the_first_round(repo: GitRepo) -> None:
    """Shared text moved into a partial 30 commits in: the history is folded once (it
    was twice), and the partial's changes bump the prompts that include it."""
    for n in range(30):
        repo.commit(
            f"edit {n}", {f"prompts/p{n % 3}.prompt": f"Be polite. Answer {{{{ q }}}} ({n})\n"}
        )
    partial = "prompts/shared/tone.md"
    repo.commit(
        "extract the tone",
        {partial: "Be polite.\n"}
        | {
            f"prompts/p{i}.prompt": f"{{% include '{partial}' %}}\nAnswer {{{{ q }}}}\n"
            for i in range(3)
        },
    )
    repo.commit("reword the tone", {partial: "Be polite and brief.\n"})
    repo.commit("the tone asks", {partial: "Be {{ manner }}.\n"})
    assert same_state(repo) == commits(repo)
    assert cold(repo, "off")[2] > commits(repo)  # without it: a round to meet it, then more
    log = subprocess.run(
        [sys.executable, "-m", "loomgit", "log", "p0", "--json"],
        cwd=repo.path,
        capture_output=True,
        text=True,
    )
    got = [(v["version"], v["reasons"]) for v in json.loads(log.stdout)[:3]]
    assert got == [
        ("2.0.0", ['variable "manner" added (required)', f'included "{partial}" changed']),
        ("1.11.0", [f'included "{partial}" changed']),
        ("1.10.0", ['message "user" changed']),
    ]


def test_names_the_versions_do_not_use_fold_as_without_the_step(repo: GitRepo) -> None:
    """The last commit's prompts name files in odd ways: an include written before its
    file existed (the prompt never changed after, so no version read it), one inside a
    Jinja comment, one outside the include roots, one of a file that is a symlink. The
    pass folds again without covering from the start, and the state is the same."""
    repo.commit("early", {"prompts/x.prompt": "{% include 'prompts/shared/a.md' %} {{ q }}\n"})
    for n in range(6):
        repo.commit(f"y {n}", {"prompts/y.prompt": f"plain {{{{ r }}}} {n}\n"})
    repo.commit("a at last", {"prompts/shared/a.md": "A {{ s }}\n"})
    repo.commit(
        "odd names",
        {
            "prompts/z.prompt": "{# {% include 'prompts/shared/b.md' %} #}{% include 'notes/c.md' %}\n",
            "prompts/shared/b.md": "B\n",
            "notes/c.md": "C\n",
            "prompts/shared/real.md": "R {{ t }}\n",
        },
    )
    (repo.path / "prompts/shared/link.md").symlink_to("real.md")
    repo.commit("link", {"prompts/w.prompt": "{% include 'prompts/shared/link.md' %}\n"})
    folded = same_state(repo)
    assert folded > commits(repo)  # the first round's covering was not kept


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_mixed_history_gives_the_state_it_gives_without_the_step(
    repo: GitRepo, seed: int
) -> None:
    """Partials that include partials, a tool file, an image part, a prompt included by
    another, a partial deleted before the end, an include dropped and added again."""
    rng = random.Random(seed)
    shared = [f"prompts/shared/s{i}.md" for i in range(4)]
    tool = '{"type": "function", "function": {"name": "f%d", "parameters": {"type": "object"}}}\n'
    Path(repo.path / "prompts/img").mkdir(parents=True)
    (repo.path / "prompts/img/cat.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(40)))
    repo.commit("image", {"prompts/img/readme.txt": "images\n"})
    uses: dict[str, list[str]] = {f"prompts/p{i}.prompt": [] for i in range(5)}

    def body(path: str, n: int) -> str:
        inc = "".join(f"{{% include '{s}' %}}\n" for s in uses[path])
        extra = ""
        if path.endswith("p3.prompt") and n % 2:
            extra = "{{ image('prompts/img/cat.png') }}\n"
        if path.endswith("p4.prompt") and n % 3 == 0:
            return f"---\ntools:\n  - $ref: prompts/shared/tool.json\n---\n{inc}Go {n}\n"
        return f"{inc}{extra}Answer {{{{ q }}}} {n}\n"

    for n in range(60):
        op = rng.random()
        path = rng.choice(sorted(uses))
        if op < 0.4:
            repo.commit(f"edit {n}", {path: body(path, n)})
        elif op < 0.55:
            s = rng.choice(shared)
            nested = (
                f"{{% include '{shared[0]}' %}}" if s != shared[0] and rng.random() < 0.5 else ""
            )
            repo.commit(f"partial {n}", {s: f"{s} {n} {{{{ tone }}}}{nested}\n"})
        elif op < 0.7:
            uses[path] = sorted(set(uses[path]) ^ {rng.choice(shared)})
            repo.commit(f"uses {n}", {path: body(path, n)})
        elif op < 0.78:
            repo.commit(f"tool {n}", {"prompts/shared/tool.json": tool % n})
        elif op < 0.84:
            repo.commit(
                f"prompt include {n}",
                {"prompts/q.prompt": "{% include 'prompts/p0.prompt' %}\nThen {{ w }}\n"},
            )
        elif op < 0.9 and (repo.path / shared[3]).exists():
            repo.git("rm", "-q", shared[3])
            repo.commit(f"drop {n}")
            for p in uses:
                uses[p] = [s for s in uses[p] if s != shared[3]]
        else:
            repo.commit(f"other {n}", {f"docs/n{n % 4}.md": f"note {n}\n"})
    same_state(repo)


@pytest.mark.parametrize(
    "config",
    [
        'prompts: ["prompts/**/*.prompt"]\nincludes: [shared/]\n',  # partials beside prompts/
        'prompts: ["**/*.prompt"]\n',  # a glob from the top: the whole tree is looked in
        'prompts: ["prompts/**/*.prompt"]\nincludes: [shared]\n',  # a folder without "/"
    ],
)
def test_partials_in_the_include_folders_are_covered_from_the_start(
    repo: GitRepo, config: str
) -> None:
    repo.commit("config", {"loomgit.yaml": config})
    for n in range(12):
        repo.commit(f"edit {n}", {"prompts/p.prompt": f"Be polite. Answer {{{{ q }}}} ({n})\n"})
    repo.commit(
        "extract",
        {
            "shared/tone.md": "Be {{ manner }}.\n",
            "prompts/p.prompt": "{% include 'shared/tone.md' %}\n",
        },
    )
    repo.commit("reword", {"shared/tone.md": "Be {{ manner }}, please.\n"})
    assert same_state(repo) == commits(repo) - 1  # each once, but the first (no prompt)
