"""``loomgit ci`` core: which commits are compared, shallow clones, offline providers for
forks, python assertions, the verdict under each ``fail-on``, and bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo

from loomgit.app import ci
from loomgit.errors import GitError, UsageError
from loomgit.github import ActionsEnv

PROMPT = "---\nmodel: echo\n---\nSay hello to {{ name }}.\n"


def pr_env(
    tmp_path: Path, base: str, head: str, *, fork: bool = False, event_name: str = "pull_request"
) -> ActionsEnv:
    event = {
        "number": 5,
        "pull_request": {
            "number": 5,
            "base": {"ref": "main", "sha": base, "repo": {"full_name": "octo/p"}},
            "head": {
                "ref": "feature",
                "sha": head,
                "repo": {"full_name": "mallory/p" if fork else "octo/p"},
            },
        },
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return ActionsEnv.from_environ(
        {
            "GITHUB_EVENT_PATH": str(path),
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_REPOSITORY": "octo/p",
        }
    )


@pytest.fixture
def branched(repo: GitRepo) -> dict[str, Any]:
    """main: two commits; feature: one more on top of the first; main moved on since."""
    first = repo.commit("add prompt", {"prompts/hello.prompt": PROMPT})
    repo.git("checkout", "-q", "-b", "feature")
    head = repo.commit("change prompt", {"prompts/hello.prompt": PROMPT.replace("hello", "hi")})
    repo.git("checkout", "-q", "main")
    moved = repo.commit("unrelated", {"README.md": "x"})
    repo.git("checkout", "-q", "feature")
    return {"repo": repo, "first": first, "head": head, "main": moved}


# --------------------------------------------------------------------------- the range


def test_pull_request_base_is_compared_at_the_merge_base(
    branched: dict[str, Any], tmp_path: Path
) -> None:
    env = pr_env(tmp_path, branched["main"], branched["head"])
    rng = ci.resolve_range(branched["repo"].path, env)
    assert (rng.base, rng.head) == (branched["first"], branched["head"])
    assert (rng.base_label, rng.head_label) == ("main", f"#5, head {branched['head'][:7]}")


def test_base_option_takes_a_branch_or_a_commit(branched: dict[str, Any]) -> None:
    path = branched["repo"].path
    assert ci.resolve_range(path, ActionsEnv(), "main").base == branched["first"]
    assert ci.resolve_range(path, ActionsEnv(), branched["first"][:10]).base == branched["first"]
    with pytest.raises(UsageError, match="not a commit or branch"):
        ci.resolve_range(path, ActionsEnv(), "no-such-branch")
    with pytest.raises(UsageError):
        ci.resolve_range(path, ActionsEnv(), "--output=/tmp/x")


def test_base_ref_from_the_environment_uses_the_remote_branch(
    branched: dict[str, Any], tmp_path: Path
) -> None:
    origin = branched["repo"]
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "-b", "feature", str(origin.path), str(clone)], check=True
    )
    rng = ci.resolve_range(clone, ActionsEnv(base_ref="main"))
    assert rng.base == branched["first"] and rng.base_label == "main"


def test_no_base_at_all_is_a_usage_error(branched: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match="pass --base REF"):
        ci.resolve_range(branched["repo"].path, ActionsEnv())


def test_a_base_commit_missing_from_the_clone_names_fetch_depth(
    branched: dict[str, Any], tmp_path: Path
) -> None:
    env = pr_env(tmp_path, "f" * 40, branched["head"])
    with pytest.raises(GitError, match="fetch-depth: 0"):
        ci.resolve_range(branched["repo"].path, env)


def test_a_shallow_clone_is_detected_and_the_fix_named(
    branched: dict[str, Any], tmp_path: Path
) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(
        [
            "git",
            "clone",
            "-q",
            "--depth",
            "1",
            "-b",
            "feature",
            f"file://{branched['repo'].path}",
            str(clone),
        ],
        check=True,
    )
    with pytest.raises(GitError) as e:
        ci.resolve_range(clone, ActionsEnv(), "main")
    assert "shallow clone" in str(e.value) and "`fetch-depth: 0`" in str(e.value)
    assert e.value.exit_code == 3


def test_shallow_clone_through_the_cli_is_one_line_and_exit_3(
    branched: dict[str, Any], tmp_path: Path, cli: Any
) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(
        [
            "git",
            "clone",
            "-q",
            "--depth",
            "1",
            "-b",
            "feature",
            f"file://{branched['repo'].path}",
            str(clone),
        ],
        check=True,
    )
    r = cli(["ci", "--base", "main", "--no-comment"], cwd=clone)
    assert r.exit_code == 3
    assert r.err.startswith("loomgit: error: this is a shallow clone")
    assert "fetch-depth: 0" in r.err and r.err.count("\n") == 1


# --------------------------------------------------------------------------- forks, python


def test_a_fork_without_api_keys_runs_offline_and_says_why(
    branched: dict[str, Any], tmp_path: Path
) -> None:
    s = ci.CiSettings()
    fork = pr_env(tmp_path, branched["main"], branched["head"], fork=True)
    same = pr_env(tmp_path, branched["main"], branched["head"], fork=False)
    assert "comes from a fork" in (ci.offline_reason(s, fork, {}) or "")
    assert ci.offline_reason(s, fork, {"OPENAI_API_KEY": "sk-x"}) is None
    assert ci.offline_reason(s, same, {}) is None
    assert ci.offline_reason(ci.CiSettings(offline="true"), same, {"OPENAI_API_KEY": "k"})
    assert ci.offline_reason(ci.CiSettings(offline="false"), fork, {}) is None


def test_python_assertions_only_when_the_workflow_allows_them(
    tmp_path: Path, branched: dict[str, Any]
) -> None:
    env = pr_env(tmp_path, branched["main"], branched["head"])
    assert ci.python_flag(ci.CiSettings(), env) is False
    assert ci.python_flag(ci.CiSettings(allow_python=True), env) is True
    assert ci.python_flag(ci.CiSettings(), env, {"LOOMGIT_ALLOW_PYTHON": "1"}) is True
    assert ci.python_flag(ci.CiSettings(), env, base_allows=True) is True
    assert ci.python_flag(ci.CiSettings(), env, {"LOOMGIT_ALLOW_PYTHON": "0"}, True) is False
    target = pr_env(tmp_path, branched["main"], branched["head"], event_name="pull_request_target")
    assert ci.python_flag(ci.CiSettings(), target) is False
    with pytest.raises(UsageError, match="pull_request_target"):
        ci.python_flag(ci.CiSettings(allow_python=True), target)
    with pytest.raises(UsageError, match="pull_request_target"):
        ci.python_flag(ci.CiSettings(), target, base_allows=True)


def test_the_eval_engine_reads_the_flag_the_same_way_everywhere() -> None:
    from loomgit.evals.services import python_allowed

    assert python_allowed({"CI": "true", "LOOMGIT_ALLOW_PYTHON": "1"})
    assert not python_allowed({"CI": "true", "LOOMGIT_ALLOW_PYTHON": "0"})
    assert not python_allowed({})  # off by default, outside CI too
    assert python_allowed({}, config=True) and not python_allowed({}, config="yes")
    assert not python_allowed({"LOOMGIT_ALLOW_PYTHON": "0"}, config=True)


# --------------------------------------------------------------------------- the verdict


def case(name: str, before: str | None, after: str | None) -> ci.CaseChange:
    return ci.CaseChange(name, "echo", before, after)


def prompt(
    cases: list[ci.CaseChange],
    gate_before: str | None = "passed",
    gate_after: str | None = "passed",
) -> ci.PromptChange:
    return ci.PromptChange(
        "p",
        "prompts/p.prompt",
        "modified",
        "prompts/p.tests.yaml",
        ci.Side(gate=gate_before),
        ci.Side(gate=gate_after),
        cases=tuple(cases),
    )


def test_case_kinds() -> None:
    assert case("a", "passed", "failed").kind == "regression"
    assert case("a", "failed", "passed").kind == "fix"
    assert case("a", "error", "passed").kind == "fix"
    assert case("a", None, "failed").kind == "new"
    assert case("a", "passed", None).kind == "removed"
    assert case("a", "passed", "error").kind == "error"
    assert case("a", "failed", "failed").kind == "unchanged"


@pytest.mark.parametrize(
    ("cases", "gates", "fail_on", "verdict"),
    [
        ([case("a", "passed", "failed")], ("passed", "failed"), "regression", "failed"),
        ([case("a", "passed", "failed")], ("passed", "failed"), "never", "passed"),
        ([case("a", "failed", "failed")], ("failed", "failed"), "regression", "passed"),
        ([case("a", "failed", "failed")], ("failed", "failed"), "gate", "failed"),
        ([case("a", "failed", "passed")], ("failed", "passed"), "regression", "passed"),
        ([case("a", None, "failed")], (None, "failed"), "regression", "passed"),
        ([case("a", None, "failed")], (None, "failed"), "gate", "failed"),
        ([case("a", "passed", "error")], ("passed", "error"), "regression", "error"),
        (
            [case("a", "passed", "error"), case("b", "passed", "failed")],
            ("passed", "failed"),
            "regression",
            "failed",
        ),
        (
            [case("a", "passed", "passed")],
            ("passed", "failed"),
            "regression",
            "failed",
        ),  # distribution
    ],
)
def test_verdict_under_each_fail_on(
    cases: list[ci.CaseChange], gates: tuple[Any, Any], fail_on: str, verdict: str
) -> None:
    p = prompt(cases, *gates)
    report = ci.CiReport("a" * 40, "b" * 40, "main", "#1", fail_on, (p,))
    assert report.verdict == verdict
    assert report.exit_code == {"passed": 0, "failed": 1, "error": 3}[verdict]
    assert bool(report.failure_reasons()) == (verdict == "failed")


# --------------------------------------------------------------------------- bad input


def test_settings_and_inputs_are_checked() -> None:
    with pytest.raises(UsageError, match="fail-on"):
        ci.CiSettings(fail_on="sometimes")
    with pytest.raises(UsageError, match="quote"):
        ci.split_args("--model 'unclosed")
    assert ci.split_args("--repeat 3 --model 'openai/gpt 4'") == (
        "--repeat",
        "3",
        "--model",
        "openai/gpt 4",
    )
    assert ci.split_args("$(rm -rf /) ; echo") == ("$(rm", "-rf", "/)", ";", "echo")
    assert ci.split_list("a/b, c/*\n\n d ") == ("a/b", "c/*", "d")


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"LOOMGIT_CI_FAIL_ON": "sometimes"}, "'sometimes' is not one of"),
        ({"LOOMGIT_CI_COMMENT": "maybe"}, "is not a valid boolean"),
        ({"LOOMGIT_CI_ARGS": "--x 'open"}, "quote values"),
        ({"LOOMGIT_CI_COMMENT_KEY": "a b"}, "comment key"),
        ({"LOOMGIT_CI_ARGS": "--bogus"}, "args: No such option"),
        ({"LOOMGIT_CI_ARGS": "--repeat 3 --json"}, "args: --json cannot be used with loomgit ci"),
        ({"LOOMGIT_CI_ARGS": "--repeat zero"}, "args: Invalid value for '--repeat'"),
        ({"LOOMGIT_CI_ARGS": "support/x"}, "choose prompts with the `prompts` input"),
        ({"LOOMGIT_CI_OFFLINE": "sometimes"}, "'sometimes' is not one of"),
    ],
)
def test_bad_action_inputs_are_usage_errors(
    env: dict[str, str],
    needle: str,
    cli: Any,
    branched: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    r = cli(["ci", "--base", "main"], cwd=branched["repo"].path)
    assert r.exit_code == 2, r
    assert needle in r.err


def test_a_broken_event_file_through_the_cli(branched: dict[str, Any], cli: Any) -> None:
    bad = Path(__file__).parent / "corpus" / "ci" / "events" / "not-json.json"
    r = cli(["ci", "--event", str(bad)], cwd=branched["repo"].path)
    assert r.exit_code == 2
    assert (
        r.err == f"loomgit: error: {bad}:3: the event file is not valid JSON: "
        "Expecting property name enclosed in double quotes\n"
    )
