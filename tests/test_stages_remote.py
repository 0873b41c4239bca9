"""``--fetch`` and ``--push`` against a real bare repository as the remote."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import SUMMARIZE, GitRepo

PROMPTS = {
    "prompts/support/summarize.prompt": SUMMARIZE,
    "prompts/ops/triage.prompt": "user:\nTriage {{ ticket }}\n",
    "prompts/ops/route.prompt": "user:\nRoute {{ ticket }}\n",
}


def clone(url: str, path: Path) -> GitRepo:
    subprocess.run(["git", "clone", "-q", url, str(path)], check=True, capture_output=True)
    r = GitRepo.__new__(GitRepo)
    r.path = path
    return r


@pytest.fixture
def remote_pair(repo: GitRepo, tmp_path: Path) -> tuple[Path, GitRepo, GitRepo]:
    """A bare remote with one commit of two prompts, and two clones of it (Alice, Bob)."""
    repo.commit("prompts", PROMPTS)
    bare = tmp_path / "remote.git"
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(repo.path), str(bare)], check=True, capture_output=True
    )
    return bare, clone(str(bare), tmp_path / "alice"), clone(str(bare), tmp_path / "bob")


def remote_ref(bare: Path, ref: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--verify", "-q", ref], cwd=bare, capture_output=True, text=True
    ).stdout.strip()


def test_push_publishes_the_stage_and_fetch_brings_it_in(remote_pair, cli) -> None:
    bare, alice, bob = remote_pair
    r = cli(["promote", "summarize", "1.0.0", "--to", "staging", "--push"], cwd=alice.path)
    assert r.exit_code == 0, r.err
    assert "pushed stage/staging to origin" in r.out
    assert remote_ref(bare, "stage/staging") == alice.git("rev-parse", "stage/staging")
    # Bob fetches and builds on Alice's promotion
    r = cli(
        ["promote", "ops/triage", "1.0.0", "--to", "staging", "--fetch", "--push", "--json"],
        cwd=bob.path,
    )
    assert r.exit_code == 0, r.err
    head = json.loads(r.out)["commit"]
    assert remote_ref(bare, "stage/staging") == head == bob.git("rev-parse", "stage/staging")
    assert bob.git("rev-list", "--count", "stage/staging") == "2"
    m = json.loads(bob.git("show", "stage/staging:loomgit.stage.json"))
    assert sorted(m["prompts"]) == ["ops/triage", "support/summarize"]
    # stages --fetch fast-forwards Alice's local stage
    r = cli(["stages", "--fetch", "--json"], cwd=alice.path)
    assert r.exit_code == 0, r.err
    assert alice.git("rev-parse", "stage/staging") == head
    # order check sees the fetched staging: production may take 1.0.0 of triage
    r = cli(["promote", "triage", "1.0.0", "--to", "production", "--push"], cwd=alice.path)
    assert r.exit_code == 0, r.err
    assert remote_ref(bare, "stage/production") == alice.git("rev-parse", "stage/production")


def test_rejected_push_leaves_the_local_stage_as_it_was(remote_pair, cli) -> None:
    bare, alice, bob = remote_pair
    assert (
        cli(
            ["promote", "summarize", "1.0.0", "--to", "staging", "--push"], cwd=alice.path
        ).exit_code
        == 0
    )
    theirs = remote_ref(bare, "stage/staging")
    # Bob has never fetched: his push must not overwrite Alice's promotion
    r = cli(["promote", "triage", "1.0.0", "--to", "staging", "--push"], cwd=bob.path)
    assert r.exit_code == 1
    assert r.err == (
        "loomgit: error: push of stage/staging to origin was rejected (its stage "
        "has promotions this clone has not fetched); the local stage is left as "
        "it was: run the command again with --fetch --push\n"
    )
    assert remote_ref(bare, "stage/staging") == theirs
    assert bob.git("for-each-ref", "refs/heads/stage") == ""  # as it was: not there
    # a stage Bob already had locally is put back to where it was, too
    assert (
        cli(
            ["promote", "triage", "1.0.0", "--to", "staging", "--fetch", "--push"], cwd=bob.path
        ).exit_code
        == 0
    )
    mine = bob.git("rev-parse", "stage/staging")
    alice.commit("triage v2", {"prompts/ops/triage.prompt": "user:\nTriage now {{ ticket }}\n"})
    assert (
        cli(
            ["promote", "triage", "latest", "--to", "staging", "--fetch", "--push"], cwd=alice.path
        ).exit_code
        == 0
    )
    theirs = remote_ref(bare, "stage/staging")
    r = cli(["promote", "route", "1.0.0", "--to", "staging", "--push"], cwd=bob.path)
    assert r.exit_code == 1 and "was rejected" in r.err
    assert bob.git("rev-parse", "stage/staging") == mine
    assert remote_ref(bare, "stage/staging") == theirs
    assert "route" not in bob.git("show", "stage/staging:loomgit.stage.json")
    # the advice works: the promotion lands on top of Alice's
    r = cli(
        ["promote", "route", "1.0.0", "--to", "staging", "--fetch", "--push", "--json"],
        cwd=bob.path,
    )
    assert r.exit_code == 0, r.err
    head = json.loads(r.out)["commit"]
    assert remote_ref(bare, "stage/staging") == head
    assert bob.git("rev-parse", f"{head}^") == theirs
    m = json.loads(bob.git("show", "stage/staging:loomgit.stage.json"))["prompts"]
    assert {k: v["version"] for k, v in m.items()} == {
        "ops/route": "1.0.0",
        "ops/triage": "1.1.0",
        "support/summarize": "1.0.0",
    }


def test_push_never_forces_even_with_force(remote_pair, cli) -> None:
    bare, alice, bob = remote_pair
    assert (
        cli(
            ["promote", "summarize", "1.0.0", "--to", "staging", "--push"], cwd=alice.path
        ).exit_code
        == 0
    )
    theirs = remote_ref(bare, "stage/staging")
    r = cli(["promote", "triage", "1.0.0", "--to", "staging", "--push", "--force"], cwd=bob.path)
    assert r.exit_code == 1 and "rejected" in r.err
    assert remote_ref(bare, "stage/staging") == theirs


def test_diverged_stage_is_reported_on_fetch(remote_pair, cli) -> None:
    bare, alice, bob = remote_pair
    assert (
        cli(
            ["promote", "summarize", "1.0.0", "--to", "staging", "--push"], cwd=alice.path
        ).exit_code
        == 0
    )
    assert cli(["promote", "triage", "1.0.0", "--to", "staging"], cwd=bob.path).exit_code == 0
    before = bob.git("rev-parse", "stage/staging")
    r = cli(["promote", "triage", "1.0.0", "--to", "production", "--fetch"], cwd=bob.path)
    assert r.exit_code == 1
    assert "stage/staging and origin/stage/staging have diverged" in r.err
    assert r.err.count("\n") == 1
    assert bob.git("rev-parse", "stage/staging") == before
    assert bob.git("for-each-ref", "refs/heads/stage/production") == ""


def test_unreachable_remote_is_an_infrastructure_error(repo: GitRepo, tmp_path: Path, cli) -> None:
    repo.commit("prompts", PROMPTS)
    repo.git("remote", "add", "origin", str(tmp_path / "gone.git"))
    r = cli(["promote", "summarize", "1.0.0", "--to", "staging", "--push"], cwd=repo.path)
    assert r.exit_code == 3
    assert r.err.startswith("loomgit: error: push of stage/staging to origin failed: ")
    assert "the local stage is left as it was" in r.err
    assert repo.git("for-each-ref", "refs/heads/stage") == ""
    r = cli(["promote", "summarize", "1.0.0", "--to", "staging", "--fetch"], cwd=repo.path)
    assert r.exit_code == 3 and "cannot reach remote 'origin'" in r.err


def test_no_remote_is_a_clear_error(repo: GitRepo, cli) -> None:
    repo.commit("prompts", PROMPTS)
    r = cli(["promote", "summarize", "1.0.0", "--to", "staging", "--push"], cwd=repo.path)
    assert r.exit_code == 1 and "this repository has none (git remote add origin URL)" in r.err
    assert repo.git("for-each-ref", "refs/heads/stage") == ""


def test_noop_with_push_publishes_an_unpushed_stage(remote_pair, cli) -> None:
    bare, alice, _ = remote_pair
    assert cli(["promote", "summarize", "1.0.0", "--to", "staging"], cwd=alice.path).exit_code == 0
    assert remote_ref(bare, "stage/staging") == ""
    r = cli(["promote", "summarize", "1.0.0", "--to", "staging", "--push"], cwd=alice.path)
    assert r.exit_code == 0, r.err
    assert r.out == (
        "support/summarize 1.0.0 is already on staging; nothing to do\n"
        "pushed stage/staging to origin\n"
    )
    assert remote_ref(bare, "stage/staging") == alice.git("rev-parse", "stage/staging")
