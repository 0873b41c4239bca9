"""The layout holds: no import cycles, small modules, one owner per external concern.

import-linter (`lint-imports`, contract in pyproject.toml) checks the layer order. These
tests check what it does not: cycles between single modules counting imports inside
functions, which imports may sit inside functions, module size, and that each third-party
library with a home of its own is imported only there.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "loomgit"
MAX_LINES = 400

# Third-party libraries with one home each (module paths relative to loomgit/).
OWNERS: dict[str, tuple[str, ...]] = {
    "yaml": ("_yaml/__init__.py",),
    "ruamel": ("_yaml/__init__.py",),
    # the environment, and the reader of its compiler's frames (which makes none)
    "jinja2": ("prompt/jinja.py", "prompt/undeclared.py"),
    "jsonschema": ("prompt/schema.py",),
    "opentelemetry": ("tracing.py",),
    "subprocess": ("_git/",),
}
# Imports of loomgit's own modules inside a function, allowed for start-up only (each is
# downward, so none hides a cycle): the console script answers --version before the CLI
# loads; each CLI command loads the service it runs (a commit hook must not load the
# eval engine); the commit-time check loads the experiment and pipeline checkers only
# for those files; reading a stage (loomgit.load) does not load the history package.
LAZY_OK: dict[str, set[str] | None] = {
    "entry.py": None,
    "cli/": None,
    "app/check.py": {
        "loomgit.experiments.spec",
        "loomgit.batch.pipeline",
        "loomgit.prompt.portable",  # check --portable only
    },
    # a suite without data files or turns (every suite the commit hook reads, mostly)
    # does not load the record readers or the turn engine
    "evals/suite.py": {"loomgit.evals.datasets", "loomgit.evals.turns"},
    "stages/source.py": {"loomgit.history"},
    "stages/state.py": {"loomgit.history.lookup"},
}


def _lazy_ok(rel: str, target: str) -> bool:
    for prefix, allowed in LAZY_OK.items():
        if rel == prefix or (prefix.endswith("/") and rel.startswith(prefix)):
            return allowed is None or target in allowed
    return False


def _modules() -> dict[str, Path]:
    mods = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _imports(path: Path) -> Iterator[tuple[ast.stmt, str, bool]]:
    """(node, imported module, inside a function?) for every import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_func: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_func.update(id(sub) for sub in ast.walk(node) if sub is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, id(node) in in_func
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{_rel(path)}:{node.lineno}: relative import"
            base = node.module or ""
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            for target in subs or [base]:
                yield node, target, id(node) in in_func


def _own(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for mod, path in MODULES.items():
        for _, target, _ in _imports(path):
            if target.startswith("loomgit"):
                own = _own(target)
                if own and own != mod:
                    graph[mod].add(own)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def test_no_import_cycle_between_modules_counting_imports_inside_functions() -> None:
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_loomgit_modules_are_imported_at_the_top_except_for_start_up() -> None:
    late = [
        f"{_rel(path)}:{node.lineno}: {target}"
        for path in MODULES.values()
        for node, target, inside in _imports(path)
        if inside and target.split(".")[0] == "loomgit" and not _lazy_ok(_rel(path), target)
    ]
    assert late == []


def test_no_import_error_guard_around_loomgit_modules() -> None:
    guarded = []
    for path in MODULES.values():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Try):
                continue
            catches = {
                n.id
                for h in node.handlers
                if h.type is not None
                for n in ast.walk(h.type)
                if isinstance(n, ast.Name)
            }
            if not catches & {"ImportError", "ModuleNotFoundError"}:
                continue
            for sub in node.body:
                if isinstance(sub, ast.ImportFrom) and (sub.module or "").startswith("loomgit"):
                    guarded.append(f"{_rel(path)}:{sub.lineno}")
    assert guarded == []


@pytest.mark.parametrize("library", sorted(OWNERS))
def test_each_library_is_imported_only_by_its_owner(library: str) -> None:
    owners = OWNERS[library]
    users = sorted(
        {
            _rel(path)
            for path in MODULES.values()
            for _, target, _ in _imports(path)
            if target.split(".")[0] == library
        }
    )
    strays = [u for u in users if not u.startswith(owners)]
    assert users, f"nothing imports {library}: the owner list is stale"
    assert strays == []


def test_no_module_is_longer_than_the_limit() -> None:
    long = {
        _rel(p): n
        for p in MODULES.values()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.parametrize(
    "name", ["Price", "Workspace", "Config", "LoomgitError", "Finding", "YamlError"]
)
def test_one_definition_of_each_core_type(name: str) -> None:
    defined = [
        _rel(p)
        for p in MODULES.values()
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and node.name == name
    ]
    assert len(defined) == 1, defined


def test_one_git_dir_function() -> None:
    defined = [
        _rel(p)
        for p in MODULES.values()
        for node in ast.parse(p.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef) and node.name.lstrip("_") == "git_dir"
    ]
    assert len(defined) == 1, defined
