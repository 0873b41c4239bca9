"""``loomgit export`` and ``loomgit.load()``: from the object database, from a bundle by
path or ``LOOMGIT_BUNDLE``, cached, and from a process with no git repository around."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import CORPUS, SUMMARIZE, GitRepo, to_production

import loomgit
from loomgit.app.bundle import BundleError, clear_cache

PROMPT = "prompts/support/summarize.prompt"
V2 = SUMMARIZE.replace("Summarize this ticket:", "Summarize this ticket in two sentences:")
TRIAGE = """---
variables: {ticket: {type: string}}
---
system:
{% include "partials/tone.md" %}

user:
Triage: {{ ticket }}
"""


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_cache()


@pytest.fixture
def promoted(repo: GitRepo, cli) -> GitRepo:
    """1.0.0 on staging and production, 1.1.0 on staging; ops/triage with an include."""
    repo.commit(
        "add",
        {
            PROMPT: SUMMARIZE,
            "prompts/ops/triage.prompt": TRIAGE,
            "partials/tone.md": "Be calm.",
            "loomgit.yaml": "includes: [partials/]\n",
        },
    )
    repo.commit("two sentences", {PROMPT: V2})
    to_production(cli, repo)
    r = cli(["promote", "summarize", "1.1.0", "--to", "staging"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    to_production(cli, repo, "ops/triage")
    # later edits that must not leak into what a stage serves
    repo.commit("tone", {"partials/tone.md": "Be firm."})
    (repo.path / PROMPT).write_text("user:\nuncommitted\n")
    return repo


def test_load_from_the_object_database(promoted: GitRepo) -> None:
    p = loomgit.load("support/summarize", stage="production", repo=promoted.path)
    assert (p.id, p.version, p.stage) == ("support/summarize", "1.0.0", "production")
    assert p.render(ticket="VPN down") == [
        {"role": "system", "content": "You are an on-call assistant. Answer in a formal tone."},
        {"role": "user", "content": "Summarize this ticket: VPN down"},
    ]
    assert p.render({"ticket": "x"}, tone="casual")[0]["content"].endswith("casual tone.")
    assert p.render()[1]["content"] == "Summarize this ticket: Printer on floor 3 is on fire"
    assert p.model == "openai/gpt-4o-mini" and p.params["temperature"] == 0.2
    staging = loomgit.load("summarize", stage="staging", repo=promoted.path)
    assert staging.version == "1.1.0" and "two sentences" in staging.text
    triage = loomgit.load("ops/triage", repo=promoted.path)
    assert triage.render(ticket="disk")[0]["content"] == "Be calm."


def test_load_defaults_to_the_repo_around_the_cwd(promoted: GitRepo, monkeypatch) -> None:
    monkeypatch.chdir(promoted.path / "prompts")
    assert loomgit.load("support/summarize").version == "1.0.0"


def test_load_sees_a_new_promotion(promoted: GitRepo, cli) -> None:
    assert loomgit.load("summarize", stage="production", repo=promoted.path).version == "1.0.0"
    assert (
        cli(["promote", "summarize", "1.1.0", "--to", "production"], cwd=promoted.path).exit_code
        == 0
    )
    assert loomgit.load("summarize", stage="production", repo=promoted.path).version == "1.1.0"
    assert cli(["rollback", "summarize", "--stage", "production"], cwd=promoted.path).exit_code == 0
    assert loomgit.load("summarize", stage="production", repo=promoted.path).version == "1.0.0"


def test_load_sees_a_promotion_after_refs_are_packed(promoted: GitRepo, cli) -> None:
    assert loomgit.load("summarize", stage="production", repo=promoted.path).version == "1.0.0"
    cli(["promote", "summarize", "1.1.0", "--to", "production"], cwd=promoted.path)
    promoted.git("pack-refs", "--all")
    assert loomgit.load("summarize", stage="production", repo=promoted.path).version == "1.1.0"


def test_warm_load_is_cached_and_runs_no_git(promoted: GitRepo, monkeypatch) -> None:
    a = loomgit.load("support/summarize", repo=promoted.path)
    short = loomgit.load("summarize", repo=promoted.path)  # an id suffix works too
    assert short is a
    import subprocess as sp

    def no_git(*args: object, **kw: object) -> None:
        raise AssertionError("a warm load must not start a process")

    monkeypatch.setattr(sp, "run", no_git)
    monkeypatch.setattr(sp, "Popen", no_git)
    assert loomgit.load("support/summarize", repo=promoted.path) is a
    assert loomgit.load("summarize", repo=promoted.path) is a


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"stage": "qa"},
            "unknown stage 'qa'; the stages are staging, production (set "
            "'stages:' in loomgit.yaml)",
        ),
        (
            {"id": "nope"},
            "'nope' is not on stage 'production' (it holds ops/triage, support/summarize)",
        ),
    ],
)
def test_load_errors(promoted: GitRepo, kwargs: dict, message: str) -> None:
    args = {"id": "support/summarize", "repo": promoted.path, **kwargs}
    with pytest.raises(loomgit.LoomgitError) as e:
        loomgit.load(**args)
    assert str(e.value) == message


def test_load_outside_a_repository(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(loomgit.LoomgitError, match="not inside a git repository; pass repo=PATH"):
        loomgit.load("x")


def test_load_before_any_promotion(repo: GitRepo) -> None:
    repo.commit("add", {PROMPT: SUMMARIZE})
    with pytest.raises(loomgit.LoomgitError, match="stage 'production' has no promotions yet"):
        loomgit.load("support/summarize", repo=repo.path)


def test_export_writes_a_bundle(promoted: GitRepo, cli, tmp_path: Path) -> None:
    out = tmp_path / "dist" / "prompts.json"
    r = cli(["export", "--stage", "production", "-o", str(out)], cwd=promoted.path)
    assert r.exit_code == 0, r.err
    assert r.err.startswith(f"wrote {out} (2 prompts of production at ")
    data = json.loads(out.read_text())
    assert data["format"] == "loomgit-bundle" and data["schema"] == 2
    assert data["stage"] == "production"
    assert data["commit"] == promoted.git("rev-parse", "stage/production")
    s = data["prompts"]["support/summarize"]
    assert s["version"] == "1.0.0" and s["text"] == SUMMARIZE and s["path"] == PROMPT
    triage = data["prompts"]["ops/triage"]
    assert triage["includes"] == {"partials/tone.md": "Be calm."}
    # schema 2: the description other languages read, with the include inlined
    assert triage["id"] == "ops/triage" and triage["stage"] == "production"
    assert triage["messages"][0] == {
        "role": "system",
        "template": '{% include "partials/tone.md" %}',
    }
    assert triage["portable"] is True and triage["portable_problems"] == []
    assert triage["portable_messages"] == [
        {"role": "system", "template": "Be calm.", "line": 5},
        {"role": "user", "template": "Triage: {{ ticket }}", "line": 8},
    ]
    assert triage["variables"]["required"] == ["ticket"]
    only = json.loads(
        cli(["export", "--stage", "staging", "-o", "-", "--id", "summarize"], cwd=promoted.path).out
    )
    assert list(only["prompts"]) == ["support/summarize"]
    assert only["prompts"]["support/summarize"]["version"] == "1.1.0"


def test_export_errors(promoted: GitRepo, repo: GitRepo, cli) -> None:
    r = cli(["export", "--stage", "prod", "-o", "x.json"], cwd=promoted.path)
    assert r.exit_code == 1 and "unknown stage 'prod'" in r.err
    r = cli(["export", "--stage", "staging", "-o", "x.json", "--id", "nope"], cwd=promoted.path)
    assert r.exit_code == 1 and "'nope' is not on stage 'staging'" in r.err
    assert not (promoted.path / "x.json").exists()


def test_load_from_a_bundle_by_path_and_env(
    promoted: GitRepo, cli, tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "prompts.json"
    cli(["export", "--stage", "production", "-o", str(out)], cwd=promoted.path)
    p = loomgit.load("support/summarize", bundle=out)
    assert p.version == "1.0.0" and p.origin == f"bundle:{out}"
    assert p.render(ticket="t")[1]["content"] == "Summarize this ticket: t"
    assert (
        loomgit.load("ops/triage", bundle=str(out)).render(ticket="x")[0]["content"] == "Be calm."
    )
    monkeypatch.setenv("LOOMGIT_BUNDLE", str(out))
    monkeypatch.chdir(tmp_path)
    assert loomgit.load("support/summarize").version == "1.0.0"
    with pytest.raises(
        loomgit.LoomgitError, match="the bundle holds stage 'production', not 'staging'"
    ):
        loomgit.load("support/summarize", stage="staging")
    # a redeployed bundle is picked up without a restart
    cli(["promote", "summarize", "1.1.0", "--to", "production"], cwd=promoted.path)
    cli(["export", "--stage", "production", "-o", str(out)], cwd=promoted.path)
    assert loomgit.load("support/summarize").version == "1.1.0"


def test_load_reads_a_schema_1_bundle(promoted: GitRepo, cli, tmp_path: Path) -> None:
    """Bundles written before schema 2 keep loading, and ``export --schema 1`` writes one
    for applications whose loomgit reads only schema 1."""
    old = tmp_path / "v1.json"
    r = cli(["export", "--stage", "production", "-o", str(old), "--schema", "1"], cwd=promoted.path)
    assert r.exit_code == 0, r.err
    data = json.loads(old.read_text())
    assert data["schema"] == 1
    assert set(data["prompts"]["ops/triage"]) == {
        *("version", "content_hash", "source_commit", "path", "promoted_by", "promoted_at"),
        *("text", "includes", "tools", "output"),
    }
    p = loomgit.load("ops/triage", bundle=old)
    assert p.version == "1.0.0" and p.render(ticket="x")[0]["content"] == "Be calm."


@pytest.mark.parametrize("name", sorted(p.name for p in (CORPUS / "stages").glob("bundle-*.json")))
def test_bad_bundles_are_one_clear_error(name: str) -> None:
    path = CORPUS / "stages" / name
    expected = json.loads((CORPUS / "stages" / "expected.json").read_text())[name]
    with pytest.raises(loomgit.LoomgitError) as e:
        loomgit.load("support/summarize", bundle=path)
    assert str(e.value) == expected.format(path=path)
    assert e.value.exit_code == 1


def test_every_corpus_bundle_has_an_expectation() -> None:
    expected = json.loads((CORPUS / "stages" / "expected.json").read_text())
    assert sorted(k for k in expected if k.startswith("bundle-")) == sorted(
        p.name for p in (CORPUS / "stages").glob("bundle-*.json")
    )


def test_missing_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="bundle file not found"):
        loomgit.load("x", bundle=tmp_path / "none.json")


def test_done_means_end_to_end(repo: GitRepo, cli, tmp_path: Path) -> None:
    """The issue's walk-through: v1 to staging and production, v2 to staging, look at
    stages and list, roll production back, export, load with no git repository around."""
    repo.commit("add", {PROMPT: SUMMARIZE})
    repo.commit("v2", {PROMPT: V2})
    repo.commit("v3", {PROMPT: V2.replace("on-call", "night-shift")})
    (repo.path / "prompts/support/summarize.prompt").write_text(SUMMARIZE + "\nwip\n")
    before = repo.git("status", "--porcelain"), repo.git("rev-parse", "HEAD")
    steps = [
        ["promote", "support/summarize", "1.0.0", "--to", "staging"],
        ["promote", "support/summarize", "1.0.0", "--to", "production"],
        ["promote", "support/summarize", "1.1.0", "--to", "staging"],
        ["promote", "support/summarize", "staging", "--to", "production"],
    ]
    for args in steps:
        r = cli(args, cwd=repo.path)
        assert r.exit_code == 0, (args, r.err)
    stages = cli(["stages"], cwd=repo.path)
    assert stages.exit_code == 0
    assert "support/summarize  1.1.0" in stages.out
    listing = json.loads(cli(["list", "--json"], cwd=repo.path).out)
    assert listing[0]["stages"] == {"staging": "1.1.0", "production": "1.1.0"}
    r = cli(["rollback", "support/summarize", "--stage", "production"], cwd=repo.path)
    assert r.exit_code == 0 and "to 1.0.0 (was 1.1.0)" in r.out
    bundle = tmp_path / "app" / "prompts.json"
    assert cli(["export", "--stage", "production", "-o", str(bundle)], cwd=repo.path).exit_code == 0
    assert (repo.git("status", "--porcelain"), repo.git("rev-parse", "HEAD")) == before
    app = bundle.parent
    (app / "app.py").write_text(
        textwrap.dedent("""
        import json, loomgit
        p = loomgit.load("support/summarize", stage="production")
        print(json.dumps({"version": p.version, "messages": p.render(ticket="VPN down")}))
    """)
    )
    # no git repository around, and no git program either
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(LOOMGIT_BUNDLE=str(bundle), PATH=os.path.dirname(sys.executable))
    proc = subprocess.run(
        [sys.executable, "app.py"], cwd=app, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["version"] == "1.0.0"
    assert got["messages"][1] == {"role": "user", "content": "Summarize this ticket: VPN down"}
    assert not (app / ".git").exists()


def test_describe_gives_the_prompt_as_plain_json(promoted: GitRepo) -> None:
    from loomgit.app.describe import describe

    d = describe(loomgit.load("ops/triage", stage="production", repo=promoted.path))
    assert json.loads(json.dumps(d)) == d
    assert (d["id"], d["version"], d["stage"]) == ("ops/triage", "1.0.0", "production")
    assert d["messages"] == [
        {"role": "system", "template": '{% include "partials/tone.md" %}'},
        {"role": "user", "template": "Triage: {{ ticket }}"},
    ]
    assert d["variables"]["properties"] == {"ticket": {"type": "string"}}
    assert d["variables"]["required"] == ["ticket"]
    summarize = describe(loomgit.load("summarize", stage="production", repo=promoted.path))
    assert summarize["model"] == "openai/gpt-4o-mini" and summarize["params"]["temperature"] == 0.2
    assert set(summarize["variables"]["properties"]) >= {"ticket", "tone"}
