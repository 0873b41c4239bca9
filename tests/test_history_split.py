"""A long cold pass folded in two processes gives the state one process gives, byte for
byte: on a history with renames, deletions, re-adds, ids from frontmatter, an old id
taken by a new prompt, partials that change, and a partial first included late (whose
round is folded again in one process)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys

import pytest
from conftest import GitRepo

PARTIALS = ["prompts/shared/tone.md", "prompts/shared/rules.md"]
LATE = "prompts/shared/late.md"


def body(rng: random.Random, n: int, includes: list[str], ident: str | None) -> str:
    head = f"---\nid: {ident}\n---\n" if ident else ""
    if rng.random() < 0.3:
        head = (head[:-4] if head else "---\n") + "variables:\n  q: {type: string}\n---\n"
    inc = "".join(f"{{% include '{p}' %}}\n" for p in includes)
    loop = "{% for t in items %}- {{ t | upper }}{% endfor %}\n" if n % 3 else ""
    return f"{head}{inc}Answer {{{{ q }}}} well, edit {n}.\n{loop}"


def build(repo: GitRepo, commits: int = 70, seed: int = 7) -> None:
    rng = random.Random(seed)
    repo.commit("partials", {p: f"{p} v0 {{{{ tone }}}}\n" for p in PARTIALS})
    live: dict[str, list[str]] = {}  # path -> its includes
    ids: dict[str, str | None] = {}
    gone: list[str] = []
    for i in range(6):
        path = f"prompts/p{i}.prompt"
        live[path], ids[path] = [PARTIALS[i % 2]], None
        repo.write({path: body(rng, 0, live[path], None)})
    repo.commit("prompts")
    for n in range(1, commits):
        op = rng.random()
        path = rng.choice(sorted(live))
        if n == commits // 2:
            repo.commit("late partial", {LATE: "Late {{ extra }}\n"})
            live[path].append(LATE)
            repo.commit("use late", {path: body(rng, n, live[path], ids[path])})
            continue
        if op < 0.45:
            if rng.random() < 0.25:  # the other partial instead
                live[path] = [p for p in PARTIALS if p not in live[path]][:1] or [PARTIALS[0]]
            repo.commit(f"edit {n}", {path: body(rng, n, live[path], ids[path])})
        elif op < 0.55:
            p = rng.choice(PARTIALS)
            repo.commit(f"partial {n}", {p: f"{p} v{n} {{{{ tone }}}}\n"})
        elif op < 0.65:  # a move: same text, new path
            new = f"prompts/moved/m{n}.prompt"
            (repo.path / new).parent.mkdir(parents=True, exist_ok=True)
            repo.git("mv", path, new)
            repo.commit(f"move {n}")
            live[new], ids[new] = live.pop(path), ids.pop(path)
        elif op < 0.72 and len(live) > 3:
            repo.git("rm", "-q", path)
            repo.commit(f"delete {n}")
            gone.append(path)
            live.pop(path)
            ids.pop(path)
        elif op < 0.8 and gone:  # back again, or its old name taken by a new prompt
            back = gone.pop()
            live[back], ids[back] = [rng.choice(PARTIALS)], None
            repo.commit(f"re-add {n}", {back: body(rng, n, live[back], None)})
        elif op < 0.88:  # the id moves into frontmatter, or out of it
            ids[path] = None if ids[path] else f"named/x{n}"
            repo.commit(f"id {n}", {path: body(rng, n, live[path], ids[path])})
        else:  # two prompts in one commit
            other = rng.choice(sorted(live))
            repo.write({path: body(rng, n, live[path], ids[path])})
            repo.commit(f"both {n}", {other: body(rng, n + 1, live[other], ids[other])})


RUN = """
import sys
import loomgit.history.rounds as rounds, loomgit.history.split as split
split.PROCESSES_AT, rounds.SPLIT_AT = int(sys.argv[1]), int(sys.argv[2])
counts = {"two": 0, "again": 0}
real = split.fold_in_two
def spy(*a, **kw):
    got = real(*a, **kw)
    counts["two" if got is not None else "again"] += 1
    return got
split.fold_in_two = spy
if sys.argv[3] == "disagree":
    shared = split.shared
    split.shared = lambda f: shared(f) + str(f.share)
if sys.argv[3] == "child-fails":
    result = split._result
    def failing(folder, done):
        if folder.share == (2, 1):
            raise OSError("the child cannot write")
        return result(folder, done)
    split._result = failing
if sys.argv[3] == "no-fork":
    import os
    def refuse():
        raise BlockingIOError(11, "Resource temporarily unavailable")
    os.fork = refuse
if sys.argv[3] == "threads":
    import threading
    threading.Thread(target=threading.Event().wait, daemon=True).start()
from loomgit.cli import main
try:
    main(["list", "--json"])
finally:
    print(counts["two"], counts["again"], file=sys.stderr)
"""


def cold(
    repo: GitRepo, processes_at: int = 1, split_at: int = 10**9, how: str = ""
) -> tuple[str, dict[str, bytes], tuple[int, int]]:
    """A cold ``list --json`` in a new process: its output, every cache file it wrote,
    and how many rounds came from two processes and how many were folded again in one."""
    store = repo.path / ".git" / "loomgit"
    shutil.rmtree(store, ignore_errors=True)
    proc = subprocess.run(
        [sys.executable, "-c", RUN, str(processes_at), str(split_at), how],
        cwd=repo.path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    two, again = map(int, proc.stderr.split()[-2:])
    files = {str(p.relative_to(store)): p.read_bytes() for p in store.rglob("*") if p.is_file()}
    return proc.stdout, files, (two, again)


def test_two_processes_make_the_state_one_makes(repo: GitRepo) -> None:
    build(repo)
    out, two, (merged, again) = cold(repo)
    assert merged >= 1  # the last round came from two processes
    assert again >= 1  # the round that met the late partial was folded again in one
    assert any(name.endswith(".lines.jsonl") for name in two) and '"version"' in out
    assert cold(repo, split_at=10)[:2] == (out, two)  # git's log read in two halves too
    out1, one, (merged1, _) = cold(repo, processes_at=10**9)
    assert merged1 == 0 and out1 == out
    assert sorted(one) == sorted(two)
    for name in one:
        assert one[name] == two[name], name


@pytest.mark.parametrize("how", ["disagree", "child-fails", "no-fork"])
def test_a_round_the_processes_cannot_share_is_folded_again_in_one(repo: GitRepo, how: str) -> None:
    """The digests differ, the child dies, or the system refuses a fork: the same
    state, from one process."""
    build(repo, commits=30, seed=3)
    out, files, (merged, again) = cold(repo, how=how)
    assert merged == 0 and again >= 1
    assert cold(repo, processes_at=10**9)[:2] == (out, files)


def test_a_process_running_other_threads_folds_in_one(repo: GitRepo) -> None:
    """A fork copies only the thread that calls it (``loomgit serve`` runs several)."""
    build(repo, commits=30, seed=5)
    out, files, (merged, again) = cold(repo, how="threads")
    assert merged == 0 and again == 0  # known before the round begins
    assert cold(repo)[:2] == (out, files)


def test_a_restructure_into_the_globs_folds_as_in_one_process(repo: GitRepo) -> None:
    """A commit that moves a dozen prompts into the globs from outside them stops the
    round (its old paths must be read too); the next round is split again."""
    names = [f"n{i}" for i in range(12)]
    for n in range(8):  # a prompt in the new layout from the start: the move comes late
        repo.commit(f"base {n}", {"data/patterns/base/system.md": f"# base\n\nedit {n}\n"})
    for n in range(4):
        for name in names[n % 2 :: 2]:
            rules = "".join(f"- rule {k} of {name}\n" for k in range(n + 1))
            repo.write({f"patterns/{name}/system.md": f"# {name}\n\n{rules}"})
        repo.commit(f"edits {n}")
    repo.write({"loomgit.yaml": 'prompts:\n  - {glob: "data/patterns/*/system.md", id: "{1}"}\n'})
    for name in names:
        repo.git("mv", f"patterns/{name}", f"data/patterns/{name}")
    repo.commit("move the patterns under data/")
    repo.commit("after", {"data/patterns/n0/system.md": "# n0\n\nnew\n"})
    out, files, (merged, _) = cold(repo)
    assert merged >= 2  # the round the move stopped, and the one after it
    assert cold(repo, processes_at=10**9)[:2] == (out, files)
    rows = {r["id"]: r for r in json.loads(out)}
    # followed back through the move: two versions before it, a patch for it
    assert rows["n0"]["version"] == "1.2.0" and rows["n1"]["version"] == "1.1.1"


def test_a_pass_leaves_the_garbage_collector_as_it_found_it(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fold raises the collector's thresholds and freezes what it holds before a
    fork; a library caller's settings are back afterwards, also when the fold fails."""
    import gc

    import loomgit.history.split as split
    from loomgit.history import history
    from loomgit.workspace import Workspace

    build(repo, commits=12, seed=2)
    monkeypatch.setattr(split, "PROCESSES_AT", 1)
    before = gc.get_threshold()
    history(Workspace(repo.path))
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    from loomgit.history.fold import Folder

    def fail(self, c):  # type: ignore[no-untyped-def]
        raise RuntimeError("the fold fails")

    monkeypatch.setattr(Folder, "apply", fail)
    repo.commit("one more", {"prompts/p0.prompt": "Hi {{ q }}\n"})
    with pytest.raises(RuntimeError):
        history(Workspace(repo.path))
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
