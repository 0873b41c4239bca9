"""``--require-eval``: run the prompt's suite on the version being promoted, through the
eval engine; a failed gate (or an eval that could not run) stops the promotion.

The suite is the one committed at HEAD (the bar a version must clear today), or, when
HEAD has none, the one committed beside the prompt at the version's commit. Uncommitted
suite edits never decide a promotion."""

from __future__ import annotations

import re

from loomgit._git import objects
from loomgit.errors import InfraError, LoomgitError
from loomgit.evals.engine import evaluate
from loomgit.evals.results import EvalReport
from loomgit.evals.runner import Target
from loomgit.evals.suite import SuiteError, parse_suite
from loomgit.prompt.discover import glob_for
from loomgit.prompt.includes import include_roots
from loomgit.prompt.parse import decode, parse_prompt
from loomgit.prompt.toolspec import resolve_tools
from loomgit.stages.source import Source
from loomgit.stages.state import StageError, blob_loader
from loomgit.workspace import Workspace

SUITE_SUFFIX = ".tests.yaml"


class EvalGateFailed(StageError):
    """The suite's gate failed: the version is not promoted."""


def suite_path(prompt_path: str) -> str:
    return re.sub(r"\.[^./]+$", "", prompt_path) + SUITE_SUFFIX


def _suite_blob(ws: Workspace, src: Source) -> tuple[str, str, bytes] | None:
    """(path, where, text) of the suite to gate on: the prompt's suite as committed at
    HEAD (today's quality bar), else the suite beside the file at the version's commit."""
    candidates = []
    try:
        candidates.append(("HEAD", suite_path(ws.find(src.id).path)))
    except LoomgitError:
        pass
    candidates += [("HEAD", suite_path(src.path)), (src.commit, suite_path(src.path))]
    for rev, path in dict.fromkeys(candidates):
        data = objects.read_blob(ws.root, f"{rev}:{path}")
        if data is not None:
            return path, rev if rev == "HEAD" else rev[:12], data
    return None


def run_suite(ws: Workspace, src: Source) -> EvalReport:
    """Evaluate ``src`` (the prompt at its version, includes as promoted) with its suite."""
    found = _suite_blob(ws, src)
    if found is None:
        raise StageError(
            f"--require-eval: {src.id} has no committed test suite (expected "
            f"{suite_path(src.path)})"
        )
    spath, where, data = found
    suite, findings = parse_suite(decode(data, spath), spath)
    errors = [f for f in findings if f.level == "error"]
    if suite is None or errors:
        first = errors[0] if errors else None
        raise SuiteError(
            f"(at {where}) {first.message if first else 'unusable test suite'}",
            path=spath,
            line=first.line if first else None,
        )
    text = objects.read_blob(ws.root, src.blob) or b""
    glob = glob_for(ws.config, src.path)
    prompt = parse_prompt(decode(text, src.path), src.path, prompt_id=src.id, glob=glob)
    loader = blob_loader(ws.root, src.includes, include_roots(ws.config))
    target = Target(
        resolve_tools(prompt, loader),
        suite,
        loader,
        src.version,
        src.commit,
    )
    return evaluate(ws, target_list=[target])


def require_passing(ws: Workspace, src: Source) -> EvalReport:
    """The eval gate for ``promote(..., eval_gate=require_passing)``: raises
    :class:`EvalGateFailed` on a failed gate, :class:`InfraError` when the eval could not
    run cleanly."""
    report = run_suite(ws, src)
    s = report.summary()
    figures = f"{s['passed']} passed, {s['failed']} failed, {s['errors']} errors"
    if report.status == "failed":
        raise EvalGateFailed(
            f"--require-eval: the suite of {src.id} {src.version} failed its "
            f"gate ({figures}); not promoted ('loomgit eval {src.id}' shows why)"
        )
    if report.status != "passed":
        raise InfraError(
            f"--require-eval: the suite of {src.id} {src.version} could not run "
            f"cleanly ({figures}); not promoted"
        )
    return report
