"""``loomgit check``: validate prompt files and test suites, collecting findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loomgit.errors import LoomgitError
from loomgit.evals.assertions.python import PYTHON_WARNING, python_allowed
from loomgit.evals.suite import check_suite_file
from loomgit.findings import Finding, error
from loomgit.prompt.discover import (
    PROMPT_SUFFIXES,
    PromptFile,
    duplicate_ids,
    glob_for,
    id_line,
    is_suite,
    match_any,
    symlinked,
)
from loomgit.prompt.parse import read_prompt, symlink_error
from loomgit.prompt.toolspec import resolve_tools
from loomgit.prompt.validate import validate_prompt
from loomgit.workspace import Workspace

# Experiment and pipeline files are checked by their own packages, imported only when such
# a file is checked: the commit hook checks prompts and suites, and starts faster without.


def _rel(ws: Workspace, path: str) -> str:
    p = Path(path)
    p = p if p.is_absolute() else Path.cwd() / p
    full = p.parent.resolve() / p.name  # a symlinked file is named, not followed
    try:
        return full.relative_to(ws.root).as_posix()
    except ValueError:
        return path


def check_prompt(ws: Workspace, rel: str, prompt_id: str | None = None) -> list[Finding]:
    try:
        prompt = read_prompt(
            ws.root / rel, display=rel, prompt_id=prompt_id, glob=glob_for(ws.config, rel)
        )
    except LoomgitError as e:
        return [error(e.path or rel, e.line, e.message, e.col)]
    out = validate_prompt(prompt, ws.loader, known_providers=set(ws.config.providers))
    try:  # the suite's checks see the tools of $ref files too
        prompt = resolve_tools(prompt, ws.loader)
    except LoomgitError:
        pass  # validate_prompt has reported the tool file
    suite = Path(rel).with_suffix("").as_posix() + ".tests.yaml"
    if not is_suite(rel) and (ws.root / suite).is_file():
        out += _suite_findings(ws, suite, prompt)
    return out


def check_suite(ws: Workspace, rel: str) -> list[Finding]:
    base = rel[: -len(".tests.yaml")]
    prompt = None
    for p in ws.files():
        if p.path.rsplit(".", 1)[0] == base:
            try:
                prompt = read_prompt(ws.root / p.path, display=p.path, prompt_id=p.id, glob=p.glob)
            except LoomgitError:
                prompt = None  # reported when the prompt itself is checked
            break
    return _suite_findings(ws, rel, prompt)


def _suite_findings(ws: Workspace, rel: str, prompt: Any) -> list[Finding]:
    """A suite's findings; the warning about ``python:`` assertions only while they are
    not allowed here (LOOMGIT_ALLOW_PYTHON, eval.allow_python)."""
    out = check_suite_file(ws.root / rel, rel, prompt, getattr(ws, "data_opener", None))
    if python_allowed(config=ws.config.section("eval").get("allow_python")):
        out = [f for f in out if not f.message.endswith(PYTHON_WARNING)]
    return out


def check_ids(
    ws: Workspace, files: list[PromptFile], only: set[str] | None = None
) -> list[Finding]:
    """An error on each file whose id another file also claims (of ``only`` when given):
    ``render``, ``eval`` and ``show`` refuse to pick one, so ``check`` fails first."""
    out = []
    for ident, group in duplicate_ids(files).items():
        for pf in group:
            if only is not None and pf.path not in only:
                continue
            others = ", ".join(o.path for o in group if o is not pf)
            line = id_line(ws.root / pf.path)
            out.append(error(pf.path, line, f"id {ident!r} is also used by {others}"))
    return out


def _is_experiment(ws: Workspace, rel: str) -> bool:
    from loomgit.experiments.spec import is_experiment_file

    return is_experiment_file(ws.config, rel)


def _is_pipeline(ws: Workspace, rel: str) -> bool:
    from loomgit.batch.pipeline import is_pipeline_path

    return is_pipeline_path(ws, rel)


def check(ws: Workspace, paths: list[str] | None = None) -> list[Finding]:
    """Findings for ``paths`` (every prompt and suite of the repository when None)."""
    findings: list[Finding] = []
    if paths is None:
        files = ws.files()
        targets = [(pf.path, pf.id) for pf in files]
        seen = {t[0] for t in targets}
        suites = [p for p in ws.tracked if is_suite(p)]
        for rel in symlinked(ws.config):
            findings.append(error(rel, None, symlink_error(rel).message))
        for rel, pid in targets:
            findings += check_prompt(ws, rel, pid)
        findings += check_ids(ws, files)
        for s in suites:
            owner = s[: -len(".tests.yaml")]
            if not any(t.rsplit(".", 1)[0] == owner for t in seen):
                findings += check_suite(ws, s)
        from loomgit.experiments.spec import check_experiment_file, experiment_files

        for e in experiment_files(ws):
            findings += check_experiment_file(ws, e)
        from loomgit.batch.pipeline import check_pipeline_file, pipeline_files

        for pl in pipeline_files(ws):
            findings += check_pipeline_file(ws, pl)
        return findings
    prompts: set[str] = set()
    for path in paths:
        rel = _rel(ws, path)
        if not (ws.root / rel).exists():
            findings.append(error(rel, None, "no such file"))
        elif is_suite(rel):
            findings += check_suite(ws, rel)
        elif rel.endswith((".yaml", ".yml")) and _is_experiment(ws, rel):
            from loomgit.experiments.spec import check_experiment_file

            findings += check_experiment_file(ws, rel)
        elif rel.endswith((".yaml", ".yml")) and _is_pipeline(ws, rel):
            from loomgit.batch.pipeline import check_pipeline_file

            findings += check_pipeline_file(ws, rel)
        else:
            pf = match_any(ws.config, rel)
            if pf is not None or rel.endswith(PROMPT_SUFFIXES):
                findings += check_prompt(ws, rel, pf.id if pf else None)
            if pf is not None:
                prompts.add(rel)
    if prompts:
        findings += check_ids(ws, ws.files(), prompts)
    return findings


def check_portable(ws: Workspace, paths: list[str] | None = None) -> list[Finding]:
    """An error naming each construct outside the portable subset (``check
    --portable``), in the prompts of ``paths`` (every prompt when None) and the files
    they include. A prompt that does not read is reported by :func:`check` already."""
    from loomgit.prompt.portable import portable_problems  # only for check --portable

    out: list[Finding] = []
    wanted = None if paths is None else {_rel(ws, p) for p in paths}
    for pf in ws.files():
        if wanted is not None and pf.path not in wanted:
            continue
        try:
            prompt = read_prompt(ws.root / pf.path, display=pf.path, prompt_id=pf.id, glob=pf.glob)
        except LoomgitError:
            continue
        for pr in portable_problems(prompt, ws.loader):
            out.append(error(pr.path, pr.line, pr.message))
    return out
