"""The plugin seam, end to end: the example distributions in tests/plugins/ are installed
for real (pip, into a folder on PYTHONPATH) and loomgit is run as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import GitRepo

PLUGINS = Path(__file__).resolve().parent / "plugins"

GREET = """---
model: shout/loud
variables:
  name: {type: string, required: true}
sample: {name: Ada}
---
user:
hello {{ name }}
"""

SUITE = """providers: [shout/loud, whisper/soft]
cases:
  - name: ada
    vars: {name: Ada}
    assert:
      - contains: HELLO ADA
      - shouting: true
"""

CONFIG = """providers:
  whisper: {type: shout, params: {prefix: "psst, "}}
"""


@dataclass(frozen=True)
class Installed:
    shout: Path  # a folder holding loomgit-shout, as `pip install --target` leaves it
    broken: Path  # a folder holding loomgit-broken, whose module fails to import


def _pip_install(source: Path, target: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-build-isolation",  # the build backend is in the test environment; no network
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("plugins")
    _pip_install(PLUGINS / "loomgit-shout", root / "shout")
    _pip_install(PLUGINS / "loomgit-broken", root / "broken")
    return Installed(root / "shout", root / "broken")


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def loomgit(args: list[str], cwd: Path, *paths: Path) -> Run:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in paths)}
    proc = subprocess.run(
        [sys.executable, "-m", "loomgit", *args], cwd=cwd, capture_output=True, text=True, env=env
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def greet_repo(repo: GitRepo) -> GitRepo:
    """A prompt whose model is the plugin's provider, and a suite using its assertion."""
    repo.commit(
        "greet prompt and suite",
        {
            "loomgit.yaml": CONFIG,
            "prompts/greet.prompt": GREET,
            "prompts/greet.tests.yaml": SUITE,
        },
    )
    return repo


def test_render_run_answers_with_the_plugin_provider(
    installed: Installed, greet_repo: GitRepo
) -> None:
    r = loomgit(["render", "greet", "--run", "--var", "name=Ada"], greet_repo.path, installed.shout)
    assert r.code == 0, r.err
    assert r.out.strip() == "HELLO ADA"
    assert r.err.startswith("shout/loud · ") and "$0" in r.err  # local providers are free


def test_eval_scores_with_the_plugin_provider_and_assertion(
    installed: Installed, greet_repo: GitRepo
) -> None:
    r = loomgit(["eval"], greet_repo.path, installed.shout)
    assert r.code == 1, r.err  # the whispering provider fails the gate
    rows = {line.split()[3]: line.split()[0] for line in r.out.splitlines()[1:3]}
    assert rows == {"shout/loud": "PASS", "whisper/soft": "FAIL"}, r.out
    assert "shouting: 67% upper case < 100%" in r.out
    assert "gate all_pass failed" in r.out


def test_check_validates_plugin_assertions_with_the_plugin_rules(
    installed: Installed, greet_repo: GitRepo
) -> None:
    assert loomgit(["check"], greet_repo.path, installed.shout).code == 0
    greet_repo.write({"prompts/greet.tests.yaml": SUITE.replace("shouting: true", "shouting: 2")})
    r = loomgit(["check"], greet_repo.path, installed.shout)
    assert r.code == 1
    assert (
        "prompts/greet.tests.yaml:7: error: case 'ada': shouting: expects true or the share "
        "of upper-case letters required, from 0 to 1"
    ) in r.out


def test_without_the_plugin_its_names_are_unknown(greet_repo: GitRepo) -> None:
    r = loomgit(["check"], greet_repo.path)
    assert r.code == 1
    assert "prompts/greet.tests.yaml:7: error: case 'ada': unknown assertion 'shouting'" in r.out
    r = loomgit(["render", "greet", "--run"], greet_repo.path)
    assert r.code == 2
    assert r.err.startswith("loomgit: error: unknown provider 'shout' in 'shout/loud'; known:")


def test_a_broken_plugin_is_one_line_naming_it_and_exit_3(
    installed: Installed, greet_repo: GitRepo
) -> None:
    r = loomgit(
        ["render", "greet", "--run", "--model", "broken/x"], greet_repo.path, installed.broken
    )
    assert r.code == 3
    assert r.out == ""
    assert r.err.splitlines() == [
        "loomgit: error: provider plugin 'broken' (loomgit_broken:Provider, from loomgit-broken "
        "0.1.0) cannot be loaded: RuntimeError: this plugin is broken on purpose"
    ]
    greet_repo.write(
        {"prompts/greet.tests.yaml": SUITE.replace("shouting: true", "broken_check: 1")}
    )
    r = loomgit(["check"], greet_repo.path, installed.shout, installed.broken)
    assert r.code == 3
    assert r.err.splitlines()[-1:] == [
        "loomgit: error: assertion plugin 'broken_check' (loomgit_broken:check, from "
        "loomgit-broken 0.1.0) cannot be loaded: RuntimeError: this plugin is broken on purpose"
    ]


def test_a_broken_plugin_is_not_imported_when_its_names_are_not_used(
    installed: Installed, greet_repo: GitRepo
) -> None:
    r = loomgit(["eval", "--model", "echo"], greet_repo.path, installed.shout, installed.broken)
    assert "broken" not in r.err
    assert r.code == 1  # echo answers "hello Ada": the suite ran, and does not shout
    assert "shouting: 12% upper case < 100%" in r.out
    r = loomgit(["render", "greet", "--run"], greet_repo.path, installed.broken, installed.shout)
    assert r.code == 0 and r.out.strip() == "HELLO ADA"


# -- in-process: register() and the laziness of entry points ----------------------------


def test_built_in_names_never_read_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    import loomgit.plugins
    from loomgit.evals.assertions import spec_problem
    from loomgit.providers import resolve

    def boom(**kw: object) -> None:
        raise AssertionError("entry points were read")

    monkeypatch.setattr("importlib.metadata.entry_points", boom)
    loomgit.plugins.forget()
    assert resolve("openai/gpt-4o-mini").type == "openai"
    assert resolve("ollama/llama3.2").type == "ollama"
    assert resolve("echo").type == "echo"
    assert resolve("replay/openai/gpt-4o-mini").type == "replay"
    assert spec_problem({"contains": "fire"}) is None
    assert spec_problem({"not": {"judge": "polite"}}) is None
    loomgit.plugins.forget()


def test_registered_provider_and_assertion_work_in_process() -> None:
    import asyncio

    from loomgit.evals.assertions import (
        AssertionType,
        Observation,
        compile_assertion,
        evaluate,
        register,
        spec_problem,
        unregister,
    )
    from loomgit.providers import get_provider, registry
    from loomgit.providers.base import Completion, Provider

    class Reverse(Provider):
        name = "reverse"
        local = True

        async def complete(
            self, messages: list[dict[str, str]], params: dict[str, object]
        ) -> Completion:
            return Completion(messages[-1]["content"][::-1], self.label)

    def palindrome(arg: object, obs: Observation, services: object) -> bool:
        return obs.text == obs.text[::-1]

    registry.register("reverse", Reverse)
    register("palindrome", AssertionType(palindrome, lambda v: None if v is True else "true"))
    try:

        async def go() -> tuple[str, float | None]:
            async with get_provider("reverse/any") as p:
                c = await p.complete([{"role": "user", "content": "abc"}], {})
                return c.text, c.cost_usd

        assert asyncio.run(go()) == ("cba", 0.0)
        assert spec_problem({"palindrome": 1}) == "palindrome: true"
        a = compile_assertion({"palindrome": True})
        r = asyncio.run(evaluate(a, Observation("abba"), None))  # type: ignore[arg-type]
        assert (r.passed, r.score, r.kind) == (True, 1.0, "palindrome")
    finally:
        registry.unregister("reverse")
        unregister("palindrome")
    assert spec_problem({"palindrome": True}) == "unknown assertion 'palindrome'"


def test_check_reads_no_entry_points_for_built_in_types(sample_repo: GitRepo) -> None:
    """importlib.metadata costs tens of milliseconds: `loomgit check` of suites that use only
    built-in assertion types never imports it."""
    sample_repo.commit(
        "suite",
        {
            "prompts/support/summarize.tests.yaml": (
                "cases:\n  - vars: {ticket: fire}\n    assert: [{contains: fire}, {similar: x}]\n"
            )
        },
    )
    code = (
        "import sys\nfrom loomgit.cli import main\nrc = main(['check'])\n"
        "print('RC', rc, 'importlib.metadata' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=sample_repo.path, capture_output=True, text=True
    ).stdout
    assert "RC 0 False" in out
