"""`Prompt-Version:` trailers written by the prepare-commit-msg hook on real `git commit`s."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import GitRepo

from loomgit.app.hooks.trailers import ABORT_HINT, apply_trailers, message_text

SUMMARIZE = "prompts/support/summarize.prompt"


@pytest.fixture
def hooked(repo: GitRepo, cli) -> GitRepo:  # type: ignore[no-untyped-def]
    assert cli(["init"], cwd=repo.path).exit_code == 0
    repo.commit("init")
    assert cli(["hooks", "install"], cwd=repo.path).exit_code == 0
    return repo


def git_commit(repo: GitRepo, *args: str, editor: str | None = None) -> str:
    env = dict(os.environ)
    if editor is not None:
        env["GIT_EDITOR"] = editor
    res = subprocess.run(
        ["git", "commit", "-q", *args],
        cwd=repo.path,
        text=True,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert res.returncode == 0, res.stdout
    return res.stdout


def message(repo: GitRepo) -> str:
    return repo.git("log", "-1", "--format=%B")


def edit(repo: GitRepo, rel: str, old: str, new: str) -> None:
    p = repo.path / rel
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new))
    repo.git("add", rel)


def trailers(repo: GitRepo) -> list[str]:
    return [ln for ln in message(repo).splitlines() if ln.startswith("Prompt-Version:")]


def test_commit_gets_one_trailer_per_changed_prompt(hooked: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    edit(hooked, SUMMARIZE, "Summarize this ticket:", "Summarize this ticket briefly:")
    assert cli(["new", "billing/refund"], cwd=hooked.path).exit_code == 0
    hooked.git("add", "-A")
    git_commit(hooked, "-m", "brief summaries, refunds")
    assert message(hooked) == (
        "brief summaries, refunds\n\n"
        "Prompt-Version: billing/refund 1.0.0 (initial: first appearance)\n"
        'Prompt-Version: support/summarize 1.1.0 (minor: message "user" changed)'
    )


def test_amend_does_not_repeat_trailers(hooked: GitRepo) -> None:
    edit(hooked, SUMMARIZE, "Summarize this ticket:", "Summarize this ticket briefly:")
    git_commit(hooked, "-m", "brief")
    first = message(hooked)
    git_commit(hooked, "--amend", "--no-edit")
    assert message(hooked) == first
    git_commit(hooked, "--amend", editor="true")  # the editor path of --amend
    assert message(hooked) == first
    assert len(trailers(hooked)) == 1


def test_amend_with_more_prompt_changes_recomputes_from_the_parent(hooked: GitRepo) -> None:
    edit(hooked, SUMMARIZE, "tags: [support]", "tags: [support, oncall]")
    git_commit(hooked, "-m", "tag")
    assert trailers(hooked) == ["Prompt-Version: support/summarize 1.0.1 (patch: tags changed)"]
    # the amended commit also changes the message text: one minor bump over the parent
    edit(hooked, SUMMARIZE, "Summarize this ticket:", "Summarize this ticket briefly:")
    git_commit(hooked, "--amend", "--no-edit")
    [line] = trailers(hooked)
    assert line.startswith("Prompt-Version: support/summarize 1.1.0 (minor: ")


def test_stale_trailer_in_message_is_replaced(hooked: GitRepo) -> None:
    edit(hooked, SUMMARIZE, "tags: [support]", "tags: [support, oncall]")
    git_commit(hooked, "-m", "tag oncall\n\nPrompt-Version: support/summarize 9.9.9 (made up)")
    assert trailers(hooked) == ["Prompt-Version: support/summarize 1.0.1 (patch: tags changed)"]


def test_breaking_change_in_message_makes_a_major(hooked: GitRepo) -> None:
    edit(hooked, SUMMARIZE, "Summarize this ticket:", "Summarise this ticket:")
    git_commit(hooked, "-m", "feat!: new wording")
    [line] = trailers(hooked)
    assert line.startswith("Prompt-Version: support/summarize 2.0.0 (major: ")


def test_commit_without_prompt_changes_gets_no_trailer(hooked: GitRepo) -> None:
    hooked.write({"README.md": "notes\n"})
    hooked.git("add", "README.md")
    git_commit(hooked, "-m", "docs")
    assert message(hooked) == "docs"


def test_editor_sees_trailers_and_a_hint(hooked: GitRepo, tmp_path: Path) -> None:
    seen = tmp_path / "seen.txt"
    editor = tmp_path / "editor.sh"
    editor.write_text(
        f'#!/bin/sh\ncp "$1" {seen}\nprintf "wording\\n" | cat - "$1" > "$1.new" '
        '&& mv "$1.new" "$1"\n'
    )
    editor.chmod(0o755)
    edit(hooked, SUMMARIZE, "Summarize this ticket:", "Summarize this ticket briefly:")
    git_commit(hooked, editor=str(editor))
    shown = seen.read_text()
    assert 'Prompt-Version: support/summarize 1.1.0 (minor: message "user" changed)' in shown
    assert ABORT_HINT in shown
    assert message(hooked) == (
        'wording\n\nPrompt-Version: support/summarize 1.1.0 (minor: message "user" changed)'
    )


def test_apply_trailers_keeps_other_trailers_and_the_verbose_diff(tmp_path: Path) -> None:
    msg = (
        "Subject\n\nBody.\n\nSigned-off-by: Ada <ada@example.com>\n"
        "Prompt-Version: old 1.0.0 (initial: first appearance)\n"
        "# Please enter the commit message\n"
        "# ------------------------ >8 ------------------------\n"
        "+Prompt-Version: inside the diff stays\n"
    )
    out = apply_trailers(tmp_path, msg, ["a 1.1.0 (minor: x)"])
    assert out == (
        "Subject\n\nBody.\n\nSigned-off-by: Ada <ada@example.com>\n"
        "Prompt-Version: a 1.1.0 (minor: x)\n"
        "# Please enter the commit message\n"
        "# ------------------------ >8 ------------------------\n"
        "+Prompt-Version: inside the diff stays\n"
    )
    assert apply_trailers(tmp_path, out, ["a 1.1.0 (minor: x)"]) == out
    assert message_text(out) == (
        "Subject\n\nBody.\n\nSigned-off-by: Ada <ada@example.com>\n"
        "Prompt-Version: a 1.1.0 (minor: x)"
    )


def test_unreadable_message_file_is_one_line_error(hooked: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    res = cli(["hook", "versions", "no/such/COMMIT_EDITMSG"], cwd=hooked.path)
    assert res.exit_code == 1
    assert res.err.strip() == (
        "loomgit: error: no/such/COMMIT_EDITMSG: cannot read the commit "
        "message: No such file or directory"
    )


def test_message_in_another_encoding_is_kept_byte_for_byte(hooked: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    edit(hooked, SUMMARIZE, "Summarize this ticket:", "Summarize this ticket briefly:")
    msg = hooked.path / "MSG"
    msg.write_bytes(b"R\xe9sum\xe9 plus court\n")  # Latin-1, as i18n.commitEncoding allows
    res = cli(["hook", "versions", str(msg), "message"], cwd=hooked.path)
    assert res.exit_code == 0, res.err
    assert msg.read_bytes() == (
        b"R\xe9sum\xe9 plus court\n\nPrompt-Version: support/summarize "
        b'1.1.0 (minor: message "user" changed)\n'
    )
