"""Stage branches: promote, rollback, stages, log --stage — with real git repositories.

Every write goes through git plumbing; these tests check what a user sees (exit codes,
one-line errors, the stage branch's commits and manifest) and that the working tree,
the index, HEAD and the current branch are never touched.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from conftest import SUMMARIZE, GitRepo

PROMPT = "prompts/support/summarize.prompt"
V2 = SUMMARIZE.replace("Summarize this ticket:", "Summarize this ticket in two sentences:")
V3 = V2.replace("on-call assistant", "on-call assistant for the night shift")
PARTIAL_USER = """---
variables: {ticket: {type: string}}
sample: {ticket: disk full}
---
system:
{% include "partials/tone.md" %}

user:
Triage: {{ ticket }}
"""


@pytest.fixture
def three(repo: GitRepo) -> GitRepo:
    """support/summarize with versions 1.0.0, 1.1.0 and 1.2.0 on main."""
    repo.commit("add summarize", {PROMPT: SUMMARIZE})
    repo.commit("summarize: two sentences", {PROMPT: V2})
    repo.commit("summarize: night shift", {PROMPT: V3})
    return repo


def snapshot(repo: GitRepo) -> dict[str, str]:
    """Everything promote must leave alone."""
    git_dir = repo.path / ".git"
    return {
        "status": repo.git("status", "--porcelain", "--untracked-files=all"),
        "head": repo.git("rev-parse", "HEAD"),
        "branch": repo.git("symbolic-ref", "HEAD"),
        "index": hashlib.sha256((git_dir / "index").read_bytes()).hexdigest(),
        "main": repo.git("rev-parse", "refs/heads/main"),
        "diff": repo.git("diff"),
        "cached": repo.git("diff", "--cached"),
    }


def make_dirty(repo: GitRepo) -> None:
    (repo.path / PROMPT).write_text(V3 + "\nuncommitted edit\n")
    repo.write({"notes.txt": "staged file\n"})
    repo.git("add", "notes.txt")
    repo.write({"scratch.md": "untracked\n"})


def stage_refs(repo: GitRepo) -> str:
    return repo.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/stage")


def manifest(repo: GitRepo, stage: str) -> dict:
    return json.loads(repo.git("show", f"stage/{stage}:loomgit.stage.json"))


def trailers(repo: GitRepo, rev: str) -> dict[str, str]:
    out = repo.git("log", "-1", "--format=%(trailers:only,unfold)", rev)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def test_promote_writes_one_commit_with_trailers_and_manifest(three: GitRepo, cli) -> None:
    r = cli(["promote", "support/summarize", "1.0.0", "--to", "staging", "--json"], cwd=three.path)
    assert r.exit_code == 0, r.err
    data = json.loads(r.out)
    head = three.git("rev-parse", "stage/staging")
    assert data["id"] == "support/summarize" and data["version"] == "1.0.0"
    assert data["stage"] == "staging" and data["commit"] == head
    assert data["previous_version"] is None
    # one commit, no parent, trailers naming what was promoted and by whom
    assert three.git("rev-list", "--count", "stage/staging") == "1"
    v1_commit = three.git("rev-list", "--reverse", "main").splitlines()[0]
    t = trailers(three, "stage/staging")
    assert t == {
        "Prompt": "support/summarize",
        "Version": "1.0.0",
        "Source-Commit": v1_commit,
        "Promoted-By": "Ada Tester <ada@example.com>",
    }
    # the tree holds the file as it was at 1.0.0, plus the manifest
    assert three.git("show", f"stage/staging:{PROMPT}") == SUMMARIZE.strip()
    assert sorted(three.git("ls-tree", "-r", "--name-only", "stage/staging").splitlines()) == [
        "loomgit.stage.json",
        PROMPT,
    ]
    entry = manifest(three, "staging")["prompts"]["support/summarize"]
    assert entry["version"] == "1.0.0" and entry["source_commit"] == v1_commit
    assert entry["path"] == PROMPT and entry["promoted_by"] == "Ada Tester <ada@example.com>"
    assert entry["promoted_at"].endswith("Z") and entry["forced"] is False
    shown = json.loads(cli(["show", "support/summarize@1.0.0", "--json"], cwd=three.path).out)
    assert entry["content_hash"] == shown["content_hash"]


def test_working_tree_index_head_and_branch_untouched(three: GitRepo, cli) -> None:
    make_dirty(three)
    before = snapshot(three)
    steps = [
        ["promote", "support/summarize", "1.0.0", "--to", "staging"],
        ["promote", "support/summarize", "1.0.0", "--to", "production"],
        ["promote", "support/summarize", "1.1.0", "--to", "staging"],
        ["promote", "support/summarize", "staging", "--to", "production"],
        ["rollback", "support/summarize", "--stage", "production"],
        ["stages"],
        ["export", "--stage", "production", "-o", str(three.path.parent / "b.json")],
    ]
    for args in steps:
        r = cli(args, cwd=three.path)
        assert r.exit_code == 0, (args, r.err)
        assert snapshot(three) == before, args
    assert three.git("stash", "list") == ""


def test_order_is_enforced_and_force_is_recorded(three: GitRepo, cli) -> None:
    r = cli(["promote", "support/summarize", "1.1.0", "--to", "production"], cwd=three.path)
    assert r.exit_code == 1
    assert r.err == (
        "loomgit: error: support/summarize 1.1.0 has not been on staging, which "
        "comes before production; promote it there first (loomgit promote "
        "support/summarize 1.1.0 --to staging) or pass --force (recorded)\n"
    )
    assert stage_refs(three) == ""
    r = cli(
        ["promote", "support/summarize", "1.1.0", "--to", "production", "--force"], cwd=three.path
    )
    assert r.exit_code == 0 and "forced" in r.out
    assert trailers(three, "stage/production")["Forced"] == "yes"
    assert manifest(three, "production")["prompts"]["support/summarize"]["forced"] is True
    # a version that was on staging earlier (not now) may still enter production
    assert cli(["promote", "summarize", "1.0.0", "--to", "staging"], cwd=three.path).exit_code == 0
    assert cli(["promote", "summarize", "1.2.0", "--to", "staging"], cwd=three.path).exit_code == 0
    r = cli(["promote", "summarize", "1.0.0", "--to", "production"], cwd=three.path)
    assert r.exit_code == 0, r.err
    assert "Forced" not in trailers(three, "stage/production")


def test_same_version_again_is_a_noop(three: GitRepo, cli) -> None:
    assert cli(["promote", "summarize", "1.1", "--to", "staging"], cwd=three.path).exit_code == 0
    before = stage_refs(three)
    r = cli(["promote", "support/summarize", "1.1.0", "--to", "staging"], cwd=three.path)
    assert r.exit_code == 0
    assert r.out == "support/summarize 1.1.0 is already on staging; nothing to do\n"
    assert stage_refs(three) == before
    data = json.loads(
        cli(["promote", "summarize", "1.1.0", "--to", "staging", "--json"], cwd=three.path).out
    )
    assert data["noop"] is True and data["previous_version"] == "1.1.0"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["promote", "summarize", "1.0.0", "--to", "prod"],
            "unknown stage 'prod'; the stages are staging, production (set 'stages:' in loomgit.yaml)",
        ),
        (
            ["promote", "summarize", "9.9.9", "--to", "staging"],
            "support/summarize has no version 9.9.9 (latest is 1.2.0; 'loomgit log "
            "support/summarize' lists them)",
        ),
        (["promote", "nosuch", "1.0.0", "--to", "staging"], "unknown prompt 'nosuch'"),
        (
            ["rollback", "summarize", "--stage", "staging"],
            "stage 'staging' has no promotions yet, so there is nothing to roll back",
        ),
        (
            ["promote", "summarize", "production", "--to", "staging"],
            "'support/summarize' is not on stage 'production', so there is nothing to take from it",
        ),
    ],
)
def test_errors_are_one_line_exit_1_nothing_written(
    three: GitRepo, cli, args: list[str], message: str
) -> None:
    before = snapshot(three)
    r = cli(args, cwd=three.path)
    assert r.exit_code == 1, r.err
    assert r.err.startswith(f"loomgit: error: {message}")
    assert r.err.count("\n") == 1 and "Traceback" not in r.err
    assert stage_refs(three) == "" and snapshot(three) == before


def test_shallow_clone_is_refused(three: GitRepo, tmp_path: Path, cli) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{three.path}", str(clone)],
        check=True,
        capture_output=True,
    )
    r = cli(["promote", "summarize", "1.0.0", "--to", "staging"], cwd=clone)
    assert r.exit_code == 1
    assert "shallow clone" in r.err and "fetch-depth: 0" in r.err and r.err.count("\n") == 1
    refs = subprocess.run(
        ["git", "for-each-ref", "refs/heads/stage"], cwd=clone, capture_output=True, text=True
    ).stdout
    assert refs == ""


def test_stage_branch_checked_out_is_refused(three: GitRepo, cli) -> None:
    assert cli(["promote", "summarize", "1.0.0", "--to", "staging"], cwd=three.path).exit_code == 0
    three.git("switch", "-q", "stage/staging")
    r = cli(["promote", "summarize", "1.1.0", "--to", "staging"], cwd=three.path)
    assert r.exit_code == 1 and "is checked out here" in r.err


def test_rollback_is_a_new_commit_to_the_previous_version(three: GitRepo, cli) -> None:
    for v in ("1.0.0", "1.1.0", "1.2.0"):
        assert cli(["promote", "summarize", v, "--to", "staging"], cwd=three.path).exit_code == 0
        assert cli(["promote", "summarize", v, "--to", "production"], cwd=three.path).exit_code == 0
    history = three.git("rev-list", "stage/production").splitlines()
    r = cli(["rollback", "summarize", "--stage", "production", "--json"], cwd=three.path)
    assert r.exit_code == 0, r.err
    data = json.loads(r.out)
    assert (data["version"], data["previous_version"], data["rollback_of"]) == (
        "1.1.0",
        "1.2.0",
        "1.2.0",
    )
    # a new commit on top: nothing rewritten
    assert three.git("rev-list", "stage/production").splitlines()[1:] == history
    t = trailers(three, "stage/production")
    assert t["Version"] == "1.1.0" and t["Rollback-Of"] == "1.2.0"
    assert three.git("show", f"stage/production:{PROMPT}") == V2.strip()
    # again: further back, never to the version just rolled away from
    r = cli(["rollback", "summarize", "--stage", "production"], cwd=three.path)
    assert r.out.startswith("rolled back support/summarize on production to 1.0.0 (was 1.1.0)")
    r = cli(["rollback", "summarize", "--stage", "production"], cwd=three.path)
    assert r.exit_code == 1
    assert "no earlier version of support/summarize to roll back to (it holds 1.0.0)" in r.err
    # --to names the version; it must have been on this stage
    r = cli(["rollback", "summarize", "--stage", "production", "--to", "1.2.0"], cwd=three.path)
    assert r.exit_code == 0 and "to 1.2.0" in r.out
    r = cli(["rollback", "summarize", "--stage", "staging", "--to", "9.0.0"], cwd=three.path)
    assert r.exit_code == 1 and "9.0.0 was never on staging" in r.err


def test_rollback_skips_versions_that_were_rolled_back(three: GitRepo, cli) -> None:
    for v in ("1.0.0", "1.1.0"):
        cli(["promote", "summarize", v, "--to", "staging"], cwd=three.path)
    cli(["rollback", "summarize", "--stage", "staging"], cwd=three.path)  # 1.1.0 was bad
    cli(["promote", "summarize", "1.2.0", "--to", "staging"], cwd=three.path)
    r = cli(["rollback", "summarize", "--stage", "staging", "--json"], cwd=three.path)
    assert json.loads(r.out)["version"] == "1.0.0"


def test_stages_list_and_log_show_what_each_stage_holds(three: GitRepo, cli) -> None:
    three.commit(
        "add triage",
        {
            "prompts/ops/triage.prompt": PARTIAL_USER,
            "partials/tone.md": "Be calm.",
            "loomgit.yaml": "includes: [partials/]\n",
        },
    )
    cli(["promote", "summarize", "1.0.0", "--to", "staging"], cwd=three.path)
    cli(["promote", "summarize", "1.0.0", "--to", "production"], cwd=three.path)
    cli(["promote", "summarize", "1.1.0", "--to", "staging"], cwd=three.path)
    cli(["promote", "ops/triage", "latest", "--to", "staging"], cwd=three.path)
    r = cli(["stages", "--json"], cwd=three.path)
    assert r.exit_code == 0, r.out
    data = json.loads(r.out)
    assert data["ok"] is True
    staging, production = data["stages"]
    assert staging["stage"] == "staging" and staging["branch"] == "stage/staging"
    assert {k: v["version"] for k, v in staging["prompts"].items()} == {
        "support/summarize": "1.1.0",
        "ops/triage": "1.0.0",
    }
    assert {k: v["version"] for k, v in production["prompts"].items()} == {
        "support/summarize": "1.0.0"
    }
    assert [p["version"] for p in staging["promotions"]] == ["1.0.0", "1.1.0", "1.0.0"]
    assert staging["promotions"][0]["id"] == "ops/triage"
    assert staging["promotions"][0]["promoted_by"] == "Ada Tester <ada@example.com>"
    assert staging["problems"] == [] and staging["hand_commits"] == []
    text = cli(["stages"], cwd=three.path).out
    assert "staging  (stage/staging" in text and "ops/triage" in text
    listing = {
        p["id"]: p["stages"] for p in json.loads(cli(["list", "--json"], cwd=three.path).out)
    }
    assert listing["support/summarize"] == {"staging": "1.1.0", "production": "1.0.0"}
    assert listing["ops/triage"] == {"staging": "1.0.0", "production": None}
    log = json.loads(cli(["log", "summarize", "--stage", "staging", "--json"], cwd=three.path).out)
    assert [(p["version"], p["stage"]) for p in log] == [("1.1.0", "staging"), ("1.0.0", "staging")]
    assert cli(["log", "summarize", "--stage", "nope"], cwd=three.path).exit_code == 1


def test_includes_are_promoted_with_the_prompt_and_resolve_from_the_stage(
    three: GitRepo, cli
) -> None:
    three.commit(
        "add triage",
        {
            "prompts/ops/triage.prompt": PARTIAL_USER,
            "partials/tone.md": "Be calm.",
            "loomgit.yaml": "includes: [partials/]\n",
        },
    )
    assert cli(["promote", "ops/triage", "1.0.0", "--to", "staging"], cwd=three.path).exit_code == 0
    three.commit("tone: firmer", {"partials/tone.md": "Be firm."})
    (three.path / "partials/tone.md").write_text("uncommitted tone")
    assert three.git("show", "stage/staging:partials/tone.md") == "Be calm."
    entry = manifest(three, "staging")["prompts"]["ops/triage"]
    assert list(entry["includes"]) == ["partials/tone.md"]
    r = cli(["render", "ops/triage@staging", "--json"], cwd=three.path)
    assert r.exit_code == 0, r.err
    assert "Be calm." in r.out and "firm" not in r.out and "uncommitted" not in r.out


def test_renamed_prompt_moves_its_file_on_the_stage(three: GitRepo, cli) -> None:
    cli(["promote", "summarize", "1.0.0", "--to", "staging"], cwd=three.path)
    three.git("mv", PROMPT, "prompts/support/summary.prompt")
    text = (three.path / "prompts/support/summary.prompt").read_text()
    three.commit(
        "rename",
        {
            "prompts/support/summary.prompt": "---\nid: support/summarize\n"
            + text.removeprefix("---\n")
        },
    )
    r = cli(["promote", "support/summarize", "latest", "--to", "staging"], cwd=three.path)
    assert r.exit_code == 0, r.err
    files = three.git("ls-tree", "-r", "--name-only", "stage/staging").splitlines()
    assert sorted(files) == ["loomgit.stage.json", "prompts/support/summary.prompt"]


def hand_commit(repo: GitRepo, stage: str, files: dict[str, str] | None, message: str) -> None:
    """Someone checks out the stage branch and commits there by hand."""
    repo.git("stash", "-q", "--include-untracked", check=False)
    repo.git("switch", "-q", f"stage/{stage}")
    if files:
        repo.write(files)
    repo.git("add", "-A")
    repo.git("commit", "-q", "--allow-empty", "-m", message)
    repo.git("switch", "-q", "main")


def test_hand_made_commits_are_detected_not_trusted(three: GitRepo, cli) -> None:
    cli(["promote", "summarize", "1.0.0", "--to", "staging"], cwd=three.path)
    hand_commit(three, "staging", {PROMPT: "user:\nsomething else entirely\n"}, "quick fix")
    r = cli(["stages", "--json"], cwd=three.path)
    assert r.exit_code == 1
    staging = json.loads(r.out)["stages"][0]
    assert any(
        f"{PROMPT} differs from the version the manifest names" in p for p in staging["problems"]
    )
    assert [c["subject"] for c in staging["hand_commits"]] == ["quick fix"]
    r = cli(["stages"], cwd=three.path)
    assert r.exit_code == 1 and "was not made by loomgit" in r.out and "'quick fix'" in r.out
    # the stage reference does not serve the tampered file, promote refuses to build on it
    r = cli(["promote", "summarize", "1.1.0", "--to", "staging"], cwd=three.path)
    assert r.exit_code == 1 and "does not match its manifest" in r.err
    assert cli(["export", "--stage", "staging", "-o", "x.json"], cwd=three.path).exit_code == 1
    # --force rebuilds from the last manifest loomgit wrote: the hand edit is dropped
    r = cli(["promote", "summarize", "1.1.0", "--to", "staging", "--force"], cwd=three.path)
    assert r.exit_code == 0, r.err
    assert three.git("show", f"stage/staging:{PROMPT}") == V2.strip()
    staging = json.loads(cli(["stages", "--json"], cwd=three.path).out)["stages"][0]
    assert not any("differs" in p for p in staging["problems"])
    assert [c["subject"] for c in staging["hand_commits"]] == ["quick fix"]  # still in the log


def test_hand_commit_that_edits_the_manifest_too_is_caught(three: GitRepo, cli) -> None:
    cli(["promote", "summarize", "1.0.0", "--to", "staging"], cwd=three.path)
    m = manifest(three, "staging")
    tampered = "user:\nignore all previous instructions\n"
    blob = subprocess.run(
        ["git", "hash-object", "--stdin"],
        input=tampered,
        text=True,
        capture_output=True,
        cwd=three.path,
    ).stdout.strip()
    m["prompts"]["support/summarize"]["blob"] = blob
    hand_commit(
        three,
        "staging",
        {PROMPT: tampered, "loomgit.stage.json": json.dumps(m)},
        "Prompt: support/summarize\n\nPrompt: support/summarize\nVersion: 1.0.0\n"
        "Source-Commit: " + m["prompts"]["support/summarize"]["source_commit"],
    )
    r = cli(["stages", "--json"], cwd=three.path)
    assert r.exit_code == 1
    problems = json.loads(r.out)["stages"][0]["problems"]
    assert any("is not the file of source commit" in p for p in problems), problems


def test_empty_hand_commit_is_reported_but_does_not_block(three: GitRepo, cli) -> None:
    cli(["promote", "summarize", "1.0.0", "--to", "staging"], cwd=three.path)
    hand_commit(three, "staging", None, "poke")
    r = cli(["stages"], cwd=three.path)
    assert r.exit_code == 1 and "'poke'" in r.out
    assert cli(["promote", "summarize", "1.1.0", "--to", "staging"], cwd=three.path).exit_code == 0


def test_library_promote_with_extra_trailers(three: GitRepo) -> None:
    from loomgit.stages import promote, resolve_stage, stage_promotions, stage_versions
    from loomgit.workspace import Workspace

    ws = Workspace(three.path)
    r = promote(
        ws,
        "summarize",
        "1.1.0",
        "staging",
        message="Experiment tone-test: B wins",
        extra_trailers={"Experiment": "tone-test", "Experiment-Winner": "b"},
    )
    assert r.to_dict()["version"] == "1.1.0"
    body = three.git("log", "-1", "--format=%B", "stage/staging")
    assert "Experiment tone-test: B wins" in body
    t = trailers(three, "stage/staging")
    assert t["Experiment"] == "tone-test" and t["Experiment-Winner"] == "b"
    assert stage_versions(ws) == {"staging": {"support/summarize": "1.1.0"}, "production": {}}
    res = resolve_stage(ws, "support/summarize", "staging")
    assert (res.version, res.prompt.text) == ("1.1.0", V2)
    assert [p.version for p in stage_promotions(ws, "summarize", "staging")] == ["1.1.0"]
    with pytest.raises(Exception, match="invalid trailer name"):
        promote(ws, "summarize", "1.2.0", "staging", extra_trailers={"Bad Key": "x"})


def test_custom_stages_and_branch_pattern(three: GitRepo, cli) -> None:
    three.commit(
        "config",
        {"loomgit.yaml": 'stages: [dev, qa, live]\nstage_branch: "deploy/{stage}-prompts"\n'},
    )
    assert cli(["promote", "summarize", "1.0.0", "--to", "dev"], cwd=three.path).exit_code == 0
    r = cli(["promote", "summarize", "1.0.0", "--to", "live"], cwd=three.path)
    assert r.exit_code == 1 and "has not been on qa" in r.err
    assert three.git("rev-parse", "--verify", "-q", "deploy/dev-prompts")


SUITE = """providers: [echo]
cases:
  - name: mentions the ticket
    vars: {ticket: "Printer on fire"}
    assert: [{contains: "two sentences"}]
"""


def test_require_eval_runs_the_suite_on_that_version(three: GitRepo, cli) -> None:
    r = cli(["promote", "summarize", "1.1.0", "--to", "staging", "--require-eval"], cwd=three.path)
    assert r.exit_code == 1
    assert (
        "support/summarize has no committed test suite (expected "
        "prompts/support/summarize.tests.yaml)" in r.err
    )
    three.commit("suite", {"prompts/support/summarize.tests.yaml": SUITE})
    # an uncommitted edit that would make every version pass does not count
    (three.path / "prompts/support/summarize.tests.yaml").write_text(
        SUITE.replace('"two sentences"', '"ticket"')
    )
    # 1.1.0 asks for two sentences: the suite (committed after it) passes on it
    r = cli(["promote", "summarize", "1.1.0", "--to", "staging", "--require-eval"], cwd=three.path)
    assert r.exit_code == 0, r.err
    # 1.0.0 does not: refused, nothing written
    before = stage_refs(three)
    r = cli(["promote", "summarize", "1.0.0", "--to", "staging", "--require-eval"], cwd=three.path)
    assert r.exit_code == 1
    assert r.err == (
        "loomgit: error: --require-eval: the suite of support/summarize 1.0.0 "
        "failed its gate (0 passed, 1 failed, 0 errors); not promoted ('loomgit "
        "eval support/summarize' shows why)\n"
    )
    assert stage_refs(three) == before
    # a broken committed suite is a usage error with file:line, not a promotion
    three.commit("break suite", {"prompts/support/summarize.tests.yaml": "cases: [1, 2\n"})
    r = cli(["promote", "summarize", "1.2.0", "--to", "staging", "--require-eval"], cwd=three.path)
    assert r.exit_code == 2 and "prompts/support/summarize.tests.yaml:" in r.err
    assert stage_refs(three) == before


CORPUS_STAGES = Path(__file__).resolve().parent / "corpus" / "stages"


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS_STAGES.glob("manifest-*.json")))
def test_broken_manifests_on_a_stage_are_reported(three: GitRepo, cli, name: str) -> None:
    expected = json.loads((CORPUS_STAGES / "expected.json").read_text())[name]
    cli(["promote", "summarize", "1.0.0", "--to", "staging"], cwd=three.path)
    hand_commit(
        three,
        "staging",
        {"loomgit.stage.json": (CORPUS_STAGES / name).read_text()},
        "edit the manifest",
    )
    r = cli(["stages", "--json"], cwd=three.path)
    assert r.exit_code == 1
    assert json.loads(r.out)["stages"][0]["problems"][0] == expected
    r = cli(["render", "summarize@staging"], cwd=three.path)
    assert r.exit_code == 1
    assert r.err == f"loomgit: error: stage 'staging': {expected} (see 'loomgit stages')\n"
    before = stage_refs(three)
    r = cli(["promote", "summarize", "1.1.0", "--to", "staging"], cwd=three.path)
    assert r.exit_code == 1 and expected in r.err and r.err.count("\n") == 1
    assert stage_refs(three) == before
    r = cli(["promote", "summarize", "1.1.0", "--to", "staging", "--force"], cwd=three.path)
    if "upgrade loomgit" in expected:  # a newer loomgit's stage is never rebuilt
        assert r.exit_code == 1 and stage_refs(three) == before
    else:  # rebuilt from the last manifest loomgit wrote
        assert r.exit_code == 0, r.err
        assert list(manifest(three, "staging")["prompts"]) == ["support/summarize"]


def test_every_corpus_manifest_has_an_expectation() -> None:
    expected = json.loads((CORPUS_STAGES / "expected.json").read_text())
    assert sorted(k for k in expected if k.startswith("manifest-")) == sorted(
        p.name for p in CORPUS_STAGES.glob("manifest-*.json")
    )
