"""Every bad suite in tests/corpus/evals gives one clear line with file:line: exit 1 from
`loomgit check`, exit 2 from `loomgit eval` (nothing was evaluated), never a traceback,
and no run is recorded."""

from __future__ import annotations

import shutil

import pytest
from conftest import CORPUS, GitRepo

SUITE = "prompts/support/summarize.tests.yaml"

# file -> (line or None, text the message must contain)
EXPECTED = {
    "malformed_yaml.tests.yaml": (3, "invalid YAML: this '{' is never closed"),
    "empty.tests.yaml": (None, "empty test suite"),
    "no_cases.tests.yaml": (1, "'cases:' must be a non-empty list"),
    "unknown_key.tests.yaml": (4, "unknown key 'gates' (did you mean 'gate'?"),
    "unknown_assertion.tests.yaml": (
        6,
        "case 'a': unknown assertion 'contans' (did you mean 'contains'?)",
    ),
    "bad_regex.tests.yaml": (5, "case 'a': regex: invalid regular expression"),
    "bad_gate.tests.yaml": (1, "unknown gate 'best_of'"),
    "bad_distribution.tests.yaml": (6, "distribution: cannot read 'mean(score) => 0.8'"),
    "code_in_distribution.tests.yaml": (5, 'distribution: cannot read "__import__'),
    "bad_repeat.tests.yaml": (1, "repeat must be a whole number 1..1000"),
    "duplicate_case.tests.yaml": (4, "duplicate case name 'a'"),
    "bad_json_schema.tests.yaml": (5, "json_schema: invalid JSON Schema"),
    "not_a_mapping.tests.yaml": (1, "a test suite must be a mapping"),
    "non_utf8.tests.yaml": (3, "not UTF-8 text"),
    "duplicate_keys.tests.yaml": (4, 'duplicate key "vars"'),
    "bad_weight.tests.yaml": (4, "case 'a': weight must be a number"),
    "judge_without_criteria.tests.yaml": (5, "judge: needs 'criteria:'"),
    "vars_not_mapping.tests.yaml": (3, "case 'a': vars must be a mapping"),
    "bad_defaults.tests.yaml": (3, "defaults: params must be a mapping"),
    "not_with_sibling.tests.yaml": (5, "'not:' holds the negated assertion"),
    # tool-call assertions and multi-turn cases
    "turns_not_list.tests.yaml": (4, "case 'a': turns must be a non-empty list of turns"),
    "turn_unknown_key.tests.yaml": (5, "case 'a': turn 1: unknown key 'usr' (known: name, user,"),
    "turn_user_and_tool_results.tests.yaml": (
        6,
        "case 'a': turn 2: sends a user message or tool results, not both",
    ),
    "turn_without_message.tests.yaml": (6, "case 'a': turn 2: needs 'user:' or 'tool_results:'"),
    "tool_results_first_turn.tests.yaml": (
        5,
        "case 'a': turn 1: tool_results need an answer with tool calls before",
    ),
    "tool_result_without_content.tests.yaml": (
        7,
        "case 'a': turn 2: tool result 1 needs 'content:'",
    ),
    "assert_beside_turns.tests.yaml": (
        4,
        "case 'a': a case with 'turns:' has its assertions in each turn",
    ),
    "tool_called_without_name.tests.yaml": (5, "case 'a': tool_called: needs 'name:'"),
    "tool_called_bad_args_schema.tests.yaml": (
        5,
        "case 'a': tool_called: args_schema: invalid JSON Schema",
    ),
    "json_path_bad_path.tests.yaml": (5, "case 'a': json_path: cannot read path 'a..b'"),
    "no_tool_call_false.tests.yaml": (5, "case 'a': no_tool_call: expects true"),
    "tool_args_valid_number.tests.yaml": (
        6,
        "case 'a': turn 1: tool_args_valid: expects true or a tool name",
    ),
}


def test_corpus_is_complete() -> None:
    assert {p.name for p in (CORPUS / "evals").iterdir()} == set(EXPECTED)


@pytest.fixture
def suite_repo(sample_repo: GitRepo) -> GitRepo:
    return sample_repo


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_suite_check_and_eval(suite_repo: GitRepo, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    line, text = EXPECTED[name]
    shutil.copy(CORPUS / "evals" / name, suite_repo.path / SUITE)
    where = f"{SUITE}:{line}: " if line else f"{SUITE}: "

    r = cli(["check", SUITE], cwd=suite_repo.path)
    assert r.exit_code == 1, r.out + r.err
    errors = [ln for ln in r.out.splitlines() if ": error: " in ln]
    assert len(errors) == 1, r.out
    assert errors[0].startswith(where) and text in errors[0], errors[0]

    e = cli(["eval", "support/summarize", "--model", "echo"], cwd=suite_repo.path)
    assert e.exit_code == 2, e.out + e.err
    assert e.out == ""
    lines = e.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"loomgit: error: {where}"), e.err
    assert text in lines[0]
    assert "Traceback" not in e.err
    assert not (suite_repo.path / ".git/loomgit/runs.sqlite").exists()


def test_case_vars_that_do_not_fit_the_prompt(suite_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    """`check` names the case; `eval` runs the others and fails that case (a broken test or
    prompt is a failure, not an infrastructure error)."""
    suite_repo.write(
        {
            SUITE: "providers: [echo]\ncases:\n  - name: ok\n    vars: {ticket: fire}\n"
            "  - name: bad\n    vars: {ticket: x, tone: angry}\n"
        }
    )
    r = cli(["check", SUITE], cwd=suite_repo.path)
    assert r.exit_code == 1
    assert r.out.strip() == (
        f"{SUITE}:5: error: case 'bad': variable 'tone' must be one of "
        "'formal', 'casual', got 'angry'"
    )
    e = cli(["eval"], cwd=suite_repo.path)
    assert e.exit_code == 1, e.err
    assert (
        "FAIL    support/summarize  bad   echo      0.00   –        render: variable 'tone' must be one of"
        in e.out
    )
    assert "PASS    support/summarize  ok" in e.out


def test_suite_without_prompt_and_prompt_without_suite(suite_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["eval", "support/summarize"], cwd=suite_repo.path)
    assert r.exit_code == 2
    assert r.err.strip() == (f"loomgit: error: support/summarize: no test suite (expected {SUITE})")
    suite_repo.write({"prompts/orphan.tests.yaml": "cases: [{vars: {}}]\n"})
    r = cli(["eval", "prompts/orphan.tests.yaml"], cwd=suite_repo.path)
    assert r.exit_code == 2
    assert "no prompt for this suite" in r.err
    r = cli(["eval", "nosuch"], cwd=suite_repo.path)
    assert r.exit_code == 1 and "unknown prompt 'nosuch'" in r.err
    assert cli(["eval", "--shard", "3/2"], cwd=suite_repo.path).exit_code == 2
    # a suite elsewhere that names its prompt
    suite_repo.write(
        {
            "tests/summarize.tests.yaml": "prompt: support/summarize\nproviders: [echo]\ncases:\n"
            "  - vars: {ticket: fire}\n    assert: [{contains: fire}]\n"
        }
    )
    r = cli(["eval", "tests/summarize.tests.yaml"], cwd=suite_repo.path)
    assert r.exit_code == 0, r.err
    assert "gate all_pass passed (1 passed" in r.out
