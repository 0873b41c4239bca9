"""The application services keep their layering: GitHub code knows nothing of loomgit's
core, reports only format what they are given, and each commit hook loads only what it
runs (so the check starts as fast as before the split)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from loomgit.app import hooks
from loomgit.app.hooks import commit_check, installer, offline_eval, protection, trailers
from loomgit.report.html import TEMPLATE, TEMPLATES, render_html

PACKAGE = Path(__file__).resolve().parents[1] / "loomgit"


def _loomgit_imports(folder: Path) -> dict[str, set[str]]:
    """module file -> the loomgit modules it imports (anywhere, type-checking ones too)."""
    out: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        out[path.relative_to(PACKAGE).as_posix()] = {n for n in names if n.startswith("loomgit")}
    return out


def test_github_imports_only_errors_and_itself() -> None:
    allowed = {"loomgit.errors", "loomgit.fsutil", "loomgit.lazy"}  # the bottom layer
    for module, names in _loomgit_imports(PACKAGE / "github").items():
        bad = {n for n in names if n not in allowed and not n.startswith("loomgit.github")}
        assert not bad, f"github/{module} imports {sorted(bad)}"


def test_reports_do_not_import_the_layers_above_them() -> None:
    above = ("loomgit.app", "loomgit.cli", "loomgit.github", "loomgit.batch")
    for module, names in _loomgit_imports(PACKAGE / "report").items():
        bad = {n for n in names if n.startswith(above)}
        assert not bad, f"report/{module} imports {sorted(bad)}"


def test_the_hooks_package_hands_out_each_modules_names() -> None:
    assert hooks.check_files is commit_check.check_files
    assert hooks.protect is protection.protect
    assert hooks.update_message is trailers.update_message
    assert hooks.apply_trailers is trailers.apply_trailers
    assert hooks.run_evals is offline_eval.run_evals
    assert hooks.install is installer.install and hooks.HookAction is installer.HookAction
    assert set(hooks.__all__) <= set(dir(hooks))
    with pytest.raises(AttributeError, match="no_such_name"):
        hooks.no_such_name  # noqa: B018


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("loomgit.app.hooks.commit_check", ["loomgit.history", "loomgit.evals.engine"]),
        ("loomgit.app.hooks.protection", ["loomgit.history", "loomgit.evals.engine"]),
        ("loomgit.app.hooks.trailers", ["loomgit.evals.engine", "loomgit.app.check"]),
        ("loomgit.cli.hooks", ["loomgit.history", "loomgit.evals.engine", "loomgit.app.check"]),
    ],
)
def test_a_hook_loads_only_what_it_runs(module: str, absent: list[str]) -> None:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not loaded & set(absent)


def test_the_html_template_ships_inside_the_package() -> None:
    assert (TEMPLATES / TEMPLATE).is_file()
    assert TEMPLATES.parent == PACKAGE / "report"


def test_html_attributes_cannot_be_broken_out_of() -> None:
    page = render_html(
        {
            "title": 'a "title"',
            "prompts": [{"id": 'x" onmouseover="y', "stages": {"s'1": None}, "versions": []}],
        }
    )
    assert 'id="x&#34; onmouseover=&#34;y"' in page and 'href="#x&#34; onmouseover' in page
    assert "<title>a &#34;title&#34;</title>" in page and '<th scope="col">s&#39;1</th>' in page
    assert 'onmouseover="' not in page
