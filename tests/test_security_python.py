"""Trust boundary: ``python:`` assertions import and run code, so a suite from a pull
request (``python: shutil:rmtree``) must not run it on a reviewer's machine or in CI.

Off by default in ``eval``, ``run``, ``ci`` and the hooks; allowed only by the person
running loomgit (``--allow-python``, ``LOOMGIT_ALLOW_PYTHON=1``, ``eval: allow_python``)
and, in ``ci``, never by the pull request's own loomgit.yaml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS, GitRepo

PAYLOADS = CORPUS / "security" / "python"
PROMPT = """---
model: echo
variables:
  target: {type: string, required: true}
---
{{ target }}
"""
REFUSED = (
    "python: assertions run local code; allow them with --allow-python or LOOMGIT_ALLOW_PYTHON=1"
)
# the payload file and the line the refusal names (the first case that uses python:)
CASES = [
    ("rmtree.tests.yaml", 4),
    ("rmtree_negated.tests.yaml", 8),
    ("rmtree_defaults.tests.yaml", 7),
]


def victim(tmp_path: Path) -> Path:
    """The sacrificial folder the payload tries to delete."""
    v = tmp_path / "victim"
    (v / "inner").mkdir(parents=True)
    (v / "inner" / "keep.txt").write_text("precious")
    return v


def payload(name: str, target: Path) -> str:
    return (PAYLOADS / name).read_text().replace("__VICTIM__", str(target))


def with_suite(repo: GitRepo, tmp_path: Path, name: str = "rmtree.tests.yaml") -> Path:
    v = victim(tmp_path)
    repo.commit(
        "a suite from a pull request",
        {"prompts/tidy.prompt": PROMPT, "prompts/tidy.tests.yaml": payload(name, v)},
    )
    return v


@pytest.mark.parametrize("name,line", CASES)
def test_eval_refuses_python_assertions_by_default(
    repo: GitRepo, cli: Any, tmp_path: Path, name: str, line: int
) -> None:
    v = with_suite(repo, tmp_path, name)
    r = cli(["eval", "--json"], cwd=repo.path)
    assert r.exit_code == 2 and r.out == ""
    assert r.err == f"loomgit: error: prompts/tidy.tests.yaml:{line}: {REFUSED}\n"
    assert (v / "inner" / "keep.txt").read_text() == "precious"


def test_eval_refuses_in_ci_environments_too_and_zero_wins_over_the_config(
    repo: GitRepo, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = with_suite(repo, tmp_path)
    monkeypatch.setenv("CI", "true")
    assert cli(["eval"], cwd=repo.path).exit_code == 2
    repo.commit("allow", {"loomgit.yaml": "eval: {allow_python: true}\n"})
    monkeypatch.setenv("LOOMGIT_ALLOW_PYTHON", "0")
    r = cli(["eval"], cwd=repo.path)
    assert r.exit_code == 2 and REFUSED in r.err
    assert v.is_dir()


@pytest.mark.parametrize("how", ["flag", "env", "config"])
def test_each_way_of_allowing_runs_them(
    repo: GitRepo, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    v = with_suite(repo, tmp_path)
    args = ["eval", "--json"]
    if how == "flag":
        args.append("--allow-python")
    elif how == "env":
        monkeypatch.setenv("LOOMGIT_ALLOW_PYTHON", "1")
    else:
        repo.commit("allow", {"loomgit.yaml": "eval: {allow_python: true}\n"})
    r = cli(args, cwd=repo.path)
    assert r.exit_code in (0, 1), r.err
    assert not v.exists()  # the payload really runs once allowed: the refusal is what held


def test_allow_python_in_the_config_must_be_a_boolean(repo: GitRepo, cli: Any) -> None:
    repo.commit("bad", {"loomgit.yaml": "eval: {allow_python: yes please}\n"})
    repo.commit("p", {"prompts/a.prompt": PROMPT, "prompts/a.tests.yaml": "cases: [{name: a}]\n"})
    r = cli(["eval"], cwd=repo.path)
    assert r.exit_code == 2
    assert r.err == "loomgit: error: loomgit.yaml: eval: allow_python must be true or false\n"


def test_eval_compare_refuses_them_too(repo: GitRepo, cli: Any, tmp_path: Path) -> None:
    repo.commit("base", {"prompts/tidy.prompt": PROMPT})
    repo.git("checkout", "-q", "-b", "pr")
    v = with_suite(repo, tmp_path)
    r = cli(["eval", "--compare", "main", "tidy"], cwd=repo.path)
    assert r.exit_code == 2 and REFUSED in r.err and v.is_dir()


# ------------------------------------------------------------------------------ ci


@pytest.fixture
def pr_repo(repo: GitRepo) -> GitRepo:
    repo.commit("base", {"prompts/tidy.prompt": PROMPT})
    repo.git("checkout", "-q", "-b", "pr")
    return repo


def test_ci_refuses_them_even_when_the_pull_request_allows_itself(
    pr_repo: GitRepo, cli: Any, tmp_path: Path
) -> None:
    v = victim(tmp_path)
    pr_repo.commit(
        "allow my own code",
        {
            "loomgit.yaml": "eval: {allow_python: true}\n",
            "prompts/tidy.tests.yaml": payload("rmtree.tests.yaml", v),
        },
    )
    r = cli(["ci", "--base", "main", "--no-comment"], cwd=pr_repo.path)
    assert r.exit_code == 2
    assert f"loomgit: error: prompts/tidy.tests.yaml:4: {REFUSED}" in r.err
    assert (v / "inner" / "keep.txt").read_text() == "precious"


@pytest.mark.parametrize("how", ["flag", "env", "base-config"])
def test_ci_runs_them_when_the_workflow_or_the_base_branch_allows(
    repo: GitRepo, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    files = {"prompts/tidy.prompt": PROMPT}
    if how == "base-config":
        files["loomgit.yaml"] = "eval: {allow_python: true}\n"
    repo.commit("base", files)
    repo.git("checkout", "-q", "-b", "pr")
    v = victim(tmp_path)
    pr_repo_files = {"prompts/tidy.tests.yaml": payload("rmtree.tests.yaml", v)}
    if how == "base-config":  # the pull request drops the setting: the base's still counts
        pr_repo_files["loomgit.yaml"] = "eval: {}\n"
    repo.commit("suite", pr_repo_files)
    args = ["ci", "--base", "main", "--no-comment", "--json"]
    if how == "flag":
        args.append("--allow-python")
    elif how == "env":
        monkeypatch.setenv("LOOMGIT_ALLOW_PYTHON", "1")
    r = cli(args, cwd=repo.path)
    assert r.exit_code in (0, 1, 3), r.err
    assert json.loads(r.out)["python_allowed"] is True
    assert not v.exists()


# ------------------------------------------------------------------- run and hooks


def test_batch_run_refuses_them_from_the_suite_and_from_the_command_line(
    repo: GitRepo, cli: Any, tmp_path: Path
) -> None:
    v = with_suite(repo, tmp_path, "rmtree_defaults.tests.yaml")
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"target": str(v)}) + "\n")
    out = str(tmp_path / "out.jsonl")
    r = cli(["run", "tidy", "-i", str(data), "-o", out], cwd=repo.path)
    assert r.exit_code == 2
    assert r.err == f"loomgit: error: prompts/tidy.tests.yaml: {REFUSED}\n"
    r = cli(
        [
            "run",
            "tidy",
            "-i",
            str(data),
            "-o",
            out,
            "--no-suite",
            "--assert",
            "{python: shutil:rmtree}",
        ],
        cwd=repo.path,
    )
    assert r.exit_code == 2 and r.err == f"loomgit: error: --assert: {REFUSED}\n"
    assert v.is_dir() and not Path(out).exists()
    r = cli(["run", "tidy", "-i", str(data), "-o", out, "--allow-python"], cwd=repo.path)
    assert r.exit_code in (0, 1), r.err
    assert not v.exists()


def test_the_offline_eval_hook_refuses_them(repo: GitRepo, cli: Any, tmp_path: Path) -> None:
    v = victim(tmp_path)
    repo.write(
        {
            "prompts/tidy.prompt": PROMPT,
            "prompts/tidy.tests.yaml": payload("rmtree.tests.yaml", v),
        }
    )
    repo.git("add", "-A")
    r = cli(["hook", "eval"], cwd=repo.path)
    assert r.exit_code == 2
    assert r.err == f"loomgit: error: prompts/tidy.tests.yaml:4: {REFUSED}\n"
    assert v.is_dir()


def test_check_warns_about_python_assertions_unless_allowed(
    repo: GitRepo, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_suite(repo, tmp_path)
    r = cli(["check"], cwd=repo.path)
    assert r.exit_code == 0
    assert r.out == (
        "prompts/tidy.tests.yaml:7: warning: case 'tidy': python: assertions run local code; "
        "loomgit eval refuses them unless allowed (--allow-python, LOOMGIT_ALLOW_PYTHON=1 "
        "or eval.allow_python)\n"
    )
    monkeypatch.setenv("LOOMGIT_ALLOW_PYTHON", "1")
    r = cli(["check"], cwd=repo.path)
    assert r.exit_code == 0 and "python: assertions" not in r.out + r.err


def test_a_branch_cannot_allow_its_own_python_assertions_for_a_local_review(
    repo: GitRepo, cli: Any, tmp_path: Path
) -> None:
    repo.commit("main", {"prompts/tidy.prompt": PROMPT})
    repo.git("checkout", "-q", "-b", "their-pr")
    v = victim(tmp_path)
    repo.commit(
        "allow my own code",
        {
            "loomgit.yaml": "eval: {allow_python: true}\n",
            "prompts/tidy.tests.yaml": payload("rmtree.tests.yaml", v),
        },
    )
    r = cli(["eval"], cwd=repo.path)  # the reviewer runs the pull request's suite
    assert r.exit_code == 2
    assert r.err == f"loomgit: error: prompts/tidy.tests.yaml:4: {REFUSED}\n"
    assert v.is_dir()
    repo.git("checkout", "-q", "main")  # once main allows them, the branch may run them
    repo.commit("allow on main", {"loomgit.yaml": "eval: {allow_python: true}\n"})
    repo.git("checkout", "-q", "their-pr")
    repo.git("merge", "-q", "--no-edit", "main")
    assert cli(["eval"], cwd=repo.path).exit_code in (0, 1)
    assert not v.exists()
