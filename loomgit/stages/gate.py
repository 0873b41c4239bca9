"""``--require-eval``: run the prompt's suite, as it was at the promoted version, through
the eval engine; a failed gate (or an eval that could not run) stops the promotion."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import InfraError
from . import plumbing
from .state import StageError, blob_loader

if TYPE_CHECKING:
    from ..evals.results import EvalReport
    from ..workspace import Workspace
    from .source import Source

SUITE_SUFFIX = ".tests.yaml"


class EvalGateFailed(StageError):
    """The suite's gate failed: the version is not promoted."""


def suite_path(prompt_path: str) -> str:
    return re.sub(r"\.[^./]+$", "", prompt_path) + SUITE_SUFFIX


def run_suite(ws: Workspace, src: Source) -> EvalReport:
    """Evaluate ``src`` with the suite committed beside it at its source commit."""
    from ..evals.engine import evaluate
    from ..evals.runner import Target
    from ..evals.suite import SuiteError, parse_suite
    from ..prompt.parse import decode, parse_prompt

    spath = suite_path(src.path)
    data = plumbing.read_blob(ws.root, f"{src.commit}:{spath}")
    if data is None:
        raise StageError(f"--require-eval: {src.id} {src.version} has no test suite (expected "
                         f"{spath} in commit {src.commit[:12]})")
    suite, findings = parse_suite(decode(data, spath), spath)
    errors = [f for f in findings if f.level == "error"]
    if suite is None or errors:
        first = errors[0] if errors else None
        raise SuiteError(f"as of {src.version}: {first.message if first else 'unusable suite'}",
                         path=spath, line=first.line if first else None)
    text = plumbing.read_blob(ws.root, src.blob) or b""
    prompt = parse_prompt(decode(text, src.path), src.path, prompt_id=src.id)
    target = Target(prompt, suite, blob_loader(ws.root, src.includes), src.version, src.commit)
    return evaluate(ws, target_list=[target])


def require_passing(ws: Workspace, src: Source) -> EvalReport:
    report = run_suite(ws, src)
    s = report.summary()
    figures = f"{s['passed']} passed, {s['failed']} failed, {s['errors']} errors"
    if report.status == "failed":
        raise EvalGateFailed(f"--require-eval: the suite of {src.id} {src.version} failed its "
                             f"gate ({figures}); not promoted ('loomgit eval {src.id}' shows why)")
    if report.status != "passed":
        raise InfraError(f"--require-eval: the suite of {src.id} {src.version} could not run "
                         f"cleanly ({figures}); not promoted")
    return report
