"""Prompts that move: into the globs from paths outside them, out of them, within them,
through a merge, with edits, re-added, and every ``ID@REF`` of a prompt that moved since
that commit. Real repositories, the real CLI, what a user sees."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import GitRepo

NEW_GLOB = 'prompts:\n  - {glob: "data/patterns/*/system.md", id: "{1}"}\n'


def system(name: str, n: int) -> str:
    """A plain markdown system prompt, edited ``n`` times."""
    body = "\n".join(f"- rule {i} for {name}: keep the answer short and exact" for i in range(n))
    return f"# IDENTITY\n\nYou are {name}, an expert.\n\n# STEPS\n\n{body}\n"


def versions(cli, repo: GitRepo, ident: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    r = cli(["log", ident, "--json"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    return list(reversed(json.loads(r.out)))


def listed(cli, repo: GitRepo) -> dict[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    r = cli(["list", "--json"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    return {d["id"]: d for d in json.loads(r.out)}


@pytest.fixture
def patterns(repo: GitRepo) -> GitRepo:
    """Two prompts under patterns/ with 3 and 2 versions; the config only knows the
    layout they move to (not committed yet)."""
    repo.commit("add summarize", {"patterns/summarize/system.md": system("summarize", 1)})
    repo.commit("add extract", {"patterns/extract/system.md": system("extract", 1)})
    repo.commit("summarize: more", {"patterns/summarize/system.md": system("summarize", 2)})
    repo.commit("extract: more", {"patterns/extract/system.md": system("extract", 2)})
    repo.commit("summarize: more", {"patterns/summarize/system.md": system("summarize", 3)})
    repo.write({"loomgit.yaml": NEW_GLOB, "README.md": "notes\n"})
    return repo


def restructure(repo: GitRepo) -> str:
    (repo.path / "data").mkdir()
    repo.git("mv", "patterns", "data/patterns")
    return repo.commit("move the patterns under data/")


def test_a_move_into_the_glob_keeps_the_history_from_outside(patterns: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    before = patterns.git("rev-parse", "HEAD")
    move = restructure(patterns)
    rows = listed(cli, patterns)
    assert sorted(rows) == ["extract", "summarize"]
    assert rows["summarize"]["version"] == "1.2.1"  # 1.0.0, 1.1.0, 1.2.0, then the move
    assert rows["summarize"]["path"] == "data/patterns/summarize/system.md"
    vs = versions(cli, patterns, "summarize")
    assert [v["version"] for v in vs] == ["1.0.0", "1.1.0", "1.2.0", "1.2.1"]
    assert [v["path"] for v in vs] == ["patterns/summarize/system.md"] * 3 + [
        "data/patterns/summarize/system.md"
    ]
    assert {v["id"] for v in vs} == {"summarize"}  # the id the current glob gives
    assert vs[-1]["commit"] == move
    assert vs[-1]["reasons"] == ["moved from patterns/summarize/system.md"]
    assert [v["version"] for v in versions(cli, patterns, "extract")] == ["1.0.0", "1.1.0", "1.1.1"]
    # no warning: everything was followed
    r = cli(["list"], cwd=patterns.path)
    assert "warning" not in r.err
    r = cli(["check"], cwd=patterns.path)
    assert r.exit_code == 0 and "warning" not in r.out + r.err
    # a commit from before the move, by the id of today
    r = cli(["show", f"summarize@{before[:7]}", "--json"], cwd=patterns.path)
    assert r.exit_code == 0, r.err
    data = json.loads(r.out)
    assert data["version"] == "1.2.0" and data["path"] == "patterns/summarize/system.md"
    assert "rule 2 for summarize" in data["text"]
    first = patterns.git("rev-list", "--max-parents=0", "HEAD")
    r = cli(["show", f"summarize@{first[:7]}", "--json"], cwd=patterns.path)
    assert json.loads(r.out)["version"] == "1.0.0"
    r = cli(["show", f"extract@{first[:7]}"], cwd=patterns.path)
    assert r.exit_code == 1 and "extract has no version there" in r.err
    assert len(r.err.strip().splitlines()) == 1
    # the same versions from the cache, and with the old layout listed as a second glob
    assert [v["version"] for v in versions(cli, patterns, "summarize")][-1] == "1.2.1"
    patterns.write({"loomgit.yaml": NEW_GLOB + '  - {glob: "patterns/*/system.md", id: "{1}"}\n'})
    assert [v["version"] for v in versions(cli, patterns, "summarize")] == [
        "1.0.0",
        "1.1.0",
        "1.2.0",
        "1.2.1",
    ]


def test_log_and_diff_at_a_commit_before_the_move(patterns: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    before = patterns.git("rev-parse", "HEAD")
    restructure(patterns)
    r = cli(["log", f"summarize@{before[:7]}", "--json"], cwd=patterns.path)
    assert r.exit_code == 0, r.err
    assert [v["version"] for v in json.loads(r.out)] == ["1.2.0", "1.1.0", "1.0.0"]
    r = cli(["diff", f"summarize@{before[:7]}", "summarize", "--json"], cwd=patterns.path)
    assert r.exit_code == 0, r.err
    assert json.loads(r.out)["change"] == "none"
    r = cli(["render", f"summarize@{before[:7]}"], cwd=patterns.path)
    assert r.exit_code == 0, r.err
    assert "rule 2 for summarize" in r.out


def test_a_restructure_merged_from_a_branch(patterns: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    patterns.commit("config")
    patterns.git("checkout", "-q", "-b", "restructure")
    restructure(patterns)
    patterns.commit(
        "summarize: edit after the move",
        {"data/patterns/summarize/system.md": system("summarize", 4)},
    )
    patterns.git("checkout", "-q", "main")
    patterns.commit(
        "extract: on main meanwhile", {"patterns/extract/system.md": system("extract", 3)}
    )
    patterns.git("merge", "-q", "--no-ff", "-m", "merge the restructure", "restructure")
    rows = listed(cli, patterns)
    assert rows["summarize"]["version"] == "1.3.0"  # the merge is one change: moved + edited
    assert rows["extract"]["version"] == "1.2.1"  # 1.2.0 on main, then moved by the merge
    vs = versions(cli, patterns, "summarize")
    assert [v["version"] for v in vs] == ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
    assert "moved from patterns/summarize/system.md" in vs[-1]["reasons"]
    assert vs[-1]["subject"] == "merge the restructure"


def test_a_move_with_edits_and_a_chain_of_moves(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit("add", {"old/a/system.md": system("a", 6)})
    repo.git("mv", "old", "older")
    repo.commit("rename old to older")
    repo.commit("edit", {"older/a/system.md": system("a", 7)})
    (repo.path / "data/patterns").mkdir(parents=True)
    repo.git("mv", "older/a", "data/patterns/a")
    repo.write({"data/patterns/a/system.md": system("a", 7).replace("expert", "specialist")})
    repo.commit("move into data/ with an edit (R<100)", {"loomgit.yaml": NEW_GLOB})
    vs = versions(cli, repo, "a")
    assert [v["version"] for v in vs] == ["1.0.0", "1.0.1", "1.1.0", "1.2.0"]
    assert [v["path"] for v in vs] == [
        "old/a/system.md",
        "older/a/system.md",
        "older/a/system.md",
        "data/patterns/a/system.md",
    ]
    assert vs[1]["reasons"] == ["moved from old/a/system.md"]
    assert vs[3]["reasons"] == ['message "user" changed', "moved from older/a/system.md"]


def test_moves_out_of_the_glob_and_re_adds(patterns: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    move = restructure(patterns)
    # a new, unrelated file at the old path after the move is not a prompt
    patterns.commit("scratch", {"patterns/summarize/system.md": "scratch notes\n"})
    assert versions(cli, patterns, "summarize")[-1]["commit"] == move
    # deleted, then added again at the same path: the same line
    patterns.git("rm", "-q", "data/patterns/extract/system.md")
    patterns.commit("drop extract")
    assert "extract" not in listed(cli, patterns)
    patterns.commit("extract is back", {"data/patterns/extract/system.md": system("extract", 2)})
    vs = versions(cli, patterns, "extract")
    assert [v["version"] for v in vs] == ["1.0.0", "1.1.0", "1.1.1", "1.1.2"]
    assert vs[-1]["reasons"] == ["added again"]
    # moved out of the globs: gone from list, still shown at a commit before
    inside = patterns.git("rev-parse", "HEAD")
    patterns.git("mv", "data/patterns/summarize", "archive")
    patterns.commit("archive summarize")
    assert "summarize" not in listed(cli, patterns)
    r = cli(["show", f"summarize@{inside[:7]}", "--json"], cwd=patterns.path)
    assert r.exit_code == 0, r.err
    assert json.loads(r.out)["path"] == "data/patterns/summarize/system.md"
    # and moved back in later from where it went: the old line goes on
    patterns.git("mv", "archive", "data/patterns/summarize")
    patterns.commit("unarchive summarize")
    vs = versions(cli, patterns, "summarize")
    assert [v["version"] for v in vs] == ["1.0.0", "1.1.0", "1.2.0", "1.2.1", "1.2.2"]


def test_a_glob_change_between_versions(patterns: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    patterns.write({"loomgit.yaml": NEW_GLOB.replace("data/patterns", "patterns")})
    patterns.commit("adopt with the old layout")
    assert listed(cli, patterns)["summarize"]["version"] == "1.2.0"
    restructure(patterns)
    patterns.commit("follow the move in the config", {"loomgit.yaml": NEW_GLOB})
    # the current config applies to the whole history; the move is followed
    assert listed(cli, patterns)["summarize"]["version"] == "1.2.1"
    assert len(versions(cli, patterns, "summarize")) == 4


def test_moves_that_cannot_be_followed_warn(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    text = "".join(f"line {i}: plain words here\n" for i in range(30)) + "caf\xe9 au lait\n"
    latin = text.encode("latin-1")
    repo.commit(
        "add",
        {
            "patterns/latin/system.md": latin,
            "patterns/rewrite/system.md": system("rewrite", 3),
            "patterns/kept/system.md": system("kept", 2),
        },
    )
    (repo.path / "data/patterns").mkdir(parents=True)
    repo.git("mv", "patterns/latin", "data/patterns/latin")
    repo.git("mv", "patterns/kept", "data/patterns/kept")
    repo.git("rm", "-q", "patterns/rewrite/system.md")
    repo.write(
        {
            "data/patterns/latin/system.md": text.encode(),
            "data/patterns/rewrite/system.md": "Something else entirely.\n",
            "loomgit.yaml": NEW_GLOB,
        }
    )
    repo.commit("restructure")
    r = cli(["list"], cwd=repo.path)
    assert r.exit_code == 0
    warns = [ln for ln in r.err.splitlines() if "warning" in ln]
    assert warns == [
        "loomgit: warning: latin: its history begins with a move from "
        "patterns/latin/system.md that loomgit could not follow: the old file is binary, "
        "not UTF-8 or over 1 MB; versions before the move are not counted",
        "loomgit: warning: rewrite: its history begins with a move from "
        "patterns/rewrite/system.md that loomgit could not follow: git saw no rename (the "
        "file changed too much, or the commit moved too many files); versions before the "
        "move are not counted",
    ]
    r = cli(["check"], cwd=repo.path)
    assert r.exit_code == 0, r.out + r.err
    lines = [ln for ln in r.out.splitlines() if "warning" in ln]
    assert len(lines) == 2
    assert lines[0].startswith("data/patterns/latin/system.md: warning: latin: its history")
    assert "patterns/rewrite/system.md that loomgit could not follow" in lines[1]
    assert "0 error(s), 2 warning(s)" in r.err
    assert r.exit_code == 0
    assert cli(["check", "--strict"], cwd=repo.path).exit_code == 1
    # checking named files (the commit hook's way) reads no history
    r = cli(["check", "data/patterns/kept/system.md"], cwd=repo.path)
    assert r.exit_code == 0 and "warning" not in r.out + r.err
    assert versions(cli, repo, "kept")[0]["path"] == "patterns/kept/system.md"


def test_check_on_a_cold_cache_warns_as_after_list(patterns: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    """With no history folded yet, check finds the moves by a lines-only pass, which
    saves nothing; its warnings are those check gives once list has folded the history."""
    restructure(patterns)
    patterns.git("rm", "-q", "data/patterns/extract/system.md")
    patterns.commit("drop extract")
    patterns.commit("extract is back", {"data/patterns/extract/system.md": system("extract", 2)})
    patterns.git("mv", "data/patterns/summarize", "elsewhere")
    patterns.commit("out of the globs")
    text = "".join(f"line {i}: plain words here\n" for i in range(30))
    patterns.commit("a file to move", {"notes/draft/system.md": text + "cafe\n"})
    (patterns.path / "data/patterns/draft").mkdir(parents=True)
    patterns.git("rm", "-q", "notes/draft/system.md")
    patterns.write({"data/patterns/draft/system.md": "Nothing like the draft at all.\n"})
    patterns.git("mv", "elsewhere", "data/patterns/summarize")
    patterns.commit("draft in, summarize back")
    history_dir = patterns.path / ".git" / "loomgit" / "history"
    shutil.rmtree(history_dir, ignore_errors=True)
    cold = cli(["check"], cwd=patterns.path)
    assert cold.exit_code == 0, cold.out + cold.err
    assert not list(history_dir.glob("*/*.json")), "a lines-only pass must not be cached"
    warned = [ln for ln in cold.out.splitlines() if "warning" in ln]
    assert warned == [
        "data/patterns/draft/system.md: warning: draft: its history begins with a move from "
        "notes/draft/system.md that loomgit could not follow: git saw no rename (the file "
        "changed too much, or the commit moved too many files); versions before the move "
        "are not counted"
    ]
    assert cli(["list"], cwd=patterns.path).exit_code == 0
    warm = cli(["check"], cwd=patterns.path)
    assert (warm.exit_code, warm.out) == (cold.exit_code, cold.out)


TRIAGE = "---\ndescription: Triage a ticket\n---\nTriage this: {{ ticket }}\n"


@pytest.fixture
def triage(repo: GitRepo) -> tuple[GitRepo, str]:
    repo.commit("add triage", {"prompts/triage.prompt": TRIAGE})
    repo.commit("triage: wording", {"prompts/triage.prompt": TRIAGE.replace("this", "the ticket")})
    before = repo.git("rev-parse", "HEAD")
    (repo.path / "prompts/support").mkdir()
    repo.git("mv", "prompts/triage.prompt", "prompts/support/triage.prompt")
    repo.commit("move triage under support")
    return repo, before


def test_every_id_at_ref_follows_the_prompt_back_through_its_move(triage, cli) -> None:  # type: ignore[no-untyped-def]
    repo, before = triage
    at = f"support/triage@{before[:7]}"
    r = cli(["show", at, "--json"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    data = json.loads(r.out)
    assert data["version"] == "1.1.0" and data["path"] == "prompts/triage.prompt"
    assert data["commit"] == before
    r = cli(["render", at, "--var", "ticket=x"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    assert "Triage the ticket: x" in r.out
    r = cli(["diff", at, "support/triage", "--json"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    d = json.loads(r.out)
    assert d["from"]["version"] == "1.1.0" and d["to"]["path"] == "prompts/support/triage.prompt"
    r = cli(["log", at, "--json"], cwd=repo.path)
    assert [v["version"] for v in json.loads(r.out)] == ["1.1.0", "1.0.0"]
    # by the path of today too
    r = cli(["show", f"prompts/support/triage.prompt@{before[:7]}", "--json"], cwd=repo.path)
    assert json.loads(r.out)["version"] == "1.1.0"
    # the old id still works at the old commit, and a wrong one still says so
    r = cli(["show", f"triage@{before[:7]}", "--json"], cwd=repo.path)
    assert json.loads(r.out)["version"] == "1.1.0"
    r = cli(["show", f"support/nope@{before[:7]}"], cwd=repo.path)
    assert r.exit_code == 1 and "unknown prompt 'support/nope'" in r.err


def test_promote_a_commit_from_before_the_move(triage, cli) -> None:  # type: ignore[no-untyped-def]
    repo, before = triage
    r = cli(["promote", "support/triage", before[:7], "--to", "staging", "--json"], cwd=repo.path)
    assert r.exit_code == 0, r.out + r.err
    r = cli(["list", "--json"], cwd=repo.path)
    assert json.loads(r.out)[0]["stages"]["staging"] == "1.1.0"


def test_the_cache_folds_a_later_move_into_the_glob(patterns: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    patterns.commit("config")
    assert listed(cli, patterns) == {}  # cached: nothing matches the glob yet
    restructure(patterns)
    assert listed(cli, patterns)["summarize"]["version"] == "1.2.1"
    patterns.commit("edit", {"data/patterns/summarize/system.md": system("summarize", 5)})
    assert listed(cli, patterns)["summarize"]["version"] == "1.3.0"
    assert len(versions(cli, patterns, "summarize")) == 5


@pytest.mark.parametrize("both", [False, True])
def test_history_full_counts_a_merged_move_once(patterns: GitRepo, cli, both: bool) -> None:  # type: ignore[no-untyped-def]
    patterns.git("checkout", "-q", "-b", "restructure")
    move = restructure(patterns)
    patterns.git("checkout", "-q", "main")
    patterns.commit("notes", {"NOTES.md": "meanwhile\n"})
    patterns.git("merge", "-q", "--no-ff", "-m", "merge the restructure", "restructure")
    extra = '  - {glob: "patterns/*/system.md", id: "{1}"}\n' if both else ""
    patterns.write({"loomgit.yaml": "history: full\n" + NEW_GLOB + extra})
    rows = listed(cli, patterns)
    assert sorted(rows) == ["extract", "summarize"]  # one line each, not one per commit
    vs = versions(cli, patterns, "summarize")
    assert [v["version"] for v in vs] == ["1.0.0", "1.1.0", "1.2.0", "1.2.1"]
    assert vs[-1]["commit"] == move  # the branch's commit; its merge changes nothing more
    r = cli(["list"], cwd=patterns.path)
    assert "warning" not in r.err
