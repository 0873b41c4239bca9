"""The eval gate is passed into ``promote``: stages run it, evals are not their business."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import SUMMARIZE, GitRepo

from loomgit.stages import StageError, promote, stage_versions
from loomgit.stages.source import Source
from loomgit.workspace import Workspace

PROMPT = "prompts/support/summarize.prompt"
STAGES = Path(__file__).resolve().parent.parent / "loomgit" / "stages"


@pytest.fixture
def two(repo: GitRepo) -> GitRepo:
    repo.commit("add summarize", {PROMPT: SUMMARIZE})
    repo.commit(
        "summarize: shorter",
        {PROMPT: SUMMARIZE.replace("Summarize this ticket:", "Summarize this ticket briefly:")},
    )
    return repo


def test_the_gate_sees_the_version_and_can_refuse(two: GitRepo) -> None:
    ws = Workspace(two.path)
    seen: list[tuple[str, str]] = []

    def gate(ws: Workspace, src: Source) -> None:
        seen.append((src.id, src.version))
        if src.version == "1.1.0":
            raise StageError("not good enough")

    promote(ws, "summarize", "1.0.0", "staging", eval_gate=gate)
    assert seen == [("support/summarize", "1.0.0")]
    with pytest.raises(StageError, match="not good enough"):
        promote(ws, "summarize", "1.1.0", "staging", eval_gate=gate)
    assert stage_versions(ws)["staging"] == {"support/summarize": "1.0.0"}


def test_the_gate_does_not_run_when_the_stage_already_holds_it(two: GitRepo) -> None:
    ws = Workspace(two.path)
    promote(ws, "summarize", "1.0.0", "staging")

    def gate(ws: Workspace, src: Source) -> None:
        raise AssertionError("a no-op promotion needs no eval")

    assert promote(ws, "summarize", "1.0.0", "staging", eval_gate=gate).noop


def test_stages_import_nothing_of_evals_or_app() -> None:
    for path in sorted(STAGES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                assert not name.startswith(("loomgit.evals", "loomgit.app")), (path.name, name)
