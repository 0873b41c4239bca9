"""``loomgit init --adopt`` on real repositories: what it proposes for the prompt-like
files a repository already tracks, what it writes, and when it refuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GitRepo

from loomgit.app import adopt

LOOMGIT = str(Path(sys.executable).parent / "loomgit")


def dated(repo: GitRepo, monkeypatch: pytest.MonkeyPatch, when: str, message: str, files):  # type: ignore[no-untyped-def]
    with monkeypatch.context() as m:
        m.setenv("GIT_AUTHOR_DATE", f"{when}T12:00:00Z")
        m.setenv("GIT_COMMITTER_DATE", f"{when}T12:00:00Z")
        repo.commit(message, files)


def patterns(names: list[str], text: str = "# IDENTITY\nYou are {n}.\n") -> dict[str, str]:
    return {f"patterns/{n}/system.md": text.format(n=n) for n in names}


def test_folders_of_system_md(repo: GitRepo, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    dated(repo, monkeypatch, "2023-05-01", "first", patterns(["summarize", "extract_wisdom"]))
    dated(repo, monkeypatch, "2023-06-01", "more", patterns(["write_essay"]))
    dated(repo, monkeypatch, "2024-02-01", "edit", patterns(["summarize"], "# IDENTITY\nv2 {n}\n"))
    repo.commit("readme", {"patterns/README.md": "about the patterns\n", "README.md": "x\n"})

    res = cli(["init", "--adopt", "--yes"], cwd=repo.path)
    assert res.exit_code == 0, res.err
    assert "3 prompt-like file(s) among the 5 files git does not ignore:" in res.out
    assert '  patterns/*/system.md  (folders of system.md, id "{1}")\n' in res.out
    assert "    3 prompt(s), e.g. extract_wisdom, summarize, ...\n" in res.out
    assert "    history: 3 commit(s) since 2023-05-01\n" in res.out
    assert '    - {glob: "patterns/*/system.md", id: "{1}", role: "system"}\n' in res.out
    assert "created loomgit.yaml" in res.out
    assert "created .pre-commit-config.yaml" in res.out
    assert "created .github/workflows/loomgit.yml" in res.out
    assert not (repo.path / "prompts").exists()  # no sample prompt when adopting

    cfg = (repo.path / "loomgit.yaml").read_text()
    assert 'prompts:\n  - {glob: "patterns/*/system.md", id: "{1}", role: "system"}\nstages:' in cfg
    res = cli(["list", "--json"], cwd=repo.path)
    assert res.exit_code == 0, res.err
    assert '"summarize"' in res.out and '"1.1.0"' in res.out  # the edit is a version
    assert cli(["check"], cwd=repo.path).exit_code == 0


def test_a_prompty_folder(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    body = "---\nname: {n}\ndescription: {n}\n---\nsystem:\nYou help.\n\nuser:\n{{{{q}}}}\n"
    repo.commit(
        "prompty",
        {
            "prompty/basic.prompty": body.format(n="basic"),
            "prompty/chat/chat.prompty": body.format(n="chat"),
            "src/app.py": "print('hi')\n",
        },
    )
    res = cli(["init", "--adopt", "--yes"], cwd=repo.path)
    assert res.exit_code == 0, res.err
    assert "  prompty/**/*.prompty  (.prompty files)\n" in res.out
    assert "    2 prompt(s), e.g. basic, chat/chat\n" in res.out
    assert "    history: 1 commit(s) since " in res.out
    assert '  - "prompty/**/*.prompty"\n' in (repo.path / "loomgit.yaml").read_text()
    res = cli(["list"], cwd=repo.path)
    assert "chat/chat" in res.out and "basic" in res.out


def test_a_mixed_repository(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit(
        "mixed",
        {
            **patterns(["a", "b"]),
            "samples/x.prompty": "---\nname: x\n---\nuser:\nhi\n",
            "app/prompts/support/triage.md": "Triage {{ ticket }}\n",
            "app/prompts/greet.txt": "Hello\n",
            "app/prompts/README.md": "how to write prompts\n",
            "app/prompts/support/triage.tests.yaml": "cases: []\n",
            "docs/guide.md": "{{ not a prompt\n",
            "node_modules/pkg/prompts/x.md": "vendored\n",
            ".github/prompts/y.prompt": "hidden\n",
        },
    )
    res = cli(["init", "--adopt", "--yes"], cwd=repo.path)
    assert res.exit_code == 0, res.err
    cfg = (repo.path / "loomgit.yaml").read_text()
    assert (
        "prompts:\n"
        '  - {glob: "patterns/*/system.md", id: "{1}", role: "system"}\n'
        '  - "samples/**/*.prompty"\n'
        '  - "app/prompts/**/*.md"\n'
        '  - "app/prompts/**/*.txt"\n'
        "stages:"
    ) in cfg
    assert "    2 prompt(s), e.g. README, support/triage\n" in res.out
    assert (
        "    note: app/prompts/README.md looks like documentation; the glob lists it as a prompt"
        in res.out
    )
    for never in ("docs/guide.md", "node_modules", ".github/prompts", "triage.tests.yaml"):
        assert never not in res.out
    ids = cli(["list", "--json"], cwd=repo.path).out
    for ident in ('"a"', '"b"', '"x"', '"support/triage"', '"greet"'):
        assert ident in ids


def test_ids_claimed_twice_are_named(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit("two", {"prompts/a.md": "A\n", "prompts/a.txt": "A\n"})
    res = cli(["init", "--adopt", "--yes"], cwd=repo.path)
    assert res.exit_code == 0, res.err
    assert "note: id 'a' is claimed by prompts/a.md, prompts/a.txt" in res.out


def test_an_empty_repository_is_refused(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    res = cli(["init", "--adopt", "--yes"], cwd=repo.path)
    assert res.exit_code == 2
    assert res.err.startswith(
        "loomgit: error: no prompt-like files among the 0 files git does not ignore"
    )
    assert len(res.err.strip().splitlines()) == 1
    assert list(repo.path.iterdir()) == [repo.path / ".git"]


def test_untracked_files_are_proposed_and_ignored_ones_are_not(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit("ignore", {".gitignore": "build/\n"})
    repo.write({**patterns(["a", "b"]), "build/prompts/x.md": "generated\n"})
    res = cli(["init", "--adopt", "--yes"], cwd=repo.path)
    assert res.exit_code == 0, res.err
    assert "    history: none yet (not committed)\n" in res.out
    assert "build/" not in res.out
    assert '"a"' in cli(["list", "--json"], cwd=repo.path).out


def test_an_existing_loomgit_yaml_is_never_overwritten(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit("x", {**patterns(["a", "b"]), "loomgit.yaml": "prompts: [x/*.prompt]\n"})
    res = cli(["init", "--adopt", "--yes"], cwd=repo.path)
    assert res.exit_code == 2
    assert (
        '    - {glob: "patterns/*/system.md", id: "{1}", role: "system"}' in res.out
    )  # still shown
    assert res.err.strip() == (
        "loomgit: error: loomgit.yaml already exists; not overwritten: add the globs above "
        "to its 'prompts:' list, or move it away and rerun"
    )
    assert (repo.path / "loomgit.yaml").read_text() == "prompts: [x/*.prompt]\n"
    assert not (repo.path / ".pre-commit-config.yaml").exists()


def test_existing_hook_config_and_workflow_are_kept(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit("x", {**patterns(["a", "b"]), ".pre-commit-config.yaml": "repos: []\n"})
    res = cli(["init", "--adopt", "--yes"], cwd=repo.path)
    assert res.exit_code == 0, res.err
    assert "skipped .pre-commit-config.yaml (already exists)" in res.out
    assert (repo.path / ".pre-commit-config.yaml").read_text() == "repos: []\n"


def test_without_a_terminal_it_asks_for_yes(repo: GitRepo) -> None:
    repo.commit("x", patterns(["a", "b"]))
    res = subprocess.run(
        [LOOMGIT, "init", "--adopt"],
        cwd=repo.path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert "patterns/*/system.md" in res.stdout
    assert res.stderr == (
        "loomgit: error: nothing written: stdin is not a terminal to confirm on; rerun with --yes\n"
    )
    assert not (repo.path / "loomgit.yaml").exists()


def test_yes_without_adopt_is_a_usage_error(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    res = cli(["init", "--yes"], cwd=repo.path)
    assert res.exit_code == 2
    assert "--yes goes with --adopt" in res.err
    assert not (repo.path / "loomgit.yaml").exists()


def test_system_md_folders_carry_role_system(repo: GitRepo) -> None:
    repo.commit("x", patterns(["a", "b"]))
    [p] = adopt.propose(repo.path).proposals
    assert p.role == "system"
    assert p.entry() == '{glob: "patterns/*/system.md", id: "{1}", role: "system"}'


def test_system_md_and_prompt_md_side_by_side_get_distinct_ids(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit(
        "x",
        {
            **patterns(["a", "b"]),
            "patterns/a/prompt.md": "A\n",
            "patterns/b/prompt.md": "B\n",
        },
    )
    res = cli(["init", "--adopt", "--yes"], cwd=repo.path)
    assert res.exit_code == 0, res.err
    cfg = (repo.path / "loomgit.yaml").read_text()
    assert '{glob: "patterns/*/prompt.md", id: "{1}/prompt"}' in cfg
    assert '{glob: "patterns/*/system.md", id: "{1}/system", role: "system"}' in cfg
    assert "claimed by" not in res.out


def test_a_single_prompt_md_does_not_change_the_system_md_ids(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit("x", {**patterns(["a", "b"]), "patterns/a/prompt.md": "A\n"})
    res = cli(["init", "--adopt", "--yes"], cwd=repo.path)
    assert res.exit_code == 0, res.err
    cfg = (repo.path / "loomgit.yaml").read_text()
    assert 'prompts:\n  - {glob: "patterns/*/system.md", id: "{1}", role: "system"}\nstages:' in cfg


def test_a_symlinked_prompt_is_not_proposed(repo: GitRepo) -> None:
    # loomgit refuses symlinked prompts, so adopting must not list one as a prompt
    repo.commit("x", patterns(["a", "b"]))
    (repo.path / "patterns" / "c").mkdir()
    (repo.path / "patterns" / "c" / "system.md").symlink_to("../a/system.md")
    [p] = adopt.propose(repo.path).proposals
    assert p.paths == ("patterns/a/system.md", "patterns/b/system.md")
