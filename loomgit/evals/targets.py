"""Which suites to run on which prompts: a suite beside its prompt or naming it with
``prompt:``, the suites changed since a commit, and the prompt (at a version) paired with
its suite as a :class:`~loomgit.evals.runner.Target`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loomgit import _git
from loomgit._git import git_dir, index
from loomgit._git.refs import head_commit as _head_commit
from loomgit._git.refs import resolve_commit
from loomgit.errors import IncludeRefused, UsageError
from loomgit.evals.datasets import DATA_SUFFIXES, data_files
from loomgit.evals.ghsuite import has_test_data
from loomgit.evals.runner import Target
from loomgit.evals.suite import Suite, load_suite, parse_suite, read_suite_text
from loomgit.prompt.discover import PromptFile, is_suite, symlinked
from loomgit.prompt.ghmodels import is_ghmodels
from loomgit.prompt.jinja import referenced_templates
from loomgit.prompt.parse import symlink_error
from loomgit.refs import resolve
from loomgit.workspace import Workspace

SUITE_SUFFIX = ".tests.yaml"


@dataclass(frozen=True)
class SuiteRef:
    """A prompt file and a suite file that tests it (repo-relative paths)."""

    prompt: PromptFile
    suite_path: str


def _suite_prompt_ref(ws: Workspace, rel: str) -> str | None:
    """The ``prompt:`` a free-standing suite names, read without failing."""
    try:
        suite, _ = parse_suite(read_suite_text(ws.root / rel, rel), rel)
    except Exception:
        return None
    return suite.prompt if suite is not None else None


def suite_refs(ws: Workspace, ids: Sequence[str] | None = None) -> list[SuiteRef]:
    """Suites to run: every suite of the repository (``ids`` empty or None) or those of
    the named prompts (ids, prompt paths or suite paths)."""
    files = ws.files()
    by_path = {pf.path: pf for pf in files}
    all_files = ws.tracked
    suites = [p for p in all_files if is_suite(p)]
    refs: list[SuiteRef] = []
    owned: set[str] = set()
    for pf in files:
        if pf.suite_path in suites:
            refs.append(SuiteRef(pf, pf.suite_path))
            owned.add(pf.suite_path)
        elif is_ghmodels(pf.path) and has_test_data(ws.root / pf.path):
            refs.append(SuiteRef(pf, pf.path))  # its testData + evaluators are its suite
    for s in suites:
        if s in owned:
            continue
        ref = _suite_prompt_ref(ws, s)
        if ref is None:
            base = s[: -len(SUITE_SUFFIX)]
            match = [pf for pf in files if pf.path.rsplit(".", 1)[0] == base]
            if match:
                refs.append(SuiteRef(match[0], s))
            elif linked := [p for p in symlinked(ws.config) if p.rsplit(".", 1)[0] == base]:
                raise symlink_error(linked[0])  # its prompt is a link: never read, never run
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
        for n in referenced_templates(todo.pop()):
            if n and n not in seen:
                seen.add(n)
                try:
                    text = ws.loader(n)
                except IncludeRefused:
                    continue  # rendering the prompt names the refusal
                if text is not None:
                    todo.append(text)
    return seen


def changed_suite_refs(
    ws: Workspace, base: str, ids: Sequence[str] | None = None
) -> list[SuiteRef]:
    """Suites whose prompt, suite file or included files differ between ``base`` and the
    working tree (committed, staged, unstaged or untracked)."""
    sha = verify_ref(ws, base)
    changed = index.changed_since(ws.root, sha)
    chosen = []
    for ref in suite_refs(ws, ids):
        if ref.prompt.path in changed or suite_changed(ws, ref, changed):
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


def suite_changed(ws: Workspace, ref: SuiteRef, changed: set[str] | dict[str, str]) -> bool:
    """Whether the suite file of ``ref`` or a data file it names is among ``changed``
    (its cases changed: a data file's records are cases of the suite)."""
    if ref.suite_path in changed:
        return True
    if not any(p.endswith(DATA_SUFFIXES) for p in changed):
        return False  # nothing a suite could read its cases from: no need to parse it
    try:
        suite = load_suite_for(ws, ref)
    except Exception:
        return False  # a suite that cannot be read: evaluating or checking it says why
    return any(f in changed for f in data_files(suite))


def head_commit(ws: Workspace) -> str | None:
    if not _git.is_repo(ws.root):
        return None
    return _head_commit(ws.root)


def load_suite_for(ws: Workspace, ref: SuiteRef) -> Suite:
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
    suite = suite or load_suite_for(ws, ref)
    res = resolve(ws, f"{ref.prompt.id}@{at}" if at else ref.prompt.path)
    return Target(res.prompt, suite, res.loader, res.version, res.commit or commit)


def targets(ws: Workspace, ids: Sequence[str] | None = None) -> list[Target]:
    commit = head_commit(ws)
    return [target(ws, r, commit=commit) for r in suite_refs(ws, ids)]


def verify_ref(ws: Workspace, ref: str) -> str:
    _git.require_repo(ws.root)
    sha = resolve_commit(ws.root, ref)
    if not sha:
        raise UsageError(
            f"--compare {ref!r}: no such commit, branch or tag "
            "(in CI, check out with fetch-depth: 0)"
        )
    return sha
