"""Versions from git history, each rule checked against real commits in a real repo."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import SUMMARIZE, GitRepo

from loomgit.errors import GitError, RefError
from loomgit.history import (
    classify,
    history,
    pending_changes,
    resolve_at,
    versions,
    working_version,
)
from loomgit.prompt.model import content_hash
from loomgit.prompt.parse import parse_prompt
from loomgit.workspace import Workspace

P = "prompts/support/summarize.prompt"


def vs(repo: GitRepo, ident: str = "support/summarize", ref: str = "HEAD") -> list[tuple[str, str]]:
    return [(v.version, v.change) for v in versions(Workspace(repo.path), ident, ref)]


def edit(repo: GitRepo, old: str, new: str, path: str = P) -> None:
    f = repo.path / path
    text = f.read_text()
    assert old in text, f"{old!r} not in {path}"
    f.write_text(text.replace(old, new, 1))


def change_of(repo: GitRepo, old: str, new: str, message: str = "change") -> tuple[str, list[str]]:
    edit(repo, old, new)
    repo.commit(message)
    v = versions(Workspace(repo.path), "support/summarize")[-1]
    return v.change, v.reasons


def test_first_appearance_is_1_0_0_with_commit_details(sample_repo: GitRepo) -> None:
    (v,) = versions(Workspace(sample_repo.path), "support/summarize")
    assert (v.version, v.change, v.reasons) == ("1.0.0", "initial", ["first appearance"])
    assert v.commit == sample_repo.git("rev-parse", "HEAD")
    assert v.author == "Ada Tester" and v.subject == "add summarize prompt"
    assert v.path == P and v.id == "support/summarize" and not v.provisional
    assert v.content_hash == content_hash(SUMMARIZE)


def test_initial_version_is_configurable(repo: GitRepo) -> None:
    repo.commit("add", {"loomgit.yaml": "initial_version: 0.1.0\n", P: SUMMARIZE})
    edit(repo, "Summarize this ticket", "Summarize the ticket")
    repo.commit("text")
    assert vs(repo) == [("0.1.0", "initial"), ("0.2.0", "minor")]


@pytest.mark.parametrize(
    "old,new,change,reason",
    [
        ("Summarize this ticket", "Summarize the ticket", "minor", 'message "user" changed'),
        (
            "model: openai/gpt-4o-mini",
            "model: openai/gpt-4o",
            "minor",
            "model openai/gpt-4o-mini -> openai/gpt-4o",
        ),
        ("temperature: 0.2", "temperature: 0.5", "minor", "params.temperature 0.2 -> 0.5"),
        (
            "sample:",
            "  lang: {type: string, default: en}\nsample:",
            "minor",
            'variable "lang" added (optional)',
        ),
        ("sample:", "  lang: {type: string}\nsample:", "major", 'variable "lang" added (required)'),
        (
            "  tone: {type: string, enum: [formal, casual], default: formal}\n",
            "",
            "major",
            'variable "tone" removed',
        ),
        (
            "ticket: {type: string, required: true}",
            "ticket: {type: object, required: true}",
            "major",
            'variable "ticket": type string -> object',
        ),
        (
            "enum: [formal, casual]",
            "enum: [formal]",
            "major",
            'variable "tone": enum value(s) removed: casual',
        ),
        (
            "enum: [formal, casual]",
            "enum: [formal, casual, pirate]",
            "minor",
            'variable "tone": enum value(s) added: pirate',
        ),
        (
            "description: Summarize a support ticket",
            "description: Summarize one ticket",
            "patch",
            "description changed",
        ),
        ("sample:", "tags: [support]\nsample:", "patch", "tags changed"),
        (
            "tone.\n\nuser:",
            "tone.   \n\nuser:",
            "patch",
            'message "system": comments or whitespace only',
        ),
        (
            "tone.\n\nuser:",
            "tone. {# reviewed #}\n\nuser:",
            "patch",
            'message "system": comments or whitespace only',
        ),
        ("sample:", "output: json\nsample:", "major", "output format text -> json"),
    ],
)
def test_bump_kinds(sample_repo: GitRepo, old: str, new: str, change: str, reason: str) -> None:
    got_change, reasons = change_of(sample_repo, old, new)
    assert got_change == change
    assert reason in reasons
    expected = {"minor": "1.1.0", "major": "2.0.0", "patch": "1.0.1"}[change]
    assert vs(sample_repo)[-1][0] == expected


def test_output_schema_changes(repo: GitRepo) -> None:
    schema = (
        "output:\n  format: json\n  schema:\n    type: object\n    required: [summary]\n"
        "    properties:\n      summary: {type: string}\n"
    )
    repo.commit("add", {P: SUMMARIZE.replace("sample:", schema + "sample:")})
    edit(
        repo,
        "      summary: {type: string}\n",
        "      summary: {type: string}\n      urgency: {type: integer}\n",
    )
    repo.commit("add field")
    edit(repo, "      urgency: {type: integer}\n", "      urgency: {type: string}\n")
    repo.commit("retype field")
    edit(repo, "    required: [summary]\n", "")
    repo.commit("summary optional")
    got = versions(Workspace(repo.path), "support/summarize")
    assert [(v.version, v.change) for v in got] == [
        ("1.0.0", "initial"),
        ("1.1.0", "minor"),
        ("2.0.0", "major"),
        ("3.0.0", "major"),
    ]
    assert got[1].reasons == ['output schema: property "urgency" added']
    assert got[2].reasons == ['property "urgency": type "integer" -> "string"']
    assert got[3].reasons == ['output schema: property "summary" no longer required']


@pytest.mark.parametrize(
    "message",
    [
        "feat!: rename the summary style",
        "fix(summarize)!: tighten wording",
        "Tighten wording\n\nBREAKING CHANGE: callers must pass the ticket id",
        "Tighten wording\n\nBREAKING-CHANGE: callers must pass the ticket id",
    ],
)
def test_commit_message_forces_major_only_for_prompts_it_touches(
    repo: GitRepo, message: str
) -> None:
    other = "prompts/other.prompt"
    repo.commit("add", {P: SUMMARIZE, other: "Hello {{ name }}\n"})
    edit(repo, "Summarize this ticket", "Summarize the ticket")
    repo.commit(message)
    edit(repo, "Hello", "Hi", path=other)
    repo.commit("fix: wording")
    (_, v2) = versions(Workspace(repo.path), "support/summarize")
    assert (v2.version, v2.change) == ("2.0.0", "major")
    assert v2.reasons[0] == "commit message marks a breaking change"
    assert vs(repo, "other") == [("1.0.0", "initial"), ("1.1.0", "minor")]


def test_breaking_word_in_prose_is_not_a_marker(sample_repo: GitRepo) -> None:
    change, _ = change_of(
        sample_repo,
        "Summarize this ticket",
        "Summarize the ticket",
        "docs: explain why this is not a breaking change",
    )
    assert change == "minor"


def test_git_mv_keeps_the_version_line(sample_repo: GitRepo) -> None:
    r = sample_repo
    (r.path / "prompts/triage").mkdir()
    r.git("mv", P, "prompts/triage/summarize.prompt")
    r.commit("move")
    ws = Workspace(r.path)
    got = versions(ws, "triage/summarize")
    assert [(v.version, v.path) for v in got] == [
        ("1.0.0", P),
        ("1.0.1", "prompts/triage/summarize.prompt"),
    ]
    assert got[1].reasons == [f"moved from {P}"] and got[1].same_as == "1.0.0"
    assert got[1].id == "triage/summarize" and got[0].id == "support/summarize"
    # the old id still finds the line; a version resolves to the content of its commit
    assert [v.version for v in versions(ws, "support/summarize")] == ["1.0.0", "1.0.1"]
    assert resolve_at(ws, "triage/summarize", "1.0.0").prompt.path == P


def test_delete_and_add_with_similar_content_is_a_move(sample_repo: GitRepo) -> None:
    r = sample_repo
    (r.path / P).unlink()
    r.commit(
        "move by hand",
        {
            "prompts/summary.prompt": SUMMARIZE.replace(
                "Summarize this ticket", "Summarize the ticket"
            )
        },
    )
    got = versions(Workspace(r.path), "summary")
    assert [(v.version, v.change) for v in got] == [("1.0.0", "initial"), ("1.1.0", "minor")]
    assert got[1].reasons == ['message "user" changed', f"moved from {P}"]


def test_frontmatter_id_keeps_identity_across_a_rewrite_and_move(repo: GitRepo) -> None:
    repo.commit("add", {"prompts/a.prompt": "---\nid: triage\n---\nRoute {{ ticket }}\n"})
    (repo.path / "prompts/a.prompt").unlink()
    repo.commit(
        "rewrite",
        {
            "prompts/routing/new-name.prompt": "---\nid: triage\ndescription: x\n---\nsystem:\nYou route tickets "
            "for a big team, carefully and quickly.\n\nuser:\n{{ ticket }}\n"
        },
    )
    got = versions(Workspace(repo.path), "triage")
    assert [(v.version, v.path) for v in got] == [
        ("1.0.0", "prompts/a.prompt"),
        ("1.1.0", "prompts/routing/new-name.prompt"),
    ]
    assert "moved from prompts/a.prompt" in got[1].reasons


def test_deleted_and_added_again_continues_the_line(sample_repo: GitRepo) -> None:
    r = sample_repo
    (r.path / P).unlink()
    r.commit("remove")
    ws = Workspace(r.path)
    with pytest.raises(RefError, match="deleted"):
        resolve_at(ws, "support/summarize", "HEAD")
    r.commit("restore", {P: SUMMARIZE})
    got = versions(Workspace(r.path), "support/summarize")
    assert [(v.version, v.change, v.same_as) for v in got] == [
        ("1.0.0", "initial", None),
        ("1.0.1", "patch", "1.0.0"),
    ]
    assert got[1].reasons == ["added again"]


def test_same_content_again_is_a_new_version_marked_same_as(sample_repo: GitRepo) -> None:
    r = sample_repo
    edit(r, "Summarize this ticket", "Summarize the ticket")
    r.commit("change")
    edit(r, "Summarize the ticket", "Summarize this ticket")
    r.commit("revert")
    got = versions(Workspace(r.path), "support/summarize")
    assert [(v.version, v.same_as) for v in got] == [
        ("1.0.0", None),
        ("1.1.0", None),
        ("1.2.0", "1.0.0"),
    ]
    assert got[2].content_hash == got[0].content_hash != got[1].content_hash


def test_content_hash_ignores_line_endings_and_trailing_blanks(sample_repo: GitRepo) -> None:
    r = sample_repo
    (r.path / P).write_bytes(SUMMARIZE.replace("\n", "  \r\n").encode())
    r.commit("crlf")
    a, b = versions(Workspace(r.path), "support/summarize")
    assert a.content_hash == b.content_hash and b.same_as == "1.0.0" and b.change == "patch"


def _feature_branch(r: GitRepo) -> list[str]:
    r.git("checkout", "-q", "-b", "feature")
    shas = []
    edit(r, "Summarize this ticket", "Summarize the ticket")
    shas.append(r.commit("one"))
    edit(r, "temperature: 0.2", "temperature: 0.3")
    shas.append(r.commit("two"))
    edit(r, "description: Summarize a support ticket", "description: Summarize tickets")
    shas.append(r.commit("three"))
    return shas


def test_merged_branch_is_one_change_on_the_first_parent_line(sample_repo: GitRepo) -> None:
    r = sample_repo
    _feature_branch(r)
    r.git("checkout", "-q", "main")
    r.commit("elsewhere", {"README.md": "hi\n"})
    r.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    got = versions(Workspace(r.path), "support/summarize")
    assert [(v.version, v.change, v.subject) for v in got] == [
        ("1.0.0", "initial", "add summarize prompt"),
        ("1.1.0", "minor", "Merge feature"),
    ]
    assert set(got[1].reasons) == {
        'message "user" changed',
        "params.temperature 0.2 -> 0.3",
        "description changed",
    }


def test_history_full_counts_every_commit(sample_repo: GitRepo) -> None:
    r = sample_repo
    r.commit("config", {"loomgit.yaml": "history: full\n"})
    _feature_branch(r)
    r.git("checkout", "-q", "main")
    r.commit("elsewhere", {"README.md": "hi\n"})
    r.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    assert vs(r) == [
        ("1.0.0", "initial"),
        ("1.1.0", "minor"),
        ("1.2.0", "minor"),
        ("1.2.1", "patch"),
    ]


def test_versions_are_deterministic_for_a_commit(sample_repo: GitRepo) -> None:
    r = sample_repo
    _feature_branch(r)
    r.git("checkout", "-q", "main")
    r.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    first = versions(Workspace(r.path), "support/summarize")
    import shutil

    shutil.rmtree(r.path / ".git" / "loomgit")
    again = versions(Workspace(r.path), "support/summarize")
    assert first == again


def test_versions_off_the_main_branch_are_provisional(sample_repo: GitRepo) -> None:
    r = sample_repo
    shas = _feature_branch(r)
    got = versions(Workspace(r.path), "support/summarize")
    assert [v.version for v in got] == [
        "1.0.0",
        f"1.1.0-dev.1+{shas[0][:7]}",
        f"1.1.0-dev.2+{shas[1][:7]}",
        f"1.1.0-dev.3+{shas[2][:7]}",
    ]
    assert [v.provisional for v in got] == [False, True, True, True]
    # compared with the last final version, as merging would compare it
    assert set(got[3].reasons) == {
        'message "user" changed',
        "params.temperature 0.2 -> 0.3",
        "description changed",
    }
    # the same commits are final once main has them (fast-forward)
    r.git("checkout", "-q", "main")
    r.git("merge", "-q", "--ff-only", "feature")
    assert vs(r) == [
        ("1.0.0", "initial"),
        ("1.1.0", "minor"),
        ("1.2.0", "minor"),
        ("1.2.1", "patch"),
    ]


def test_main_branch_setting_and_new_prompt_on_a_branch(sample_repo: GitRepo) -> None:
    r = sample_repo
    r.commit("config", {"loomgit.yaml": "main_branch: trunk\n"})
    r.git("branch", "trunk")
    r.git("checkout", "-q", "-b", "topic")
    sha = r.commit("new prompt", {"prompts/new.prompt": "Hi {{ name }}\n"})
    assert [v.version for v in versions(Workspace(r.path), "new")] == [f"1.0.0-dev.1+{sha[:7]}"]


def test_includes_bump_the_including_prompt_and_join_its_interface(repo: GitRepo) -> None:
    repo.commit(
        "add",
        {
            "prompts/partials/tone.md": "Answer in a calm tone.\n",
            "prompts/reply.prompt": 'system:\n{% include "prompts/partials/tone.md" %}\n\nuser:\n{{ question }}\n',
            "prompts/other.prompt": "Hello {{ name }}\n",
        },
    )
    first = repo.git("rev-parse", "HEAD")
    repo.commit("tone", {"prompts/partials/tone.md": "Answer in a warm tone.\n"})
    repo.commit("ws", {"prompts/partials/tone.md": "Answer in a warm tone.   \n"})
    repo.commit("audience", {"prompts/partials/tone.md": "Answer {{ audience }} in a warm tone.\n"})
    ws = Workspace(repo.path)
    got = versions(ws, "reply")
    assert [(v.version, v.change) for v in got] == [
        ("1.0.0", "initial"),
        ("1.1.0", "minor"),
        ("1.1.1", "patch"),
        ("2.0.0", "major"),
    ]
    assert got[1].reasons == ['included "prompts/partials/tone.md" changed']
    assert 'variable "audience" added (required)' in got[3].reasons
    assert vs(repo, "other") == [("1.0.0", "initial")]
    # an old version renders with the partial of its own commit, not the working tree
    r = resolve_at(ws, "reply", "1.0.0")
    assert r.commit == first
    msgs = r.prompt.render({"question": "why?"}, loader=r.loader)
    assert msgs[0]["content"] == "Answer in a calm tone."
    (repo.path / "prompts/partials/tone.md").write_text("WORKING TREE\n")
    r = resolve_at(ws, "reply", "1.1")
    assert r.version == "1.1.1"
    assert (
        r.prompt.render({"question": "q"}, loader=r.loader)[0]["content"]
        == "Answer in a warm tone.   "
    )


def test_include_added_later_is_followed_from_then_on(repo: GitRepo) -> None:
    repo.commit("add", {"prompts/partials/a.md": "A1\n", "prompts/x.prompt": "plain {{ q }}\n"})
    repo.commit("partial changes before use", {"prompts/partials/a.md": "A2\n"})
    repo.commit("use", {"prompts/x.prompt": "{% include 'prompts/partials/a.md' %} {{ q }}\n"})
    repo.commit("partial changes", {"prompts/partials/a.md": "A3\n"})
    ws = Workspace(repo.path)
    assert vs(repo, "x") == [("1.0.0", "initial"), ("1.1.0", "minor"), ("1.2.0", "minor")]
    # the cache now covers the partial; a new commit to it is seen incrementally
    repo.commit("partial again", {"prompts/partials/a.md": "A4\n"})
    assert [v.version for v in versions(ws, "x")][-1] == "1.3.0"


def test_adopting_a_folder_of_markdown_prompts_with_an_id_pattern(repo: GitRepo) -> None:
    repo.commit(
        "patterns",
        {
            "patterns/summarize/system.md": "# IDENTITY\nYou summarize.\n",
            "patterns/extract_wisdom/system.md": "# IDENTITY\nYou extract wisdom.\n",
            "patterns/summarize/README.md": "not a prompt\n",
        },
    )
    for i in range(3):
        repo.commit(
            f"tweak {i}",
            {"patterns/summarize/system.md": f"# IDENTITY\nYou summarize. Step {i}.\n"},
        )
    repo.commit(
        "adopt", {"loomgit.yaml": 'prompts:\n  - {glob: "patterns/*/system.md", id: "{1}"}\n'}
    )
    ws = Workspace(repo.path)
    assert [v.version for v in versions(ws, "summarize")] == ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
    assert [v.version for v in versions(ws, "extract_wisdom")] == ["1.0.0"]
    assert sorted(ln.id for ln in history(ws).live()) == ["extract_wisdom", "summarize"]


def _run(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_shallow_clone_is_named_with_the_fix(sample_repo: GitRepo, tmp_path: Path) -> None:
    sample_repo.commit("more", {"x.txt": "x"})
    clone = tmp_path / "clone"
    _run(tmp_path, "git", "clone", "-q", "--depth", "1", f"file://{sample_repo.path}", str(clone))
    with pytest.raises(GitError, match="shallow clone.*fetch-depth: 0"):
        versions(Workspace(clone), "support/summarize")
    # a working-tree render still works; it just has no version
    ws = Workspace(clone)
    assert working_version(ws, ws.prompt("support/summarize")) is None


def test_empty_repository(repo: GitRepo) -> None:
    ws = Workspace(repo.path)
    assert history(ws).live() == []
    repo.write({P: SUMMARIZE})
    (p,) = pending_changes(ws, "worktree")
    assert p.version == f"1.0.0-dev+{content_hash(SUMMARIZE)[:7]}" and p.status == "added"
    assert pending_changes(ws, "index") == []
    repo.git("add", P)
    (p,) = pending_changes(Workspace(repo.path), "index")
    assert (p.id, p.version, p.change) == ("support/summarize", "1.0.0", "initial")
    with pytest.raises(RefError, match="no commits yet"):
        resolve_at(ws, "support/summarize", "1.0.0")


def test_detached_head(sample_repo: GitRepo) -> None:
    r = sample_repo
    edit(r, "Summarize this ticket", "Summarize the ticket")
    r.commit("change")
    r.git("checkout", "-q", "--detach", "HEAD~1")
    assert vs(r) == [("1.0.0", "initial")]
    r.git("checkout", "-q", "--detach", "main")
    assert vs(r) == [("1.0.0", "initial"), ("1.1.0", "minor")]
    edit(r, "Summarize the ticket", "Summarize a ticket")
    sha = r.commit("detached work")
    assert vs(r)[-1] == (f"1.2.0-dev.1+{sha[:7]}", "minor")


def test_prompt_only_in_the_index(sample_repo: GitRepo) -> None:
    r = sample_repo
    r.write({"prompts/new.prompt": "Hello {{ name }}\n"})
    r.git("add", "prompts/new.prompt")
    edit(r, "Summarize this ticket", "Summarize the ticket")  # unstaged
    ws = Workspace(r.path)
    staged = pending_changes(ws, "index")
    assert [(p.id, p.version, p.status) for p in staged] == [("new", "1.0.0", "added")]
    worktree = {p.id: p for p in pending_changes(ws, "worktree")}
    assert worktree["support/summarize"].version.startswith("1.1.0-dev+")
    assert worktree["support/summarize"].reasons == ['message "user" changed']
    assert worktree["new"].version.startswith("1.0.0-dev+")


def test_pending_changes_for_the_commit_message_hook(sample_repo: GitRepo) -> None:
    r = sample_repo
    edit(r, "Summarize this ticket", "Summarize the ticket")
    r.git("add", P)
    ws = Workspace(r.path)
    (p,) = pending_changes(ws, "index")
    assert (p.id, p.version, p.change, p.reasons, p.previous) == (
        "support/summarize",
        "1.1.0",
        "minor",
        ['message "user" changed'],
        "1.0.0",
    )
    assert p.summary == 'minor: message "user" changed'
    (p,) = pending_changes(ws, "index", message="feat!: new wording")
    assert (p.version, p.change) == ("2.0.0", "major")
    # what the commit then really gets is the same
    r.git("commit", "-q", "-m", "wording")
    assert vs(r)[-1] == ("1.1.0", "minor")


def test_staged_rename_and_deletion(sample_repo: GitRepo) -> None:
    r = sample_repo
    r.commit("other", {"prompts/other.prompt": "Hi {{ n }}\n"})
    r.git("mv", P, "prompts/summary.prompt")
    r.git("rm", "-q", "prompts/other.prompt")
    got = pending_changes(Workspace(r.path), "index", include_deleted=True)
    assert [(p.id, p.status, p.version, p.previous) for p in got] == [
        ("other", "deleted", None, "1.0.0"),
        ("summary", "renamed", "1.0.1", "1.0.0"),
    ]
    assert pending_changes(Workspace(r.path), "index")[0].id == "summary"


def test_working_version(sample_repo: GitRepo) -> None:
    r = sample_repo
    ws = Workspace(r.path)
    assert working_version(ws, ws.prompt("support/summarize")) == "1.0.0"
    edit(r, "params: {temperature: 0.2, max_tokens: 300}", "params: {temperature: 0.9}")
    ws = Workspace(r.path)
    prompt = ws.prompt("support/summarize")
    expected = content_hash(prompt.text)[:7]
    assert working_version(ws, prompt) == f"1.1.0-dev+{expected}"


def test_resolve_at_every_kind_of_reference(sample_repo: GitRepo) -> None:
    r = sample_repo
    first = r.git("rev-parse", "HEAD")
    edit(r, "temperature: 0.2", "temperature: 0.3")
    r.commit("t")
    edit(r, "description: Summarize a support ticket", "description: Summarize")
    r.commit("d")
    edit(r, "Summarize this ticket", "Summarize the ticket")
    r.commit("m")
    ws = Workspace(r.path)
    assert [v.version for v in versions(ws, "support/summarize")] == [
        "1.0.0",
        "1.1.0",
        "1.1.1",
        "1.2.0",
    ]
    assert resolve_at(ws, "support/summarize", "1.1.0").prompt.params["temperature"] == 0.3
    assert resolve_at(ws, "support/summarize", "1.1").version == "1.1.1"
    assert resolve_at(ws, "summarize", "latest").version == "1.2.0"
    got = resolve_at(ws, P, first[:8])
    assert (got.version, got.commit) == ("1.0.0", first)
    assert resolve_at(ws, "support/summarize", "main~1").version == "1.1.1"
    for bad, msg in [
        ("9.9.9", "has no version 9.9.9 \\(latest is 1.2.0"),
        ("3.1", "has no version 3.1.x"),
        ("nonsense", "'nonsense' is not a version"),
    ]:
        with pytest.raises(RefError, match=msg):
            resolve_at(ws, "support/summarize", bad)
    with pytest.raises(RefError, match="unknown prompt 'nope'"):
        resolve_at(ws, "nope", "1.0.0")


def test_classify_is_reusable_on_parsed_prompts() -> None:
    a = parse_prompt(SUMMARIZE, "a.prompt")
    b = parse_prompt(
        SUMMARIZE.replace(
            "  tone: {type: string, enum: [formal, casual], default: formal}\n", ""
        ).replace("{{ tone }}", "calm"),
        "a.prompt",
    )
    change, reasons = classify(a, b)
    assert change == "major" and reasons[0] == 'variable "tone" removed'
    assert classify(a, a) == ("patch", ["whitespace only"])
    assert classify(a, a, message="refactor!: x")[0] == "major"


def test_git_processes_do_not_grow_with_prompts(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"prompts/p{i}.prompt": f"Prompt {i} says {{{{ x }}}}\n" for i in range(40)}
    repo.commit("many", files)
    for n in range(5):
        repo.commit(
            f"edit {n}",
            {f"prompts/p{i}.prompt": f"Prompt {i} v{n} {{{{ x }}}}\n" for i in range(n, 40, 3)},
        )
    calls: list[list[str]] = []
    real_popen = subprocess.Popen

    class Popen(real_popen):  # type: ignore[misc,valid-type]
        def __init__(self, args, *a, **kw):  # type: ignore[no-untyped-def]
            calls.append(list(args))
            super().__init__(args, *a, **kw)

    monkeypatch.setattr(subprocess, "Popen", Popen)  # subprocess.run starts processes here too
    h = history(Workspace(repo.path))
    assert len(h.live()) == 40
    assert all(len(h.versions(h.state.lines[e.key])) >= 2 for e in h.live())
    git_calls = [c for c in calls if c and c[0] == "git"]
    assert len(git_calls) <= 8, "\n".join(" ".join(c[:6]) for c in git_calls)
    assert sum("log" in c for c in git_calls) == 1
    assert sum("cat-file" in c for c in git_calls) == 1


def test_uncommitted_partial_change_gives_the_including_prompt_a_dev_version(repo: GitRepo) -> None:
    repo.commit(
        "add",
        {
            "prompts/partials/tone.md": "Be calm.\n",
            "prompts/reply.prompt": "{% include 'prompts/partials/tone.md' %} {{ q }}\n",
        },
    )
    repo.write({"prompts/partials/tone.md": "Be warm.\n"})
    ws = Workspace(repo.path)
    (p,) = pending_changes(ws, "worktree")
    assert (p.id, p.change, p.reasons) == (
        "reply",
        "minor",
        ['included "prompts/partials/tone.md" changed'],
    )
    assert p.version.startswith("1.1.0-dev+")
    assert working_version(ws, ws.prompt("reply")) == p.version
    assert pending_changes(ws, "index") == []
    repo.git("add", "prompts/partials/tone.md")
    assert [x.version for x in pending_changes(Workspace(repo.path), "index")] == ["1.1.0"]


def test_merge_that_brings_a_new_and_a_moved_prompt(sample_repo: GitRepo) -> None:
    r = sample_repo
    r.git("checkout", "-q", "-b", "feature")
    r.commit("new", {"prompts/new.prompt": "New {{ x }}\n"})
    (r.path / "prompts/triage").mkdir()
    r.git("mv", P, "prompts/triage/summarize.prompt")
    r.commit("move")
    r.git("checkout", "-q", "main")
    r.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    ws = Workspace(r.path)
    assert [(v.version, v.subject) for v in versions(ws, "new")] == [("1.0.0", "Merge feature")]
    moved = versions(ws, "triage/summarize")
    assert [(v.version, v.reasons) for v in moved] == [
        ("1.0.0", ["first appearance"]),
        ("1.0.1", [f"moved from {P}"]),
    ]


def test_main_branch_is_the_remotes_default_branch(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "trunk")
    repo.commit("add", {P: SUMMARIZE})  # 'main' was never born: trunk is the only branch
    clone = tmp_path / "clone"
    _run(tmp_path, "git", "clone", "-q", f"file://{repo.path}", str(clone))
    _run(clone, "git", "checkout", "-q", "-b", "main")  # a local 'main' that is a branch
    (clone / P).write_text(SUMMARIZE.replace("Summarize this ticket", "Summarize a ticket"))
    _run(clone, "git", "commit", "-q", "-am", "work")
    sha = _run(clone, "git", "rev-parse", "HEAD").strip()
    assert [v.version for v in versions(Workspace(clone), "support/summarize")] == [
        "1.0.0",
        f"1.1.0-dev.1+{sha[:7]}",
    ]


def test_mode_only_change_is_not_a_pending_version(sample_repo: GitRepo) -> None:
    (sample_repo.path / P).chmod(0o755)
    ws = Workspace(sample_repo.path)
    assert sample_repo.git("status", "--porcelain") == f"M {P}"
    assert pending_changes(ws, "worktree") == []
    assert working_version(ws, ws.prompt("support/summarize")) == "1.0.0"


def test_user_git_settings_do_not_change_versions(sample_repo: GitRepo) -> None:
    r = sample_repo
    _feature_branch(r)
    r.git("checkout", "-q", "main")
    r.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    want = vs(r)
    for key, value in [
        ("log.showRoot", "false"),
        ("log.diffMerges", "combined"),
        ("diff.renames", "false"),
        ("log.follow", "true"),
        ("diff.relative", "true"),
        ("log.showSignature", "true"),
    ]:
        r.git("config", key, value)
    import importlib
    import shutil

    shutil.rmtree(r.path / ".git" / "loomgit")
    importlib.import_module("loomgit.history.versions")._MEMO.clear()
    assert vs(r) == want == [("1.0.0", "initial"), ("1.1.0", "minor")]


def test_a_branch_touching_many_prompts_reads_through_one_cat_file(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.commit("many", {f"prompts/p{i}.prompt": f"Prompt {i} {{{{ x }}}}\n" for i in range(30)})
    history(Workspace(repo.path))
    repo.git("checkout", "-q", "-b", "topic")
    sha = repo.commit(
        "all", {f"prompts/p{i}.prompt": f"Prompt {i} now {{{{ x }}}}\n" for i in range(30)}
    )
    calls: list[list[str]] = []
    real_popen = subprocess.Popen

    class Popen(real_popen):  # type: ignore[misc,valid-type]
        def __init__(self, args, *a, **kw):  # type: ignore[no-untyped-def]
            calls.append(list(args))
            super().__init__(args, *a, **kw)

    monkeypatch.setattr(subprocess, "Popen", Popen)
    h = history(Workspace(repo.path))
    latest = [h.latest_of(e.key) for e in h.live()]
    assert {v.version for v in latest if v} == {f"1.1.0-dev.1+{sha[:7]}"}
    assert sum("cat-file" in c for c in calls) <= 2, calls


def test_includes_met_in_a_round_are_all_found_before_the_next_round(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files outside the globs met at different commits (an include, a later include of
    another prompt, a tool file) are all followed; the round that meets the first of them
    builds no more versions, since the next round folds again with them. (The last
    commit's prompts use none of them, so the pass cannot cover them from the start.)"""
    from loomgit.history.facts import FactsBuilder

    repo.commit(
        "a",
        {
            "prompts/shared/a.md": "A1\n",
            "prompts/x.prompt": "{% include 'prompts/shared/a.md' %} {{ q }}\n",
        },
    )
    for i in range(5):
        repo.commit(
            f"x {i}",
            {"prompts/x.prompt": f"{{% include 'prompts/shared/a.md' %}} {{{{ q }}}} {i}\n"},
        )
    repo.commit("b", {"prompts/shared/b.md": "B1\n", "prompts/y.prompt": "plain {{ r }}\n"})
    repo.commit("use b", {"prompts/y.prompt": "{% include 'prompts/shared/b.md' %} {{ r }}\n"})
    tool = '{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}\n'
    repo.commit(
        "tool",
        {
            "prompts/shared/f.json": tool,
            "prompts/z.prompt": "---\ntools:\n  - $ref: prompts/shared/f.json\n---\nHi\n",
        },
    )
    repo.commit(
        "change all",
        {
            "prompts/shared/a.md": "A2\n",
            "prompts/shared/b.md": "B2 {{ s }}\n",
            "prompts/shared/f.json": tool.replace('"f"', '"g"'),
        },
    )
    repo.commit(
        "inline all",
        {"prompts/x.prompt": "A2 {{ q }}\n", "prompts/y.prompt": "B2 {{ s }} {{ r }}\n"}
        | {"prompts/z.prompt": "Hi\n"},
    )
    built = [0]
    real = FactsBuilder.from_text

    def counting(self, text, path, load=None):  # type: ignore[no-untyped-def]
        built[0] += 1
        return real(self, text, path, load)

    monkeypatch.setattr(FactsBuilder, "from_text", counting)
    assert vs(repo, "x")[-2:] == [("1.6.0", "minor"), ("1.7.0", "minor")]
    assert vs(repo, "y")[:3] == [("1.0.0", "initial"), ("1.1.0", "minor"), ("2.0.0", "major")]
    assert [v[0] for v in vs(repo, "z")][:2] == ["1.0.0", "2.0.0"]
    made = sum(len(versions(Workspace(repo.path), p)) for p in ("x", "y", "z"))
    # the first round stops building versions at the first include it meets (1 version),
    # finds the rest by their names, and the second round builds every version once
    assert built[0] <= made + 1 + 1  # + the tool file's prompt, read for its $ref


def test_an_include_met_early_in_a_long_history_begins_the_pass_again_at_once(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partial included from the first commits on (and no longer at the last): the
    cold pass folds again with it covered as soon as it is met, not after a whole round
    of the history, and its changes still bump the prompt that includes it."""
    from loomgit.history.fold import Folder

    repo.commit(
        "a",
        {
            "prompts/shared/a.md": "A1\n",
            "prompts/x.prompt": "{% include 'prompts/shared/a.md' %} {{ q }}\n",
        },
    )
    for i in range(40):
        repo.commit(f"y {i}", {"prompts/y.prompt": f"plain {{{{ r }}}} {i}\n"})
    repo.commit("reword a", {"prompts/shared/a.md": "A2\n"})
    repo.commit("inline a", {"prompts/x.prompt": "A2 {{ q }}\n"})
    folded = [0]
    real = Folder.apply

    def counting(self, c):  # type: ignore[no-untyped-def]
        folded[0] += 1
        return real(self, c)

    monkeypatch.setattr(Folder, "apply", counting)
    assert vs(repo, "x") == [("1.0.0", "initial"), ("1.1.0", "minor"), ("1.2.0", "minor")]
    assert [v[0] for v in vs(repo, "y")][-1] == "1.39.0"
    assert folded[0] == 1 + 43  # the first commit, then the whole history once
