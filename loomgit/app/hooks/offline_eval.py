"""``loomgit-eval``: run the suites of the changed prompts offline (replay mode)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from loomgit.app.hooks.snapshots import relpaths, staged_paths
from loomgit.evals import engine
from loomgit.evals.results import EvalReport
from loomgit.evals.runner import Target
from loomgit.evals.targets import suite_changed
from loomgit.workspace import Workspace


def eval_targets(ws: Workspace, paths: Sequence[str]) -> list[Target]:
    """Prompt + suite targets (working tree) for the prompt and suite files among ``paths``."""
    wanted = {p.replace(os.sep, "/").removeprefix("./") for p in paths}
    refs = [
        r for r in engine.suite_refs(ws) if r.prompt.path in wanted or suite_changed(ws, r, wanted)
    ]
    commit = engine.head_commit(ws)
    return [engine.target(ws, r, commit=commit) for r in refs]


def run_evals(root: Path, paths: Sequence[str] | None = None) -> EvalReport | None:
    """Run the suites of the changed prompts offline: answers come from the repository's
    recordings (``replay``), ``echo``, or the response cache; nothing is sent anywhere.
    ``paths=None``: the staged files. None when no changed prompt has a suite."""
    ws = Workspace(root)
    rels = relpaths(root, staged_paths(root) if paths is None else paths)
    targets = eval_targets(ws, rels)
    if not targets:
        return None
    return engine.evaluate(
        ws,
        options=engine.options_from_config(ws),
        use_cache=True,
        record=False,
        target_list=targets,
        mode="replay",
    )
