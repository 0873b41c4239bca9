"""``loomgit-check``: validate the staged content of prompt and suite files and render each
changed prompt with its ``sample`` and with the ``vars`` of every case of its suite."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loomgit._git import index
from loomgit.app.check import check
from loomgit.app.hooks.snapshots import (
    relpaths,
    snapshot,
    staged_paths,
    suite_path,
    suites_naming,
)
from loomgit.config import Config
from loomgit.errors import LoomgitError, UsageError
from loomgit.evals.data_source import worktree_opener
from loomgit.evals.datasets import DATA_SUFFIXES, suite_cases
from loomgit.evals.suite import parse_suite
from loomgit.evals.suite_model import SuiteError
from loomgit.findings import Finding, error
from loomgit.prompt.discover import SUITE_SUFFIX, glob_for, is_suite, match_any, match_any_id
from loomgit.prompt.parse import decode, read_prompt, symlink_error
from loomgit.prompt.render import render_prompt, resolve_variables
from loomgit.workspace import Workspace


@dataclass(frozen=True)
class CheckResult:
    """What ``loomgit-check`` found: findings, the files checked, renders performed."""

    findings: list[Finding]
    checked: list[str] = field(default_factory=list)
    renders: int = 0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    def ok(self, strict: bool = False) -> bool:
        return not (self.errors or (strict and self.findings))


def _suite_renders(
    ws: Workspace, prompt_rel: str, prompt_id: str | None, suite_rel: str
) -> tuple[list[Finding], int]:
    """Render the prompt with each suite case's vars; a failure is a finding on the case."""
    try:
        glob = glob_for(ws.config, prompt_rel)
        prompt = read_prompt(
            ws.root / prompt_rel, display=prompt_rel, prompt_id=prompt_id, glob=glob
        )
        suite, _ = parse_suite(decode((ws.root / suite_rel).read_bytes(), suite_rel), suite_rel)
    except (LoomgitError, OSError):
        return [], 0  # reported by the check itself
    if suite is None:
        return [], 0
    out: list[Finding] = []
    renders = 0
    case_vars = getattr(suite, "case_vars", lambda c: c.vars)  # suite defaults.vars merged
    opener = getattr(ws, "data_opener", None) or worktree_opener(ws.root)
    cases = suite_cases(suite, opener, prompt.variables)
    try:
        for case in cases:
            if getattr(case, "skip", False):
                continue
            n, more = _render_case(ws, prompt, suite_rel, case, case_vars(case))
            renders += n
            out += more
    except SuiteError:
        pass  # a bad data file: the suite check names it
    return out, renders


def _render_case(
    ws: Workspace, prompt: Any, suite_rel: str, case: Any, values: Any
) -> tuple[int, list[Finding]]:
    """Render the prompt with one case's vars: (renders done, the failure as findings)."""
    cfg = ws.config
    try:
        resolve_variables(prompt, values, ws.loader)
    except LoomgitError:
        return 0, []  # the suite check already names the case's bad vars
    try:
        render_prompt(
            prompt,
            values,
            loader=ws.loader,
            max_chars=cfg.render_max_chars,
            timeout_s=cfg.render_timeout_s,
        )
    except LoomgitError as e:
        where = f" at {e.path}:{e.line}" if e.path and e.line else ""
        msg = f"case {case.name!r}: rendering failed{where}: {e.message}"
        return 1, [error(case.file or suite_rel, case.line, msg)]
    return 1, []


def check_snapshot(ws: Workspace, paths: Sequence[str]) -> CheckResult:
    """Everything ``loomgit check`` reports for ``paths`` (prompts and suites of ``ws``;
    other paths are ignored), plus a render of each prompt with its suite's case vars."""
    cfg = ws.config
    targets: list[str] = []
    prompts: dict[str, str | None] = {}  # prompt path -> id, for the case renders
    for p in dict.fromkeys(paths):
        if not (ws.root / p).is_file():
            continue
        if is_suite(p):
            targets.append(p)
            base = p[: -len(SUITE_SUFFIX)]
            owner = next(
                (pf for pf in ws.files() if re.sub(r"\.[^./]+$", "", pf.path) == base), None
            )
            if owner is not None:
                prompts.setdefault(owner.path, owner.id)
        elif (pf := match_any(cfg, p)) is not None:
            targets.append(p)
            prompts.setdefault(p, pf.id)
    findings = check(ws, targets) if targets else []
    renders = 0
    failed = {f.path for f in findings if f.level == "error"}
    for prompt_rel, pid in prompts.items():
        suite_rel = suite_path(prompt_rel)
        if prompt_rel in failed or suite_rel in failed or not (ws.root / suite_rel).is_file():
            continue
        more, n = _suite_renders(ws, prompt_rel, pid, suite_rel)
        findings += more
        renders += n
    return CheckResult(findings, targets, renders)


def check_files(
    root: Path, paths: Sequence[str] | None = None, source: str = "index"
) -> CheckResult:
    """Check the staged (``source="index"``) or working-tree content of ``paths``; with
    ``paths=None``, the prompt and suite files the index changes."""
    given = paths
    if paths is None:
        if source != "index":
            raise UsageError("name the files to check, or check the index")
        paths = staged_paths(root)
    rels = relpaths(root, paths)
    if not rels:
        return CheckResult([])
    # files named by a caller (the pre-commit framework passes every staged file, or
    # every file with --all-files) are chosen by the checked loomgit.yaml's globs first
    select = None if given is None else _is_target
    data = [p for p in rels if p.endswith(DATA_SUFFIXES) and not is_suite(p)]
    if data:  # a changed data file is a change to the suites that read it
        rels = list(dict.fromkeys([*rels, *suites_naming(root, data, source)]))
    with snapshot(root, rels, source, select) as ws:
        rels = [p for p in rels if _is_target(ws.config, p)]
        result = check_snapshot(ws, rels)
        missing = [p for p in rels if _is_target(ws.config, p) and not (ws.root / p).is_file()]
        # a symlinked prompt or suite is never read (it could point anywhere): say so
        if source == "index":
            links = set(index.staged_symlinks(root, missing)) if missing else set()
        else:
            links = {p for p in missing if (root / p).is_symlink()}
        refused = [error(p, None, symlink_error(p).message) for p in missing if p in links]
        # a named prompt or suite whose staged content cannot be read must not pass unseen
        unread = [
            error(
                p,
                None,
                "not in the index: stage it (git add) or check the working "
                "tree (--source worktree)",
            )
            for p in missing
            if p not in links and source == "index"
        ]
        findings = refused + unread + result.findings
        return CheckResult(findings, result.checked, result.renders)


def _is_target(config: Config, path: str) -> bool:
    """A suite, or a file a prompt glob of ``config`` names (by its path alone)."""
    return is_suite(path) or match_any_id(config, path) is not None
