"""Trust boundary: what ``{% include %}`` can read. A pull request controls prompt bodies,
so an include resolves only to a regular file git tracks in the tree being evaluated,
under the prompts' folders or the ``includes:`` folders: never ``.git/``, untracked
files, symlinks, ``..`` or absolute paths. Each payload goes through ``render``,
``check``, ``eval`` and ``ci``, and the secret appears in no output."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo
from test_ci_e2e import PullRequestSim, everything_written
from test_ci_github import FakeGitHub

SECRET = "c2VjcmV0LXRva2VuLXNob3VsZC1uZXZlci1sZWFr"  # what actions/checkout stores
ENV_SECRET = "OPENAI_API_KEY=sk-envfile-secret-value"
OUTSIDE_SECRET = "outside-the-repository-secret"
REFUSED = (
    "is refused: only files tracked by git under prompts/ or the includes: folders "
    "(shared/) can be included"
)

SUITE = """providers: [echo]
cases:
  - name: one
    vars: {q: hi}
    assert:
      - contains: hi
"""


def prompt(include: str) -> str:
    return (
        "---\nvariables: {q: {type: string}}\nsample: {q: hi}\n---\n"
        f'system:\nBe kind.\n{{% include "{include}" %}}\n\nuser:\n{{{{ q }}}}\n'
    )


INCLUDE_LINE = 7  # the line of the include in prompt()


@pytest.fixture
def trap(repo: GitRepo, tmp_path: Path) -> GitRepo:
    """A repository holding every kind of file an include must not reach."""
    repo.git("config", "http.https://github.com/.extraheader", f"AUTHORIZATION: basic {SECRET}")
    (tmp_path / "outside.txt").write_text(OUTSIDE_SECRET)
    repo.commit(
        "base",
        {
            "loomgit.yaml": "includes: [shared/]\n",
            "prompts/partials/tone.md": "Answer calmly.",
            "shared/rules.md": "Never guess.",
            "docs/notes.md": "internal notes " + OUTSIDE_SECRET,
            ".gitignore": ".env\n",
        },
    )
    (repo.path / "prompts/linked.md").symlink_to("partials/tone.md")
    repo.git("add", "prompts/linked.md")
    repo.git("commit", "-q", "-m", "a tracked symlink")
    repo.write({".env": ENV_SECRET})
    (repo.path / "prompts/passwd.md").symlink_to("/etc/passwd")
    return repo


def payloads(tmp_path: Path) -> dict[str, str]:
    return {
        "git-config": ".git/config",
        "git-config-dotted": "prompts/../.git/config",
        "untracked-env": ".env",
        "parent": "../outside.txt",
        "absolute": str(tmp_path / "outside.txt"),
        "symlink-to-passwd": "prompts/passwd.md",
        "tracked-symlink": "prompts/linked.md",
        "outside-the-roots": "docs/notes.md",
        "git-folder-in-roots": "prompts/.git/config",
    }


NAMES = [
    "git-config",
    "git-config-dotted",
    "untracked-env",
    "parent",
    "absolute",
    "symlink-to-passwd",
    "tracked-symlink",
    "outside-the-roots",
    "git-folder-in-roots",
]


def no_secret(*texts: str) -> None:
    for t in texts:
        for s in (SECRET, "extraheader", ENV_SECRET, OUTSIDE_SECRET, "root:x:0:0"):
            assert s not in t, t


def add_bad(trap: GitRepo, include: str) -> None:
    trap.write({"prompts/x.prompt": prompt(include), "prompts/x.tests.yaml": SUITE})
    trap.git("add", "prompts/x.prompt", "prompts/x.tests.yaml")


@pytest.mark.parametrize("name", NAMES)
def test_render_refuses_the_include_in_one_line(
    trap: GitRepo, cli: Any, tmp_path: Path, name: str
) -> None:
    include = payloads(tmp_path)[name]
    add_bad(trap, include)
    r = cli(["render", "x"], cwd=trap.path)
    assert r.exit_code == 1
    assert r.err.strip() == (
        f'loomgit: error: prompts/x.prompt:{INCLUDE_LINE}: include "{include}" {REFUSED}'
    )
    assert r.out == ""
    no_secret(r.out, r.err)


@pytest.mark.parametrize("name", NAMES)
def test_check_refuses_the_include_without_rendering(
    trap: GitRepo, cli: Any, tmp_path: Path, name: str
) -> None:
    include = payloads(tmp_path)[name]
    add_bad(trap, include)
    # no sample: check must still find the include (it does not render)
    p = trap.path / "prompts/x.prompt"
    p.write_text(p.read_text().replace("sample: {q: hi}\n", ""))
    r = cli(["check"], cwd=trap.path)
    assert r.exit_code == 1
    assert r.out.splitlines()[0] == (
        f'prompts/x.prompt:{INCLUDE_LINE - 1}: error: include "{include}" {REFUSED}'
    )
    no_secret(r.out, r.err)


@pytest.mark.parametrize("name", ["git-config", "untracked-env", "tracked-symlink", "parent"])
def test_eval_refuses_the_include(trap: GitRepo, cli: Any, tmp_path: Path, name: str) -> None:
    include = payloads(tmp_path)[name]
    add_bad(trap, include)
    r = cli(["eval", "x", "--json"], cwd=trap.path)
    assert r.exit_code == 1
    assert f'include "{include}" {REFUSED}' in strings(json.loads(r.out))
    no_secret(r.out, r.err)
    r = cli(["eval", "x"], cwd=trap.path)
    assert r.exit_code == 1 and f'render: include "{include}" is refused' in r.out
    no_secret(r.out, r.err)


def strings(data: Any) -> list[str]:
    """Every string in a JSON document."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for v in data.values() for s in strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in strings(v)]
    return []


def test_an_include_in_an_included_file_names_that_file_and_line(trap: GitRepo, cli: Any) -> None:
    trap.commit("nested", {"shared/evil.md": 'ok\n{% include ".git/config" %}'})
    add_bad(trap, "shared/evil.md")
    r = cli(["render", "x"], cwd=trap.path)
    assert r.exit_code == 1
    assert r.err.strip() == f'loomgit: error: shared/evil.md:2: include ".git/config" {REFUSED}'
    r = cli(["check", "prompts/x.prompt"], cwd=trap.path)
    assert r.exit_code == 1
    assert f'shared/evil.md:2: error: include ".git/config" {REFUSED}' in r.out
    no_secret(r.out, r.err)


def test_a_dynamic_include_name_is_refused_too(trap: GitRepo, cli: Any) -> None:
    trap.write({"prompts/x.prompt": "{% include name %}"})
    trap.git("add", "prompts/x.prompt")
    r = cli(["render", "x", "--var", "name=.git/config"], cwd=trap.path)
    assert r.exit_code == 1 and 'include ".git/config" is refused' in r.err
    no_secret(r.out, r.err)


@pytest.mark.parametrize(
    ("include", "text"),
    [("prompts/partials/tone.md", "Answer calmly."), ("shared/rules.md", "Never guess.")],
)
def test_allowed_includes_render(trap: GitRepo, cli: Any, include: str, text: str) -> None:
    add_bad(trap, include)
    r = cli(["render", "x", "--json"], cwd=trap.path)
    assert r.exit_code == 0, r.err
    assert text in json.loads(r.out)["messages"][0]["content"]
    assert cli(["check"], cwd=trap.path).exit_code == 0
    r = cli(["eval", "x", "--json"], cwd=trap.path)
    assert r.exit_code == 0, r.out + r.err


def test_a_tracked_file_deleted_from_the_work_tree_is_not_found(trap: GitRepo, cli: Any) -> None:
    add_bad(trap, "shared/rules.md")
    os.remove(trap.path / "shared/rules.md")
    r = cli(["render", "x"], cwd=trap.path)
    assert r.exit_code == 1
    assert "included file 'shared/rules.md' not found in the repository" in r.err


def test_a_historical_version_reads_includes_from_its_commit_only(trap: GitRepo, cli: Any) -> None:
    trap.commit("add x", {"prompts/x.prompt": prompt(".git/config")})
    r = cli(["render", "x@1.0.0"], cwd=trap.path)
    assert r.exit_code == 1
    assert f'include ".git/config" {REFUSED}' in r.err
    trap.commit("fix x", {"prompts/x.prompt": prompt("shared/rules.md")})
    # an untracked file in the work tree never stands in for the commit's blob
    trap.write({"shared/new.md": "work tree only"})
    trap.commit("use new", {"prompts/x.prompt": prompt("shared/later.md")})
    trap.write({"shared/later.md": "untracked " + OUTSIDE_SECRET})
    r = cli(["render", "x@latest"], cwd=trap.path)
    assert r.exit_code == 1
    assert "included file 'shared/later.md' not found in the repository" in r.err
    no_secret(r.out, r.err)


def test_a_symlink_committed_into_the_history_is_refused(trap: GitRepo, cli: Any) -> None:
    trap.commit("x with link", {"prompts/x.prompt": prompt("prompts/linked.md")})
    r = cli(["render", "x@1.0.0"], cwd=trap.path)
    assert r.exit_code == 1
    assert f'include "prompts/linked.md" {REFUSED}' in r.err


def test_the_includes_setting_is_validated(repo: GitRepo, cli: Any) -> None:
    for text, fragment in [
        ("include: [shared/]\n", "unknown setting (did you mean 'includes'?)"),
        ("includes: 3\n", "includes: must be a list of folders"),
        ("includes: [../up]\n", "no '..', .git or wildcards"),
        ("includes: [.git]\n", "no '..', .git or wildcards"),
        ("includes: [/etc]\n", "not an absolute path"),
        ("includes: [.]\n", "names the whole repository"),
    ]:
        repo.write({"loomgit.yaml": text})
        r = cli(["check"], cwd=repo.path)
        assert r.exit_code != 0, text
        assert fragment in r.out + r.err, (text, r.out + r.err)
        assert "loomgit.yaml:1" in r.out + r.err


def test_ci_never_publishes_an_included_secret(tmp_path: Path) -> None:
    fake = FakeGitHub().start()
    try:
        sim = PullRequestSim(tmp_path, fake)
        sim.repo.git(
            "config", "http.https://github.com/.extraheader", f"AUTHORIZATION: basic {SECRET}"
        )
        sim.repo.write({".env": ENV_SECRET})
        evil = (sim.repo.path / "prompts/support/summarize.prompt").read_text()
        evil = evil.replace(
            "You are an on-call assistant.",
            'You are an on-call assistant. {% include ".git/config" %} {% include ".env" %}',
        )
        head = sim.push("steal", {"prompts/support/summarize.prompt": evil}, "steal the token")
        run = sim.run_action(head)
        written = everything_written(sim, run)
        assert run.code != 0
        assert 'include ".git/config" is refused' in written
        no_secret(written)
    finally:
        fake.stop()


@pytest.mark.parametrize("source", ["index", "worktree"])
@pytest.mark.parametrize("name", ["git-config", "tracked-symlink", "outside-the-roots", "parent"])
def test_the_commit_hook_refuses_the_include(
    trap: GitRepo, cli: Any, tmp_path: Path, source: str, name: str
) -> None:
    include = payloads(tmp_path)[name]
    add_bad(trap, include)
    r = cli(["hook", "check", "--source", source, "prompts/x.prompt"], cwd=trap.path)
    assert r.exit_code == 1
    assert f'prompts/x.prompt:{INCLUDE_LINE}: error: include "{include}" {REFUSED}' in r.out
    no_secret(r.out, r.err)


def test_the_commit_hook_reads_an_untracked_include_from_nowhere(trap: GitRepo, cli: Any) -> None:
    add_bad(trap, ".env")
    r = cli(["hook", "check", "--source", "index", "prompts/x.prompt"], cwd=trap.path)
    assert r.exit_code == 1
    assert f'include ".env" {REFUSED}' in r.out
    no_secret(r.out, r.err)
    trap.write({"shared/new.md": "not staged"})
    add_bad(trap, "shared/new.md")
    r = cli(["hook", "check", "--source", "index", "prompts/x.prompt"], cwd=trap.path)
    assert r.exit_code == 1
    assert "included file 'shared/new.md' not found in the repository" in r.out


def test_ci_reads_the_head_commits_blobs_not_the_work_tree(tmp_path: Path) -> None:
    fake = FakeGitHub().start()
    try:
        sim = PullRequestSim(tmp_path, fake)
        path = "prompts/support/summarize.prompt"
        text = (
            (sim.repo.path / path)
            .read_text()
            .replace(
                "You are an on-call assistant.",
                'You are an on-call assistant. {% include "prompts/support/tone.md" %}',
            )
        )
        head = sim.push(
            "tone", {path: text, "prompts/support/tone.md": "Stay calm."}, "shared tone"
        )
        # a step before loomgit leaves something in a tracked file of the checkout
        (sim.repo.path / "prompts/support/tone.md").write_text("LEAKED " + ENV_SECRET)
        run = sim.run_action(head)
        written = everything_written(sim, run)
        assert "Stay calm." in written, written
        no_secret(written)
    finally:
        fake.stop()
