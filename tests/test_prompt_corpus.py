"""Every bad prompt file in tests/corpus/prompts gives one clear line naming the file
(and the line where there is one), exit 1, and no traceback — through `loomgit check`
and through `loomgit render`."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import CORPUS, GitRepo

# file -> (expected line or None, text the message must contain)
EXPECTED = {
    "malformed_yaml.prompt": (3, "invalid YAML"),
    "frontmatter_list.prompt": (2, "frontmatter must be a mapping"),
    "non_utf8.prompt": (4, "not UTF-8 text"),
    "binary.prompt": (None, "binary file"),
    "empty_role.prompt": (7, "role line 'user:' has no message after it"),
    "dotdot_id.prompt": (2, "must not contain '.' or '..' segments"),
    "empty.prompt": (None, "empty prompt file"),
    "unclosed_frontmatter.prompt": (1, "never closed"),
    "dotprompt.prompt": (7, "Google Dotprompt"),
    "text_before_role.prompt": (1, "text before the first role line"),
    "undeclared_variable.prompt": (6, "variable 'city' is used but not declared"),
    "jinja_syntax.prompt": (9, "template syntax error"),
    "sample_wrong_type.prompt": (4, "must be of type integer"),
    "sample_bad_enum.prompt": (4, "must be one of 'formal', 'casual'"),
    "bad_output_schema.prompt": (2, "output schema is not valid JSON Schema"),
    "bad_variable_type.prompt": (3, "unknown type 'strng'"),
    "params_not_mapping.prompt": (2, "params must be a mapping"),
    "unterminated_string.prompt": (2, "invalid YAML"),
}


def test_corpus_is_complete() -> None:
    on_disk = {p.name for p in (CORPUS / "prompts").iterdir()}
    assert on_disk == set(EXPECTED)


@pytest.fixture
def corpus_repo(repo: GitRepo) -> GitRepo:
    shutil.copytree(CORPUS / "prompts", repo.path / "prompts")
    return repo


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_check_reports_one_clear_line(corpus_repo: GitRepo, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    line, text = EXPECTED[name]
    r = cli(["check", f"prompts/{name}"], cwd=corpus_repo.path)
    assert r.exit_code == 1, r.out + r.err
    errors = [ln for ln in r.out.splitlines() if ": error: " in ln]
    assert len(errors) == 1, r.out
    where = rf"prompts/{re.escape(name)}:{line}(:\d+)?: " if line else f"prompts/{name}: "
    assert re.match(where, errors[0]), errors[0]
    assert text in errors[0]
    assert "Traceback" not in r.out + r.err


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_render_fails_cleanly(corpus_repo: GitRepo, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    r = cli(["render", f"prompts/{name}"], cwd=corpus_repo.path)
    if r.exit_code == 0:
        # files whose problem is a warning-level finding or a validation-only error still render
        assert name in {
            "undeclared_variable.prompt",
            "sample_wrong_type.prompt",
            "sample_bad_enum.prompt",
            "bad_output_schema.prompt",
        }, r.out
        return
    assert r.exit_code == 1
    assert r.out == ""
    err = r.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("loomgit: error: prompts/"), r.err
    assert "Traceback" not in r.err


def test_ten_megabyte_file_is_refused(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.write({"prompts/huge.prompt": "x" * 10_000_000})
    r = cli(["check", "prompts/huge.prompt"], cwd=repo.path)
    assert r.exit_code == 1
    assert r.out.strip() == (
        "prompts/huge.prompt: error: file is too large (10.0 MB; prompts are limited to 1 MB)"
    )
