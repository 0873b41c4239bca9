"""``loomgit list | log | show | diff | status`` and ``render ID@REF`` as a user meets
them: real repositories, the real CLI entry point, exact exit codes and messages."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import CORPUS, SUMMARIZE, GitRepo

P = "prompts/support/summarize.prompt"
HISTORY = CORPUS / "history"


def edit(repo: GitRepo, old: str, new: str, path: str = P) -> None:
    f = repo.path / path
    f.write_text(f.read_text().replace(old, new, 1))


@pytest.fixture
def story(sample_repo: GitRepo) -> GitRepo:
    """summarize at 1.0.0, 1.1.0 (text), 1.1.1 (description), 2.0.0 (tone removed),
    then reverted to the 1.1.1 content (2.1.0, same as 1.1.1), plus a second prompt."""
    r = sample_repo
    edit(r, "Summarize this ticket", "Summarize the ticket")
    r.commit("summarize: wording")
    edit(r, "description: Summarize a support ticket", "description: Summarize one ticket")
    r.commit("summarize: describe")
    before = (r.path / P).read_text()
    edit(r, "  tone: {type: string, enum: [formal, casual], default: formal}\n", "")
    edit(r, "{{ tone }}", "calm")
    r.commit("summarize: drop tone")
    r.write({P: before})
    r.commit("Revert tone removal", {"prompts/greet.prompt": "Hello {{ name }}\n"})
    return r


def test_list_table_and_json(story: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["list"], cwd=story.path)
    assert r.exit_code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split()[:6] == ["ID", "VERSION", "PATH", "COMMIT", "DATE", "AUTHOR"]
    assert lines[1].split()[:3] == ["greet", "1.0.0", "prompts/greet.prompt"]
    assert lines[2].split()[:3] == ["support/summarize", "2.1.0", P]
    data = json.loads(cli(["list", "--json"], cwd=story.path).out)
    head = story.git("rev-parse", "HEAD")
    assert [d["id"] for d in data] == ["greet", "support/summarize"]
    s = data[1]
    assert set(s) >= {"id", "path", "version", "content_hash", "last_commit", "stages"}
    assert s["version"] == "2.1.0" and s["modified"] is False
    assert s["last_commit"]["sha"] == head and s["last_commit"]["author"] == "Ada Tester"
    assert s["last_commit"]["subject"] == "Revert tone removal"
    assert len(s["content_hash"]) == 64


def test_list_shows_uncommitted_versions_and_ref(story: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    edit(story, "Hello", "Hi", path="prompts/greet.prompt")
    story.write({"prompts/new.prompt": "New {{ x }}\n"})
    data = {d["id"]: d for d in json.loads(cli(["list", "--json"], cwd=story.path).out)}
    assert data["greet"]["version"].startswith("1.1.0-dev+") and data["greet"]["modified"]
    assert data["new"]["version"].startswith("1.0.0-dev+") and data["new"]["last_commit"] is None
    at = json.loads(cli(["list", "--json", "--ref", "HEAD~2"], cwd=story.path).out)
    assert [(d["id"], d["version"]) for d in at] == [("support/summarize", "1.1.1")]


def test_log_newest_first_with_reasons_and_same_as(story: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(cli(["log", "summarize", "--json"], cwd=story.path).out)
    assert [(d["version"], d["change"]) for d in data] == [
        ("2.1.0", "minor"),
        ("2.0.0", "major"),
        ("1.1.1", "patch"),
        ("1.1.0", "minor"),
        ("1.0.0", "initial"),
    ]
    assert data[0]["same_as"] == "1.1.1"
    assert data[1]["reasons"] == ['variable "tone" removed', 'message "system" changed']
    assert set(data[0]) >= {
        "version",
        "commit",
        "date",
        "author",
        "change",
        "reasons",
        "content_hash",
        "same_as",
    }
    table = cli(["log", "support/summarize"], cwd=story.path).out
    assert 'major: variable "tone" added (required)' not in table  # optional: default given
    assert "(same content as 1.1.1)" in table
    assert 'minor: message "user" changed' in table
    old = json.loads(cli(["log", "summarize@HEAD~3", "--json"], cwd=story.path).out)
    assert [d["version"] for d in old] == ["1.1.0", "1.0.0"]


def test_show_at_versions_and_commits(story: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["show", "summarize@2.0.0"], cwd=story.path)
    assert r.exit_code == 0, r.err
    assert r.out.splitlines()[0].startswith(
        "support/summarize 2.0.0  (prompts/support/summarize.prompt, commit "
    )
    assert "tone:" not in r.out and "Answer in a calm tone" in r.out
    data = json.loads(cli(["show", "summarize@1.1", "--json"], cwd=story.path).out)
    assert data["version"] == "1.1.1" and "Summarize one ticket" in data["text"]
    assert data["prompt"]["variables"]["tone"]["enum"] == ["formal", "casual"]
    first = story.git("rev-list", "--max-parents=0", "HEAD")
    data = json.loads(cli(["show", f"{P}@{first[:7]}", "--json"], cwd=story.path).out)
    assert data["version"] == "1.0.0" and data["commit"] == first


def test_render_at_a_version_uses_that_content(story: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    out = json.loads(cli(["render", "summarize@1.0.0", "--json"], cwd=story.path).out)
    assert out["version"] == "1.0.0"
    assert out["messages"][1]["content"] == "Summarize this ticket: Printer on floor 3 is on fire"
    out = json.loads(cli(["render", "summarize", "--json"], cwd=story.path).out)
    assert out["version"] == "2.1.0"


def test_diff_two_versions(story: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["diff", "summarize@1.1.1", "summarize@2.0.0"], cwd=story.path)
    assert r.exit_code == 0, r.err
    assert r.out.splitlines()[0] == "support/summarize@1.1.1 -> support/summarize@2.0.0: major"
    assert '  - variable "tone" removed' in r.out
    assert "-You are an on-call assistant. Answer in a {{ tone }} tone." in r.out
    assert "+You are an on-call assistant. Answer in a calm tone." in r.out
    d = json.loads(cli(["diff", "summarize@1.0.0", "@1.1.0", "--json"], cwd=story.path).out)
    assert set(d) == {
        "from",
        "to",
        "change",
        "reasons",
        "variables",
        "params",
        "model",
        "output",
        "messages",
        "includes",
        "tools",
        "rendered",
    }
    assert d["tools"] is None  # neither side has tools
    assert d["from"]["version"] == "1.0.0" and d["to"]["version"] == "1.1.0"
    assert (d["change"], d["reasons"]) == ("minor", ['message "user" changed'])
    assert [m["status"] for m in d["messages"]] == ["same", "changed"]
    assert "+Summarize the ticket: {{ ticket }}" in d["messages"][1]["diff"]
    d = json.loads(
        cli(["diff", "summarize@1.1.1", "summarize@2.0.0", "--json"], cwd=story.path).out
    )
    assert list(d["variables"]["removed"]) == ["tone"]


def test_diff_against_the_working_tree_and_rendered(story: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    edit(story, "temperature: 0.2", "temperature: 0.7")
    d = json.loads(cli(["diff", "summarize", "--json"], cwd=story.path).out)
    assert d["from"]["commit"] == story.git("rev-parse", "HEAD")
    assert d["to"]["version"].startswith("2.2.0-dev+")
    assert d["params"]["changed"] == {"temperature": {"from": 0.2, "to": 0.7}}
    d = json.loads(
        cli(
            [
                "diff",
                "summarize@2.0.0",
                "summarize",
                "--render",
                "--var",
                "ticket=VPN down",
                "--json",
            ],
            cwd=story.path,
        ).out
    )
    assert d["rendered"][0]["status"] == "changed"
    assert "+You are an on-call assistant. Answer in a formal tone." in d["rendered"][0]["diff"]
    assert d["rendered"][1]["status"] == "same"


def test_diff_base_lists_every_changed_prompt(story: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    edit(story, "Hello", "Hi", path="prompts/greet.prompt")
    story.write({"prompts/new.prompt": "New {{ x }}\n"})
    d = json.loads(cli(["diff", "--base", "HEAD", "--json"], cwd=story.path).out)
    assert [(x["from"] and x["from"]["id"], x["to"]["id"], x["change"]) for x in d] == [
        ("greet", "greet", "minor"),
        (None, "new", "initial"),
    ]
    r = cli(["diff", "--base", "HEAD~1"], cwd=story.path)
    assert "support/summarize@2.0.0 -> support/summarize@2.2.0-dev" not in r.out
    assert "greet" in r.out
    assert cli(["diff", "--base", "HEAD", "x"], cwd=story.path).exit_code == 2
    (story.path / P).unlink()
    d = json.loads(cli(["diff", "--base", "HEAD", "--json"], cwd=story.path).out)
    assert [(x["from"] and x["from"]["id"], x["to"] and x["to"]["id"], x["change"]) for x in d] == [
        ("greet", "greet", "minor"),
        (None, "new", "initial"),
        ("support/summarize", None, "deleted"),
    ]


def test_status(story: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli(["status"], cwd=story.path).out.strip() == "no prompt changes"
    edit(story, "Summarize the ticket", "Summarize every ticket")
    story.git("add", P)
    (story.path / "prompts/greet.prompt").unlink()
    r = cli(["status"], cwd=story.path)
    assert r.exit_code == 0
    rows = [ln.split(None, 4) for ln in r.out.splitlines()[1:]]
    assert rows[0][:4] == ["greet", "prompts/greet.prompt", "1.0.0", "(deleted)"]
    assert rows[1][:3] == ["support/summarize", P, "2.1.0"]
    assert rows[1][3].startswith("2.2.0-dev+") and rows[1][4] == 'minor: message "user" changed'
    staged = json.loads(cli(["status", "--staged", "--json"], cwd=story.path).out)
    assert [(p["id"], p["version"], p["status"]) for p in staged] == [
        ("support/summarize", "2.2.0", "modified")
    ]


def _bad_refs() -> list[tuple[str, str]]:
    out = []
    for line in (HISTORY / "refs.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            ref, _, text = line.partition("\t")
            out.append((ref, text))
    return out


@pytest.mark.parametrize("ref,text", _bad_refs())
@pytest.mark.parametrize("command", ["render", "show", "log"])
def test_bad_references_are_one_line_and_exit_1(
    story: GitRepo,
    cli,
    command: str,
    ref: str,  # type: ignore[no-untyped-def]
    text: str,
) -> None:
    r = cli([command, ref], cwd=story.path)
    assert r.exit_code == 1, (r.out, r.err)
    assert r.out == ""
    assert r.err.count("\n") == 1 and r.err.startswith("loomgit: error: ")
    assert text in r.err
    assert "Traceback" not in r.err


def test_bad_reference_in_diff(story: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["diff", "summarize@9.9.9", "summarize"], cwd=story.path)
    assert (r.exit_code, r.err.count("\n")) == (1, 1) and "has no version 9.9.9" in r.err
    r = cli(["diff", "a", "b", "c"], cwd=story.path)
    assert r.exit_code == 2


def test_outside_git_and_shallow_clone(tmp_path: Path, sample_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    plain = tmp_path / "plain"
    (plain / "prompts").mkdir(parents=True)
    (plain / "prompts/a.prompt").write_text("Hi {{ x }}\n")
    r = cli(["list"], cwd=plain)
    assert r.exit_code == 3 and "is not a git repository" in r.err
    sample_repo.commit("more", {"x.txt": "x"})
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{sample_repo.path}", str(clone)],
        check=True,
        capture_output=True,
    )
    for args in (["list"], ["log", "summarize"], ["render", "summarize@1.0.0"]):
        r = cli(args, cwd=clone)
        assert r.exit_code == 3, args
        assert "shallow clone" in r.err and "fetch-depth: 0" in r.err
        assert r.err.count("\n") == 1
    # rendering the working tree needs no history
    assert cli(["render", "summarize"], cwd=clone).exit_code == 0


BROKEN = sorted(p.name for p in HISTORY.glob("*.prompt"))


def test_broken_versions_in_history_do_not_break_history(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    """Every file of tests/corpus/history committed in turn as one prompt's versions."""
    target = "prompts/x.prompt"
    repo.commit("good", {target: "Hello {{ name }}\n"})
    for name in BROKEN:
        shutil.copyfile(HISTORY / name, repo.path / target)
        repo.commit(f"break: {name}")
    repo.commit("fixed", {target: "Hello {{ name }}!\n"})
    data = json.loads(cli(["log", "x", "--json"], cwd=repo.path).out)
    assert len(data) == len(BROKEN) + 2
    subjects = {d["version"]: d for d in data}
    assert all(d["change"] in ("initial", "major", "minor", "patch") for d in data)
    broken = [d for d in data if d["reasons"] and d["reasons"][0].startswith("does not parse")]
    assert len(broken) == len(BROKEN)
    assert any("not a UTF-8 text file" in d["reasons"][0] for d in broken)
    assert data[0]["subject"] == "fixed" and subjects
    assert cli(["list", "--json"], cwd=repo.path).exit_code == 0
    bad = next(d for d in data if d["subject"] == "break: bad_yaml.prompt")
    r = cli(["render", f"x@{bad['version']}"], cwd=repo.path)
    assert r.exit_code == 1 and "prompts/x.prompt" in r.err and "invalid YAML" in r.err


def test_empty_repository_commands(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli(["list"], cwd=repo.path).out.startswith("no prompts found")
    repo.write({P: SUMMARIZE})
    data = json.loads(cli(["list", "--json"], cwd=repo.path).out)
    assert data[0]["version"].startswith("1.0.0-dev+") and data[0]["last_commit"] is None
    r = cli(["log", "summarize"], cwd=repo.path)  # the version list shows, as list does
    assert r.exit_code == 0 and data[0]["version"] in r.out and "(no commits yet)" in r.out
    assert "1.0.0-dev+" in cli(["status"], cwd=repo.path).out


def test_diff_shows_changed_includes(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit(
        "add",
        {
            "prompts/partials/tone.md": "Be calm.\n",
            "prompts/reply.prompt": "{% include 'prompts/partials/tone.md' %} {{ q }}\n",
        },
    )
    repo.write({"prompts/partials/tone.md": "Be warm.\n"})
    d = json.loads(cli(["diff", "reply", "--json"], cwd=repo.path).out)
    assert (d["change"], d["reasons"]) == ("minor", ['included "prompts/partials/tone.md" changed'])
    assert [m["status"] for m in d["messages"]] == ["same"]
    (inc,) = d["includes"]
    assert inc["path"] == "prompts/partials/tone.md" and inc["status"] == "changed"
    assert "-Be calm.\n+Be warm." in inc["diff"]
    out = cli(["diff", "reply"], cwd=repo.path).out
    assert "+++ reply@1.1.0-dev+" in out and "+Be warm." in out
