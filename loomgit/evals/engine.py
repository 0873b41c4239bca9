"""Evaluating a workspace: which suites to run, on which prompts, then run and record.

This is the library entry point behind ``loomgit eval``::

    from loomgit.workspace import Workspace
    from loomgit.evals.engine import evaluate
    report = evaluate(Workspace("."), ["support/summarize"])
    report.exit_code, report.to_dict()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from loomgit.errors import UsageError
from loomgit.evals.runner import Progress, RunOptions, Target
from loomgit.prompt.jinja import referenced_templates

if TYPE_CHECKING:
    from loomgit.evals.results import EvalReport
    from loomgit.evals.suite import Suite
    from loomgit.prompt.discover import PromptFile
    from loomgit.workspace import Workspace

SUITE_SUFFIX = ".tests.yaml"


@dataclass(frozen=True)
class SuiteRef:
    """A prompt file and a suite file that tests it (repo-relative paths)."""

    prompt: PromptFile
    suite_path: str


def _suite_prompt_ref(ws: Workspace, rel: str) -> str | None:
    """The ``prompt:`` a free-standing suite names, read without failing."""
    from loomgit.evals.suite import parse_suite, read_suite_text

    try:
        suite, _ = parse_suite(read_suite_text(ws.root / rel, rel), rel)
    except Exception:
        return None
    return suite.prompt if suite is not None else None


def suite_refs(ws: Workspace, ids: Sequence[str] | None = None) -> list[SuiteRef]:
    """Suites to run: every suite of the repository (``ids`` empty or None) or those of
    the named prompts (ids, prompt paths or suite paths)."""
    from loomgit.prompt.discover import is_suite, list_files

    files = ws.files()
    by_path = {pf.path: pf for pf in files}
    all_files = list_files(ws.root)
    suites = [p for p in all_files if is_suite(p)]
    refs: list[SuiteRef] = []
    owned: set[str] = set()
    for pf in files:
        if pf.suite_path in suites:
            refs.append(SuiteRef(pf, pf.suite_path))
            owned.add(pf.suite_path)
    for s in suites:
        if s in owned:
            continue
        ref = _suite_prompt_ref(ws, s)
        if ref is None:
            base = s[: -len(SUITE_SUFFIX)]
            match = [pf for pf in files if pf.path.rsplit(".", 1)[0] == base]
            if match:
                refs.append(SuiteRef(match[0], s))
            continue
        try:
            refs.append(SuiteRef(ws.find(ref), s))
        except Exception:
            continue  # reported when that suite is named or checked
    if not ids:
        return sorted(refs, key=lambda r: (r.prompt.id, r.suite_path))
    chosen: list[SuiteRef] = []
    for ident in ids:
        norm = ident.replace("\\", "/").removeprefix("./")
        if norm.endswith(SUITE_SUFFIX):
            hit = [r for r in refs if r.suite_path == norm]
            if not hit:
                if not (ws.root / norm).is_file():
                    raise UsageError(f"{ident}: no such test suite")
                raise UsageError(
                    f"{ident}: no prompt for this suite (put it beside the prompt "
                    "as NAME.tests.yaml, or set 'prompt: ID' in it)"
                )
        else:
            pf = by_path.get(norm) or ws.find(ident)
            hit = [r for r in refs if r.prompt.path == pf.path]
            if not hit:
                raise UsageError(f"{pf.id}: no test suite (expected {pf.suite_path})")
        chosen += [r for r in hit if r not in chosen]
    return chosen


def _includes(ws: Workspace, sources: list[str]) -> set[str]:
    """Files the templates include, transitively (repo-relative names)."""
    seen: set[str] = set()
    todo = list(sources)
    while todo:
        src = todo.pop()
        for n in referenced_templates(src):
            if n and n not in seen:
                seen.add(n)
                text = ws.loader(n)
                if text is not None:
                    todo.append(text)
    return seen


def changed_suite_refs(
    ws: Workspace, base: str, ids: Sequence[str] | None = None
) -> list[SuiteRef]:
    """Suites whose prompt, suite file or included files differ between ``base`` and the
    working tree (committed, staged, unstaged or untracked)."""
    from loomgit import gitio
    from loomgit.evals.compare import verify_ref

    sha = verify_ref(ws, base)
    out = gitio.run(["diff", "--name-only", "-z", sha, "--"], ws.root)
    out += gitio.run(["ls-files", "-z", "--others", "--exclude-standard"], ws.root)
    changed = {p for p in out.decode("utf-8", "surrogateescape").split("\0") if p}
    chosen = []
    for ref in suite_refs(ws, ids):
        if ref.prompt.path in changed or ref.suite_path in changed:
            chosen.append(ref)
            continue
        try:
            prompt = ws.prompt(ref.prompt.path)
        except Exception:
            chosen.append(ref)  # unreadable now: evaluating it will say why
            continue
        if _includes(ws, [m.source for m in prompt.messages]) & changed:
            chosen.append(ref)
    return chosen


def head_commit(ws: Workspace) -> str | None:
    from loomgit import gitio

    if not gitio.is_repo(ws.root):
        return None
    sha = gitio.text(["rev-parse", "--verify", "-q", "HEAD"], ws.root, check=False).strip()
    return sha or None


def load_suite_for(ws: Workspace, ref: SuiteRef) -> Suite:
    from loomgit.evals.records import git_dir
    from loomgit.evals.suite import load_suite

    gd = git_dir(ws.root)
    cache = gd / "loomgit" / "suites" if gd is not None else None
    return load_suite(ws.root / ref.suite_path, ref.suite_path, cache)


def target(
    ws: Workspace,
    ref: SuiteRef,
    suite: Suite | None = None,
    *,
    at: str | None = None,
    commit: str | None = None,
) -> Target:
    """The prompt of ``ref`` (in the working tree, or at ``at``) with its suite."""
    from loomgit.refs import resolve

    suite = suite or load_suite_for(ws, ref)
    res = resolve(ws, f"{ref.prompt.id}@{at}" if at else ref.prompt.path)
    return Target(res.prompt, suite, res.loader, res.version, res.commit or commit)


def targets(ws: Workspace, ids: Sequence[str] | None = None) -> list[Target]:
    commit = head_commit(ws)
    return [target(ws, r, commit=commit) for r in suite_refs(ws, ids)]


EVAL_KEYS = {
    "concurrency": "model calls at once (default 4)",
    "embedding_model": "provider/model for 'similar' (default: lexical similarity)",
    "judge_model": "provider/model for 'judge' (default: the model under test)",
    "judge_prompt": "prompt id of the judge's rubric prompt",
}


def check_eval_config(sec: dict[str, object]) -> None:
    """``eval:`` in loomgit.yaml: known keys with values of the right kind."""
    from loomgit.errors import ConfigError

    for key, value in sec.items():
        if key not in EVAL_KEYS:
            raise ConfigError(
                f"eval: unknown setting {key!r}; known: {', '.join(EVAL_KEYS)}", path="loomgit.yaml"
            )
        if key == "concurrency":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(
                    "eval: concurrency must be a whole number of 1 or more", path="loomgit.yaml"
                )
        elif value is not None and not isinstance(value, str):
            raise ConfigError(f"eval: {key} must be a text", path="loomgit.yaml")


def options_from_config(ws: Workspace, **overrides: object) -> RunOptions:
    """Run options: ``eval:`` in loomgit.yaml, then the given overrides (None = unset)."""
    sec = ws.config.section("eval")
    check_eval_config(sec)
    opts = RunOptions(max_chars=ws.config.render_max_chars, timeout_s=ws.config.render_timeout_s)
    conc = sec.get("concurrency")
    if isinstance(conc, int) and not isinstance(conc, bool) and conc >= 1:
        opts = replace(opts, concurrency=conc)
    defaults = ws.config.section("defaults")
    if isinstance(defaults.get("model"), str):
        opts = replace(opts, default_model=defaults["model"])
    if isinstance(defaults.get("params"), dict):
        opts = replace(opts, default_params=tuple(defaults["params"].items()))
    given = {k: v for k, v in overrides.items() if v is not None and v != ()}
    return replace(opts, **given)  # type: ignore[arg-type]


def evaluate(
    ws: Workspace,
    ids: Sequence[str] | None = None,
    *,
    options: RunOptions | None = None,
    use_cache: bool = True,
    record: bool = True,
    progress: Progress | None = None,
    target_list: Sequence[Target] | None = None,
    mode: str = "live",
) -> EvalReport:
    """Run the suites of ``ids`` (all when empty) and record the run in runs.sqlite.

    ``mode`` is the provider layer's: ``live``, ``record`` (fill recordings) or ``replay``."""
    from loomgit.evals.models import make_caller
    from loomgit.evals.runner import run
    from loomgit.evals.services import EvalServices

    opts = options or options_from_config(ws)
    tl = list(target_list) if target_list is not None else targets(ws, ids)
    report = run(
        tl,
        lambda: make_caller(ws, use_cache=use_cache, mode=mode),
        EvalServices(ws),
        opts,
        progress,
    )
    report.commit = head_commit(ws)
    if record:
        from loomgit.evals.records import record_report

        record_report(ws, report)
    return report
