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
