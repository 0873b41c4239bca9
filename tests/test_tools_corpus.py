"""Every bad ``tools:`` block in tests/corpus/tools gives one clear line naming the file
and line, exit 1, no traceback, through ``loomgit check`` and ``loomgit render``; the
ones ``check`` alone can judge (a parameter schema, ``tool_choice``) still render."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import CORPUS, GitRepo

# file -> (file named in the error, line, text the message must contain, render fails)
EXPECTED = {
    "tools_not_list.prompt": (None, 2, "tools must be a list", True),
    "tool_bad_name.prompt": (None, 3, "tool name 'look up order' must start with", True),
    "tool_unknown_key.prompt": (None, 4, "unknown tool key 'paramters' (did you mean", True),
    "tool_bad_schema.prompt": (None, 3, "parameters are not valid JSON Schema", False),
    "tool_not_object.prompt": (None, 3, "parameters must be an object schema", False),
    "tool_duplicate.prompt": (None, 4, 'tool "lookup_order" (from prompts/toolfiles', True),
    "tool_ref_outside.prompt": (None, 4, 'tool file "../secrets.json" is refused', True),
    "tool_ref_git.prompt": (None, 3, 'tool file ".git/hooks.json" is refused', True),
    "tool_ref_absolute.prompt": (None, 3, 'tool file "/etc/tools.json" is refused', True),
    "tool_ref_missing.prompt": (None, 3, "not found in the repository", True),
    "tool_ref_untracked.prompt": (None, 3, 'untracked.json" is refused', True),
    "tool_ref_not_tool_file.prompt": (None, 3, "must name a .json, .yaml or .yml file", True),
    "tool_ref_extra_key.prompt": (None, 3, "$ref stands alone in its entry", True),
    "tool_file_bad_json.prompt": ("prompts/toolfiles/broken.json", 3, "invalid JSON", True),
    "tool_file_unknown_key.prompt": (None, 3, "unknown tool key 'descripton'", True),
    "tool_file_bad_schema.prompt": (None, 3, "bad_schema.yaml): parameters are not valid", False),
    "tool_choice_unknown.prompt": (None, 2, "names tool 'lookup_ordr'", False),
    "tool_choice_no_tools.prompt": (None, 2, "declares no tools", False),
    "tool_choice_bare_name.prompt": (None, 2, "to force one tool write", False),
}


def test_corpus_is_complete() -> None:
    on_disk = {p.name for p in (CORPUS / "tools" / "prompts").glob("*.prompt")}
    assert on_disk == set(EXPECTED)


@pytest.fixture
def corpus_repo(repo: GitRepo) -> GitRepo:
    shutil.copytree(CORPUS / "tools" / "prompts", repo.path / "prompts")
    repo.commit("corpus")
    (repo.path / "prompts/toolfiles/untracked.json").write_text('{"name": "x"}')
    return repo


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_check_reports_one_clear_line(corpus_repo: GitRepo, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    where, line, text, _ = EXPECTED[name]
    r = cli(["check", f"prompts/{name}"], cwd=corpus_repo.path)
    assert r.exit_code == 1, r.out + r.err
    errors = [ln for ln in r.out.splitlines() if ": error: " in ln]
    assert len(errors) == 1, r.out
    assert re.match(rf"{re.escape(where or f'prompts/{name}')}:{line}: ", errors[0]), errors[0]
    assert text in errors[0]
    assert "Traceback" not in r.out + r.err


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_render_fails_cleanly_or_renders(corpus_repo: GitRepo, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    where, line, text, fails = EXPECTED[name]
    r = cli(["render", f"prompts/{name}"], cwd=corpus_repo.path)
    assert "Traceback" not in r.out + r.err
    if not fails:
        assert r.exit_code == 0, r.err
        assert "Where is my order?" in r.out
        return
    assert r.exit_code == 1 and r.out == ""
    err = r.err.strip().splitlines()
    assert len(err) == 1, r.err
    assert err[0].startswith(f"loomgit: error: {where or f'prompts/{name}'}:{line}"), err[0]
    assert text in err[0]


def test_an_eval_stops_on_a_refused_tool_file_before_sending(corpus_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    corpus_repo.write(
        {
            "prompts/tool_ref_outside.tests.yaml": "cases:\n  - vars: {}\n    assert: [{contains: x}]\n"
        }
    )
    r = cli(["eval", "prompts/tool_ref_outside.prompt", "--model", "echo"], cwd=corpus_repo.path)
    assert r.exit_code == 1, r.out + r.err
    assert r.err.strip().count("\n") == 0
    assert 'tool file "../secrets.json" is refused' in r.err
    assert "Traceback" not in r.out + r.err
