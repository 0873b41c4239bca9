"""The history cache under .git/loomgit/history/: a second call reads only new commits,
an older commit is cut from a newer state, damage is survived, settings key the cache."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest
from conftest import SUMMARIZE, GitRepo

import loomgit._git.log as gitlog
from loomgit.errors import GitError
from loomgit.history import history, versions
from loomgit.workspace import Workspace

P = "prompts/support/summarize.prompt"
# the module (``loomgit.history.versions`` as an attribute is the function of that name)
hv = importlib.import_module("loomgit.history.versions")


def bump_text(repo: GitRepo, n: int) -> str:
    f = repo.path / P
    f.write_text(SUMMARIZE.replace("Summarize this ticket", f"Summarize ticket v{n}"))
    return repo.commit(f"v{n}")


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every git log pass history makes, as its revision arguments; no in-process memo."""
    calls: list[list[str]] = []
    real = gitlog.log

    def spy(root, revs, specs, **kw):  # type: ignore[no-untyped-def]
        calls.append(list(revs))
        return real(root, revs, specs, **kw)

    monkeypatch.setattr(gitlog, "log", spy)
    monkeypatch.setattr(hv, "_MEMO", {})
    return calls


def fresh(repo: GitRepo, ident: str = "support/summarize", ref: str = "HEAD") -> list[hv.Version]:
    hv._MEMO.clear()
    return versions(Workspace(repo.path), ident, ref)


def cold(repo: GitRepo, ident: str = "support/summarize", ref: str = "HEAD") -> list[hv.Version]:
    shutil.rmtree(repo.path / ".git" / "loomgit", ignore_errors=True)
    return fresh(repo, ident, ref)


def test_second_call_reads_nothing_and_a_new_commit_only_itself(
    sample_repo: GitRepo, logs: list[list[str]]
) -> None:
    r = sample_repo
    for n in range(3):
        bump_text(r, n)
    first = fresh(r)
    assert logs == [[r.git("rev-parse", "HEAD")]]
    assert fresh(r) == first and len(logs) == 1  # warm: no git log at all
    old = r.git("rev-parse", "HEAD")
    new = bump_text(r, 9)
    got = fresh(r)
    assert logs[-1] == [new, f"^{old}"]
    assert [v.version for v in got] == ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"]
    assert got == cold(r)


def test_a_new_commit_folds_on_from_the_nearest_of_the_cached_states(
    sample_repo: GitRepo, logs: list[list[str]]
) -> None:
    """The nearest state on the first-parent line is found by walking it from the new
    commit (git is stopped there), whichever state was used last."""
    r = sample_repo
    older = bump_text(r, 1)
    fresh(r)
    newer = bump_text(r, 2)
    fresh(r)
    fresh(r, ref=older)  # the older state is now the one used last
    new = bump_text(r, 3)
    got = fresh(r)
    assert logs[-1] == [new, f"^{newer}"]
    assert got == cold(r)
    walk = gitlog.first_parent_walk(r.path, new)
    assert [next(walk), next(walk)] == [new, newer]
    walk.close()  # git stopped mid-walk: no error, nothing left running
    assert (
        list(gitlog.first_parent_walk(r.path, new))
        == r.git("rev-list", "--first-parent", new).split()
    )
    with pytest.raises(GitError, match="^git rev-list failed: "):
        list(gitlog.first_parent_walk(r.path, "0" * 40))


def test_an_older_commit_is_cut_from_a_newer_state(
    sample_repo: GitRepo, logs: list[list[str]]
) -> None:
    r = sample_repo
    r.commit("other", {"prompts/other.prompt": "Hi {{ x }}\n"})
    for n in range(4):
        bump_text(r, n)
    fresh(r)
    n_logs = len(logs)
    ws = Workspace(r.path)
    at = [(v.version, v.commit) for v in versions(ws, "support/summarize", "HEAD~2")]
    assert len(logs) == n_logs  # no new log pass
    assert at == [(v.version, v.commit) for v in cold(r, ref="HEAD~2")]
    hv._MEMO.clear()
    fresh(r)
    assert [e.id for e in history(Workspace(r.path), "HEAD~5").live()] == ["support/summarize"]


def test_branch_state_continues_from_the_main_state(
    sample_repo: GitRepo, logs: list[list[str]]
) -> None:
    r = sample_repo
    bump_text(r, 1)
    fresh(r)
    base = r.git("rev-parse", "HEAD")
    r.git("checkout", "-q", "-b", "feature")
    sha = bump_text(r, 2)
    got = fresh(r)
    assert logs[-1] == [sha, f"^{base}"]
    assert got[-1].version == f"1.2.0-dev.1+{sha[:7]}"
    assert got == cold(r)


@pytest.mark.parametrize(
    "victim,garbage",
    [
        ("idx.json", b"{not json"),
        ("idx.json", b""),
        ("idx.json", b"[]"),
        ("lines.jsonl", b"garbage"),
        ("lines.jsonl", None),
        ("fold.json", b"{}"),
    ],
)
def test_a_damaged_cache_is_recomputed_or_named(
    sample_repo: GitRepo, victim: str, garbage: bytes | None, cli
) -> None:  # type: ignore[no-untyped-def]
    r = sample_repo
    for n in range(2):
        bump_text(r, n)
    good = fresh(r)
    (f,) = (r.path / ".git/loomgit/history").glob(f"*/*.{victim}")
    f.write_bytes(b"x" * f.stat().st_size if garbage is None else garbage)
    hv._MEMO.clear()
    res = cli(["log", "summarize", "--json"], cwd=r.path)
    if garbage is None:  # found damaged while reading: one line, and the next run is whole
        assert (
            res.exit_code == 3 and "history cache" in res.err and "run the command again" in res.err
        )
        assert res.err.count("\n") == 1
    else:
        assert res.exit_code == 0, res.err
    hv._MEMO.clear()
    bump_text(r, 7)  # and folding on from the damaged state works too
    assert [v.version for v in fresh(r)] == [v.version for v in good] + ["1.3.0"]
    assert cli(["log", "summarize", "--json"], cwd=r.path).exit_code == 0


def test_settings_that_shape_versions_key_the_cache(sample_repo: GitRepo) -> None:
    r = sample_repo
    bump_text(r, 1)
    assert [v.version for v in fresh(r)] == ["1.0.0", "1.1.0"]
    r.write({"loomgit.yaml": "initial_version: 0.1.0\n"})  # uncommitted setting counts
    assert [v.version for v in fresh(r)] == ["0.1.0", "0.2.0"]
    assert len(list((r.path / ".git/loomgit/history").iterdir())) == 2


def test_an_unwritable_cache_is_not_an_error(sample_repo: GitRepo) -> None:
    r = sample_repo
    (r.path / ".git" / "loomgit").write_text("a file where the cache folder would go")
    bump_text(r, 1)
    assert [v.version for v in fresh(r)] == ["1.0.0", "1.1.0"]
    assert [v.version for v in fresh(r)] == ["1.0.0", "1.1.0"]


def test_old_states_are_pruned(sample_repo: GitRepo) -> None:
    from loomgit.history.cache import KEEP

    r = sample_repo
    for n in range(KEEP + 3):
        bump_text(r, n)
        fresh(r)
    (folder,) = (r.path / ".git/loomgit/history").iterdir()
    assert len(list(folder.glob("*.idx.json"))) == KEEP
    assert len(list(folder.glob("*.lines.jsonl"))) == KEEP
    assert not list(folder.glob(".tmp-*"))


def test_worktrees_share_the_cache(sample_repo: GitRepo, tmp_path: Path) -> None:
    r = sample_repo
    bump_text(r, 1)
    fresh(r)
    wt = tmp_path / "wt"
    r.git("worktree", "add", "-q", "--detach", str(wt))
    hv._MEMO.clear()
    assert [v.version for v in versions(Workspace(wt), "support/summarize")] == ["1.0.0", "1.1.0"]
    assert not (wt / ".git" / "loomgit").exists()


def test_blob_reader_reads_many_and_names_missing_ones(sample_repo: GitRepo) -> None:
    from loomgit.history import BlobReader, read_blobs

    r = sample_repo
    r.commit("odd names", {"prompts/with space.prompt": "x\n", "big.txt": "y" * 300_000})
    names = [
        "HEAD:" + P,
        "HEAD:prompts/with space.prompt",
        "HEAD:no such.prompt",
        "HEAD:big.txt",
        "HEAD:nope",
        "HEAD",
        "0" * 40,
    ] * 200
    with BlobReader(r.path) as reader:
        got = reader.read_many(names)
        again = reader.read_many(names[:7])
    assert got["HEAD:" + P] == SUMMARIZE.encode()
    assert got["HEAD:prompts/with space.prompt"] == b"x\n"
    assert got["HEAD:big.txt"] == b"y" * 300_000
    assert got["HEAD:no such.prompt"] is None and got["HEAD:nope"] is None
    assert got["HEAD"] is None and got["0" * 40] is None  # a commit is not a blob
    assert again == {n: got[n] for n in names[:7]}
    assert read_blobs(r.path, [("HEAD", P), ("", P), ("HEAD~1", "big.txt")]) == {
        ("HEAD", P): SUMMARIZE.encode(),
        ("", P): SUMMARIZE.encode(),
        ("HEAD~1", "big.txt"): None,
    }


def test_a_long_history_is_read_in_two_halves_with_the_same_result(
    sample_repo: GitRepo, logs: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import loomgit.history.rounds as repo_mod

    r = sample_repo
    r.commit("other", {"prompts/other.prompt": "Hi {{ x }}\n"})
    for n in range(6):
        bump_text(r, n)
        r.commit(f"o{n}", {"prompts/other.prompt": f"Hi {{{{ x }}}} {n}\n"})
    whole = cold(r)
    assert len(logs) == 1
    monkeypatch.setattr(repo_mod, "SPLIT_AT", 4)
    halves = cold(r)
    assert len(logs) == 3 and len(logs[1]) == 1 and logs[2][1] == f"^{logs[1][0]}"
    assert halves == whole
    split_other = cold(r, "other")
    monkeypatch.setattr(repo_mod, "SPLIT_AT", 10**9)
    assert cold(r, "other") == split_other
