"""Ambiguity an attacker can use (issue 14, item 8): two files with one id, an id pattern
naming a wildcard its glob lacks."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SUMMARIZE, GitRepo

# loomgit.yaml -> (line, text of the one error)
BAD_ID_PATTERNS = {
    'prompts:\n  - {glob: "patterns/*/system.md", id: "{2}"}\n': (
        2,
        "prompts: id '{2}' uses placeholder {2} but glob 'patterns/*/system.md'"
        " has 1 wildcard (use {1})",
    ),
    'prompts:\n  - prompts/**/*.prompt\n  - glob: "patterns/*/system.md"\n    id: "{0}"\n': (
        4,
        "prompts: id '{0}' uses placeholder {0} but glob 'patterns/*/system.md'"
        " has 1 wildcard (use {1})",
    ),
    'prompts:\n  - {glob: "patterns/system.md", id: "p/{1}"}\n': (
        2,
        "prompts: id 'p/{1}' uses placeholder {1} but glob 'patterns/system.md' has no wildcards",
    ),
    'prompts:\n  - {glob: "lib/**/*/*.md", id: "{1}{2}/{4}"}\n': (
        2,
        "prompts: id '{1}{2}/{4}' uses placeholder {4} but glob 'lib/**/*/*.md'"
        " has 3 wildcards (use {1}..{3})",
    ),
}


@pytest.mark.parametrize("cfg", sorted(BAD_ID_PATTERNS))
@pytest.mark.parametrize("command", [["check"], ["list"], ["render", "x"]])
def test_id_placeholder_the_glob_lacks_is_a_config_error(
    repo: GitRepo, cli: Any, cfg: str, command: list[str]
) -> None:
    repo.commit("patterns", {"loomgit.yaml": cfg, "patterns/x/system.md": "system:\nhi\n"})
    line, text = BAD_ID_PATTERNS[cfg]
    r = cli(command, cwd=repo.path)
    assert r.exit_code == 2, r.out + r.err
    assert r.err.strip().splitlines() == [f"loomgit: error: loomgit.yaml:{line}: {text}"]
    assert "no problems" not in r.out


def test_id_placeholders_within_the_glob_still_work(repo: GitRepo, cli: Any) -> None:
    repo.commit(
        "patterns",
        {
            "loomgit.yaml": 'prompts:\n  - {glob: "patterns/*/*.prompt", id: "{2}/{1}"}\n',
            "patterns/support/summarize.prompt": SUMMARIZE,
        },
    )
    r = cli(["list"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    assert "summarize/support" in r.out


def _prompt(ident: str, word: str) -> str:
    return f"---\nid: {ident}\ndescription: {word}\n---\nuser:\n{word} says hi\n"


AMBIGUOUS = (
    "loomgit: error: id 'support/triage' is used by 2 files: prompts/a.prompt,"
    " prompts/b.prompt; set a different id in one of them, or name the file by its path"
)


@pytest.fixture
def dup_repo(repo: GitRepo) -> GitRepo:
    """Two committed files that both say ``id: support/triage``."""
    repo.commit("a", {"prompts/a.prompt": _prompt("support/triage", "A")})
    repo.commit("b", {"prompts/b.prompt": _prompt("support/triage", "B")})
    return repo


def test_check_fails_naming_both_files(dup_repo: GitRepo, cli: Any) -> None:
    r = cli(["check"], cwd=dup_repo.path)
    assert r.exit_code == 1, r.out + r.err
    errors = [ln for ln in r.out.splitlines() if ": error: " in ln]
    assert errors == [
        "prompts/a.prompt:2: error: id 'support/triage' is also used by prompts/b.prompt",
        "prompts/b.prompt:2: error: id 'support/triage' is also used by prompts/a.prompt",
    ]
    one = cli(["check", "prompts/b.prompt"], cwd=dup_repo.path)
    assert one.exit_code == 1
    assert "prompts/b.prompt:2: error: id 'support/triage' is also used by prompts/a.prompt" in (
        one.out
    )


@pytest.mark.parametrize(
    "args",
    [
        ["render", "support/triage"],
        ["render", "triage"],
        ["render", "support/triage@1.0.0"],
        ["show", "support/triage"],
        ["show", "support/triage@HEAD"],
        ["log", "support/triage"],
        ["eval", "support/triage"],
        ["diff", "support/triage"],
    ],
)
def test_commands_refuse_to_pick_one(dup_repo: GitRepo, cli: Any, args: list[str]) -> None:
    r = cli(args, cwd=dup_repo.path)
    assert r.exit_code == 1, r.out + r.err
    assert r.err.strip().splitlines() == [AMBIGUOUS]
    assert "says hi" not in r.out


def test_a_path_still_names_one_of_them(dup_repo: GitRepo, cli: Any) -> None:
    r = cli(["render", "prompts/b.prompt"], cwd=dup_repo.path)
    assert r.exit_code == 0, r.err
    assert "B says hi" in r.out


def test_list_shows_both_and_warns(dup_repo: GitRepo, cli: Any) -> None:
    r = cli(["list"], cwd=dup_repo.path)
    assert r.exit_code == 0, r.err
    rows = [ln.split()[:3] for ln in r.out.splitlines()[1:]]
    assert rows == [
        ["support/triage", "1.0.0", "prompts/a.prompt"],
        ["support/triage", "1.0.0", "prompts/b.prompt"],
    ]
    assert r.err.strip() == AMBIGUOUS.replace("error:", "warning:", 1)


def test_history_follows_the_live_file_not_the_older_line(repo: GitRepo, cli: Any) -> None:
    """The first file's line held the id; once it is deleted the id names the other file."""
    repo.commit("a", {"prompts/a.prompt": _prompt("support/triage", "A")})
    repo.commit("b", {"prompts/b.prompt": _prompt("support/triage", "B")})
    repo.git("rm", "-q", "prompts/a.prompt")
    repo.commit("drop a")
    r = cli(["log", "support/triage"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    assert r.out.splitlines()[0] == "support/triage (prompts/b.prompt)"
    shown = cli(["render", "support/triage@1.0.0"], cwd=repo.path)
    assert shown.exit_code == 0, shown.err
    assert "B says hi" in shown.out


def test_two_globs_giving_one_id(repo: GitRepo, cli: Any) -> None:
    repo.commit(
        "two globs",
        {
            "loomgit.yaml": "prompts:\n  - prompts/**/*.prompt\n  - {glob: 'lib/*.prompt', id: 'x/{1}'}\n",
            "prompts/x/summarize.prompt": SUMMARIZE,
            "lib/summarize.prompt": SUMMARIZE,
        },
    )
    r = cli(["check"], cwd=repo.path)
    assert r.exit_code == 1
    assert (
        "lib/summarize.prompt: error: id 'x/summarize' is also used by prompts/x/summarize.prompt"
        in r.out
    )
    rr = cli(["render", "x/summarize", "--var", "ticket=t"], cwd=repo.path)
    assert rr.exit_code == 1
    assert (
        "id 'x/summarize' is used by 2 files: lib/summarize.prompt, prompts/x/summarize.prompt"
        in rr.err
    )


def test_ci_fails_a_pull_request_that_adds_a_second_file_with_an_id(
    repo: GitRepo, cli: Any
) -> None:
    repo.commit(
        "a",
        {
            "prompts/a.prompt": _prompt("support/triage", "A"),
            "prompts/a.tests.yaml": "providers: [echo]\ncases:\n  - name: c\n    assert:\n"
            "      - contains: hi\n",
        },
    )
    repo.git("checkout", "-q", "-b", "pr")
    repo.commit("b", {"prompts/b.prompt": _prompt("support/triage", "B")})
    r = cli(["ci", "--base", "main", "--no-comment"], cwd=repo.path)
    assert r.exit_code == 1, r.out + r.err
    assert r.out.splitlines()[0] == "loomgit: 1 id used by more than one file"
    assert AMBIGUOUS.removeprefix("loomgit: error: ") in r.out
    md = (repo.path / ".git" / "loomgit" / "ci" / "report.md").read_text()
    assert md.startswith("## ❌ loomgit: 1 id used by more than one file")
    assert "**Why it fails**" in md and "support/triage" in md


def test_the_commit_hook_blocks_two_staged_files_with_one_id(repo: GitRepo, cli: Any) -> None:
    repo.write(
        {
            "prompts/a.prompt": _prompt("support/triage", "A"),
            "prompts/b.prompt": _prompt("support/triage", "B"),
        }
    )
    repo.git("add", "-A")
    r = cli(["hook", "check"], cwd=repo.path)
    assert r.exit_code == 1
    assert "prompts/b.prompt:2: error: id 'support/triage' is also used by prompts/a.prompt" in (
        r.out
    )
