"""The one place loomgit runs git: a failing git command is one error line (exit 3), and
a user's git settings that change what git prints do not change what loomgit reports."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import SUMMARIZE, GitRepo

from loomgit import _git
from loomgit._git import index, objects, refs
from loomgit._git.run import git, last_line
from loomgit.errors import EXIT_INFRA, GitError

P = "prompts/support/summarize.prompt"
TEXT = SUMMARIZE.replace("---\n", "---\nid: support/summarize\n", 1)

# settings that change git's output where a parser reads it
HOSTILE = """\
[core]
\tquotePath = true
\tabbrev = 7
\tpager = false
[color]
\tui = always
\tdiff = always
\tbranch = always
[log]
\tshowSignature = true
\tfollow = true
\tshowRoot = false
\tdiffMerges = separate
\tdecorate = full
\tabbrevCommit = true
\tdate = relative
[diff]
\trelative = true
\tnoprefix = true
\trenames = copies
\tmnemonicPrefix = true
[format]
\tpretty = oneline
[i18n]
\tlogOutputEncoding = ISO-8859-1
[status]
\tshowUntrackedFiles = no
"""


def _history_repo(repo: GitRepo) -> GitRepo:
    """Versions with a rename, a merge and non-ASCII names and messages."""
    repo.write({"loomgit.yaml": "stages: [staging, production]\n"})
    repo.commit("add summarize", {P: TEXT})
    repo.commit("fix: wording", {P: TEXT.replace("Summarize this", "Sum up this")})
    repo.git("mv", P, "prompts/support/resume.prompt")
    repo.commit("feat: rename to résumé ✓")
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit(
        "feat!: new variable",
        {"prompts/support/resume.prompt": TEXT.replace("{{ ticket }}", "{{ ticket }} {{ x }}")},
    )
    repo.git("checkout", "-q", "main")
    repo.commit("docs: café ✓", {"docs/café.md": "hi\n"})
    repo.git("merge", "-q", "--no-ff", "-m", "merge topic", "topic")
    return repo


def _report(cli, root: Path) -> dict[str, object]:  # type: ignore[no-untyped-def]
    out: dict[str, object] = {}
    for name, args in {
        "list": ["list", "--json"],
        "log": ["log", "support/summarize", "--json"],
        "promote": ["promote", "support/summarize", "latest", "--to", "staging", "--json"],
        "stages": ["stages", "--json"],
    }.items():
        r = cli(args, cwd=root)
        assert r.exit_code == 0, (name, r.err)
        out[name] = json.loads(r.out)
    return out


def test_a_hostile_git_config_does_not_change_what_loomgit_reports(
    tmp_path: Path,
    cli,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Zoë Ünal")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Zoë Ünal")
    built = _history_repo(GitRepo(tmp_path / "built")).path
    shutil.copytree(built, tmp_path / "clean")
    shutil.copytree(built, tmp_path / "hostile")
    clean = _report(cli, tmp_path / "clean")
    hostile_config = tmp_path / "hostile.gitconfig"
    hostile_config.write_text(Path(os.environ["GIT_CONFIG_GLOBAL"]).read_text() + HOSTILE)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(hostile_config))
    hostile = _report(cli, tmp_path / "hostile")
    assert "Zoë Ünal" in json.dumps(clean["stages"], ensure_ascii=False)
    assert "resume.prompt" in json.dumps(clean["list"])
    assert clean["list"] == hostile["list"]
    assert clean["log"] == hostile["log"]
    for key in ("promote", "stages"):  # the stage commit and its time are new each run
        assert _stable(clean[key]) == _stable(hostile[key]), key


def _stable(data: object) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False)
    text = re.sub(r'"(promoted_at|date)": "[^"]*"', r'"\1": "-"', text)
    return re.sub(r'"commit": "[0-9a-f]{40}"', '"commit": "-"', text)


def test_a_failing_git_command_is_one_error_line_with_exit_3(sample_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    tree = sample_repo.git("rev-parse", "HEAD^{tree}")
    (sample_repo.path / ".git" / "objects" / tree[:2] / tree[2:]).unlink()
    r = cli(["list"], cwd=sample_repo.path)
    assert r.exit_code == EXIT_INFRA
    assert r.out == ""
    assert r.err.count("\n") == 1 and "Traceback" not in r.err
    assert r.err.startswith("loomgit: error: git ")
    assert f"failed: unable to read tree {tree}" in r.err
    assert "'git fsck' shows what" in r.err


def test_git_missing_from_path_is_one_error_line(
    sample_repo: GitRepo,
    cli,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("PATH", str(sample_repo.path / "no-such-dir"))
    r = cli(["list"], cwd=sample_repo.path)
    assert r.exit_code == EXIT_INFRA
    assert r.err == "loomgit: error: git is not installed or not on PATH\n"


def test_git_failures_name_the_command_and_keep_the_cause(sample_repo: GitRepo) -> None:
    with pytest.raises(GitError) as info:
        git(["cat-file", "-p", "no-such-object"], sample_repo.path)
    assert str(info.value) == "git cat-file failed: Not a valid object name no-such-object"
    with pytest.raises(GitError) as missing:
        git(["status"], sample_repo.path / "no-such-dir")
    assert missing.value.__cause__ is not None


def test_the_reason_is_the_error_line_not_a_hint() -> None:
    stderr = (
        b"To /tmp/remote\n ! [rejected] main -> main (fetch first)\n"
        b"error: failed to push some refs to '/tmp/remote'\n"
        b"hint: Updates were rejected because the remote contains work\n"
    )
    assert last_line(stderr, 1) == "failed to push some refs to '/tmp/remote'"
    assert last_line(b"", 128) == "exit status 128"


def test_where_the_repository_is_without_running_git(
    sample_repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = sample_repo.path
    assert _git.is_repo(main) and _git.git_dir(main) == main / ".git"
    linked = tmp_path / "linked"
    sample_repo.git("worktree", "add", "-q", str(linked))
    assert _git.is_repo(linked)
    assert _git.git_dir(linked) == (main / ".git").resolve()
    bare = tmp_path / "bare.git"
    sample_repo.git("clone", "-q", "--bare", str(main), str(bare))
    assert not _git.is_repo(bare) and _git.git_dir(bare) == bare
    plain = tmp_path / "plain"
    plain.mkdir()
    assert not _git.is_repo(plain) and _git.git_dir(plain) is None
    with pytest.raises(GitError, match="is not a git repository"):
        _git.require_repo(plain)
    # GIT_DIR (as a hook may set it, relative to the current directory) wins, as in git
    monkeypatch.chdir(main)
    monkeypatch.setenv("GIT_DIR", ".git")
    assert _git.git_dir(plain) == main / ".git"
    assert refs.head_commit(plain) == sample_repo.git("rev-parse", "HEAD")


def test_compare_and_swap_moves_a_ref_only_from_where_the_caller_saw_it(
    sample_repo: GitRepo,
) -> None:
    root = sample_repo.path
    head = refs.head_commit(root)
    assert head is not None
    tree = objects.write_tree(root, {"a.txt": objects.hash_blob(root, b"a\n")})
    one = objects.commit_tree(root, tree, None, "one\n")
    two = objects.commit_tree(root, tree, one, "two\n")
    ref = "refs/heads/stage/test"
    assert refs.compare_and_swap(root, ref, one, None, "create")
    assert not refs.compare_and_swap(root, ref, two, None, "must not exist")
    assert not refs.compare_and_swap(root, ref, two, head, "stale")
    assert refs.read_ref(root, ref) == one
    assert refs.compare_and_swap(root, ref, two, one, "move")
    assert objects.tree_files(root, two) == {"a.txt": objects.hash_blob(root, b"a\n")}
    assert objects.read_many(root, [f"{two}:a.txt", f"{two}:nope"]) == {
        f"{two}:a.txt": b"a\n",
        f"{two}:nope": None,
    }


def test_the_index_and_the_working_tree(sample_repo: GitRepo) -> None:
    root = sample_repo.path
    base = sample_repo.git("rev-parse", "HEAD")
    sample_repo.write({P: SUMMARIZE + "\nmore\n", "1:notes.md": "staged\n", "new.txt": "x\n"})
    sample_repo.git("add", P, "1:notes.md")
    assert index.staged_paths(root) == ["1:notes.md", P]
    assert index.read_staged(root, ["1:notes.md", "new.txt"]) == {"1:notes.md": b"staged\n"}
    assert index.untracked(root) == ["new.txt"]
    assert index.name_status(root, base) == {"1:notes.md": "A", P: "M", "new.txt": "A"}
    assert index.changed_since(root, base) == {"1:notes.md", P, "new.txt"}
    assert index.ls_files(root) == sorted(["1:notes.md", P, "new.txt"])
