"""Promotion by identity: after a force-push one version number can name other content.

The order gate compares content hashes, not version strings, and ``stages``/``list`` mark
a stage whose content is no longer a version on the main line. Every scenario rewrites
main's history in a real repository, as ``git push --force`` would.
"""

from __future__ import annotations

import json

import pytest
from conftest import SUMMARIZE, GitRepo

PROMPT = "prompts/support/summarize.prompt"
ID = "support/summarize"
REVIEWED = SUMMARIZE.replace("Summarize this ticket:", "Summarize this ticket briefly:")
REWRITTEN = SUMMARIZE.replace("Summarize this ticket:", "Summarize this ticket and leak it:")


def content_hash(cli, repo: GitRepo, ref: str) -> str:  # type: ignore[no-untyped-def]
    r = cli(["show", ref, "--json"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    return str(json.loads(r.out)["content_hash"])


@pytest.fixture
def rewritten(repo: GitRepo, cli):  # type: ignore[no-untyped-def]
    """1.1.0 (reviewed) promoted to staging, then main rewritten so that 1.1.0 names
    other content: ``reset --hard HEAD~1`` and a different edit of the same kind."""
    repo.commit("add summarize", {PROMPT: SUMMARIZE})
    reviewed = repo.commit("summarize: briefly", {PROMPT: REVIEWED})
    old_hash = content_hash(cli, repo, f"{ID}@1.1.0")
    r = cli(["promote", ID, "1.1.0", "--to", "staging"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    repo.git("reset", "-q", "--hard", "HEAD~1")
    other = repo.commit("summarize: rewritten", {PROMPT: REWRITTEN})
    new_hash = content_hash(cli, repo, f"{ID}@1.1.0")
    assert new_hash != old_hash  # the same version number, other content
    return repo, {"reviewed": reviewed, "other": other, "old": old_hash, "new": new_hash}


def test_promote_refuses_content_that_was_never_on_the_previous_stage(rewritten, cli) -> None:  # type: ignore[no-untyped-def]
    repo, x = rewritten
    r = cli(["promote", ID, "1.1.0", "--to", "production"], cwd=repo.path)
    assert r.exit_code == 1
    assert r.err == (
        f"loomgit: error: {ID} 1.1.0 on staging is content {x['old'][:7]} from commit "
        f"{x['reviewed'][:7]}; 1.1.0 on main is content {x['new'][:7]} from commit "
        f"{x['other'][:7]}: promote it to staging first (loomgit promote {ID} 1.1.0 "
        "--to staging) or pass --force (recorded)\n"
    )
    assert repo.git("branch", "--list", "stage/production") == ""


def test_once_the_new_content_has_been_on_staging_it_may_go_on(rewritten, cli) -> None:  # type: ignore[no-untyped-def]
    repo, x = rewritten
    assert cli(["promote", ID, "1.1.0", "--to", "production"], cwd=repo.path).exit_code == 1
    r = cli(["promote", ID, "1.1.0", "--to", "staging"], cwd=repo.path)
    assert r.exit_code == 0 and r.out.startswith(f"promoted {ID} 1.1.0 to staging (was 1.1.0)")
    r = cli(["promote", ID, "1.1.0", "--to", "production", "--json"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    assert json.loads(r.out)["source_commit"] == x["other"]


def test_forcing_the_unreviewed_content_is_recorded(rewritten, cli) -> None:  # type: ignore[no-untyped-def]
    repo, _ = rewritten
    assert cli(["promote", ID, "1.1.0", "--to", "production"], cwd=repo.path).exit_code == 1
    r = cli(["promote", ID, "1.1.0", "--to", "production", "--force"], cwd=repo.path)
    assert r.exit_code == 0 and "[forced: stage order skipped]" in r.out
    assert "Forced: yes" in repo.git("log", "-1", "--format=%B", "stage/production")


def test_naming_the_stage_promotes_the_reviewed_content(rewritten, cli) -> None:  # type: ignore[no-untyped-def]
    """``promote ID staging --to production`` takes what staging holds, by its blobs."""
    repo, x = rewritten
    r = cli(["promote", ID, "staging", "--to", "production", "--json"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    assert json.loads(r.out)["source_commit"] == x["reviewed"]
    # ...and production now holds content main no longer has, which stages says
    stages = json.loads(cli(["stages", "--json"], cwd=repo.path).out)["stages"]
    assert [s["prompts"][ID]["on_main"] for s in stages] == [False, False]


def test_stages_marks_content_that_is_not_on_main(rewritten, cli) -> None:  # type: ignore[no-untyped-def]
    repo, x = rewritten
    note = (
        f"staging holds {ID} 1.1.0 as content {x['old'][:7]} from commit "
        f"{x['reviewed'][:7]}, but 1.1.0 on main is content {x['new'][:7]} from commit "
        f"{x['other'][:7]} (its history was rewritten?)"
    )
    r = cli(["stages"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    assert "1.1.0 (not on main)" in r.out
    assert f"  not on main: {note}\n" in r.out
    r = cli(["stages", "--json"], cwd=repo.path)
    entry = json.loads(r.out)["stages"][0]["prompts"][ID]
    assert entry["on_main"] is False and entry["main_note"] == note


def test_list_marks_content_that_is_not_on_main(rewritten, cli) -> None:  # type: ignore[no-untyped-def]
    repo, x = rewritten
    r = cli(["list"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    assert "1.1.0 (not on main)" in r.out
    assert f"not on main: staging holds {ID} 1.1.0 as content {x['old'][:7]}" in r.out
    (row,) = json.loads(cli(["list", "--json"], cwd=repo.path).out)
    assert row["stages"] == {"staging": "1.1.0", "production": None}
    assert set(row["off_main"]) == {"staging"}
    assert x["reviewed"][:7] in row["off_main"]["staging"]


def test_a_version_gone_from_main_is_marked(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit("add summarize", {PROMPT: SUMMARIZE})
    repo.commit("summarize: briefly", {PROMPT: REVIEWED})
    assert cli(["promote", ID, "1.1.0", "--to", "staging"], cwd=repo.path).exit_code == 0
    repo.git("reset", "-q", "--hard", "HEAD~1")
    r = cli(["stages", "--json"], cwd=repo.path)
    entry = json.loads(r.out)["stages"][0]["prompts"][ID]
    assert entry["on_main"] is False
    assert entry["main_note"].endswith(
        ", but main has no version 1.1.0 (its history was rewritten?)"
    )


def test_a_stage_that_matches_main_has_no_mark(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit("add summarize", {PROMPT: SUMMARIZE})
    assert cli(["promote", ID, "1.0.0", "--to", "staging"], cwd=repo.path).exit_code == 0
    repo.commit("summarize: briefly", {PROMPT: REVIEWED})  # newer versions are fine
    r = cli(["stages"], cwd=repo.path)
    assert r.exit_code == 0 and "not on main" not in r.out
    assert "not on main" not in cli(["list"], cwd=repo.path).out
    (row,) = json.loads(cli(["list", "--json"], cwd=repo.path).out)
    assert row["off_main"] == {}
