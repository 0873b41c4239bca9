"""The public Python API, pinned: what applications import must not move or change shape
without this test (and the docs that describe it) changing too."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import loomgit
from loomgit import errors

PACKAGE = Path(loomgit.__file__).resolve().parent

PUBLIC = [
    "ConfigError",
    "Finding",
    "LoomgitError",
    "Prompt",
    "PromptError",
    "RenderError",
    "SandboxError",
    "Variable",
    "Workspace",
    "__version__",
    "experiment",
    "load",
    "load_config",
    "parse_prompt",
    "read_prompt",
    "render",
    "validate",
]


def _params(fn: object) -> list[tuple[str, str, object]]:
    """(name, kind, default) of each parameter; annotations are left to mypy."""
    return [
        (p.name, p.kind.name, p.default if p.default is not p.empty else "<required>")
        for p in inspect.signature(fn).parameters.values()  # type: ignore[arg-type]
    ]


def test_all_is_exactly_the_public_names() -> None:
    assert loomgit.__all__ == PUBLIC
    for name in PUBLIC:
        assert getattr(loomgit, name) is not None, name


def test_the_type_stub_declares_the_same_names() -> None:
    stub = ast.parse((PACKAGE / "__init__.pyi").read_text())
    declared = next(
        node.value
        for node in stub.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__"
    )
    assert ast.literal_eval(declared) == PUBLIC
    assert (PACKAGE / "py.typed").exists()


def test_load_signature_and_loaded_prompt_attributes() -> None:
    from loomgit.app.bundle import LoadedPrompt

    assert _params(loomgit.load) == [
        ("id", "POSITIONAL_OR_KEYWORD", "<required>"),
        ("stage", "POSITIONAL_OR_KEYWORD", "production"),
        ("repo", "POSITIONAL_OR_KEYWORD", None),
        ("bundle", "POSITIONAL_OR_KEYWORD", None),
    ]
    # docs/stages.md: p.version, p.content_hash, p.model, p.params, p.prompt, p.render(...)
    fields = set(LoadedPrompt.__dataclass_fields__)
    assert {"id", "version", "stage", "content_hash", "source_commit", "prompt"} <= fields
    for prop in ("model", "params", "text"):
        assert isinstance(inspect.getattr_static(LoadedPrompt, prop), property), prop
    assert callable(LoadedPrompt.render) and callable(LoadedPrompt.to_dict)


def test_experiment_api() -> None:
    from loomgit.experiments.api import Experiment, Variant

    assert _params(loomgit.experiment) == [
        ("name", "POSITIONAL_OR_KEYWORD", "<required>"),
        ("path", "POSITIONAL_OR_KEYWORD", None),
        ("store", "KEYWORD_ONLY", None),
    ]
    # docs/experiments.md
    for method in ("assign", "variant_name", "record", "batch", "status", "close"):
        assert callable(getattr(Experiment, method)), method
    assert hasattr(Experiment, "__enter__") and hasattr(Experiment, "__exit__")
    assert [n for n, *_ in _params(Experiment.assign)] == ["self", "unit_id"]
    assert _params(Experiment.record)[1:] == [
        ("variant", "POSITIONAL_OR_KEYWORD", "<required>"),
        ("unit_id", "POSITIONAL_OR_KEYWORD", "<required>"),
        ("success", "KEYWORD_ONLY", None),
        ("value", "KEYWORD_ONLY", None),
    ]
    assert {"name", "ref", "weight", "prompt", "version", "commit"} <= set(
        Variant.__dataclass_fields__
    )
    assert _params(Variant.render)[1:] == [("variables", "POSITIONAL_OR_KEYWORD", None)]


def test_error_tree_bases_and_exit_codes() -> None:
    tree = {
        name: ([b.__name__ for b in cls.__bases__], cls.exit_code)
        for name, cls in vars(errors).items()
        if isinstance(cls, type)
        and issubclass(cls, Exception)
        and cls.__module__ == errors.__name__
    }
    assert tree == {
        "LoomgitError": (["Exception"], 1),
        "UsageError": (["LoomgitError"], 2),
        "ConfigError": (["LoomgitError", "ValueError"], 2),
        "PromptError": (["LoomgitError", "ValueError"], 1),
        "RenderError": (["PromptError"], 1),
        "SandboxError": (["RenderError"], 1),
        "IncludeRefused": (["RenderError"], 1),
        "RefError": (["LoomgitError"], 1),
        "InfraError": (["LoomgitError"], 3),
        "GitError": (["InfraError"], 3),
        "ProviderError": (["InfraError"], 3),
        "PluginError": (["InfraError"], 3),
    }
    assert (errors.EXIT_OK, errors.EXIT_FAILED, errors.EXIT_USAGE) == (0, 1, 2)
    assert (errors.EXIT_INFRA, errors.EXIT_INTERNAL) == (3, 4)
    for name in ("ConfigError", "LoomgitError", "PromptError", "RenderError", "SandboxError"):
        assert getattr(loomgit, name) is getattr(errors, name)


def test_errors_elsewhere_inherit_their_code() -> None:
    from loomgit.evals.suite import SuiteError
    from loomgit.providers.errors import ProviderConfigError, ProviderError, RecordingMissing

    assert SuiteError.exit_code == 2 and issubclass(SuiteError, errors.PromptError)
    assert ProviderConfigError.exit_code == 2 and issubclass(ProviderConfigError, ProviderError)
    assert RecordingMissing.exit_code == 3


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(PACKAGE.rglob("*.py"))]


def test_the_class_decides_the_exit_code() -> None:
    """No ``exit_code`` set on an instance, nor overridden outside errors.py."""
    found = []
    for path, tree in _modules():
        rel = path.relative_to(PACKAGE.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Attribute) and t.attr == "exit_code":
                        found.append(f"{rel}:{node.lineno}: sets .exit_code")
            if isinstance(node, ast.ClassDef) and path != PACKAGE / "errors.py":
                for stmt in node.body:
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else []
                    if any(getattr(t, "id", "") == "exit_code" for t in targets):
                        found.append(f"{rel}:{stmt.lineno}: {node.name} overrides exit_code")
    assert found == []


def test_nothing_imports_from_the_package_root() -> None:
    """The root imports nothing, and no module imports a public name through it."""
    found = []
    for path, tree in _modules():
        rel = path.relative_to(PACKAGE.parent)
        for node in ast.walk(tree):
            if path == PACKAGE / "__init__.py" and isinstance(node, (ast.Import, ast.ImportFrom)):
                if (getattr(node, "module", None) or "").startswith("loomgit") or any(
                    a.name.startswith("loomgit") for a in node.names
                ):
                    found.append(f"{rel}:{node.lineno}: the root imports loomgit")
            if isinstance(node, ast.ImportFrom) and node.module == "loomgit" and node.level == 0:
                public = [a.name for a in node.names if a.name in PUBLIC]
                if public:
                    found.append(f"{rel}:{node.lineno}: from loomgit import {', '.join(public)}")
    assert found == []
