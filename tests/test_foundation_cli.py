"""The foundation as a new user meets it: init, new, check, list, config errors, plain and
Prompty files, the installed console script, and the library surface."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GitRepo

import loomgit


def test_init_scaffolds_and_never_overwrites(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.write({"loomgit.yaml": "stages: [staging, production]\n"})
    r = cli(["init"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    assert "skipped loomgit.yaml (already exists)" in r.out
    for f in (
        "prompts/support/summarize.prompt",
        "prompts/support/summarize.tests.yaml",
        ".github/workflows/loomgit.yml",
        ".pre-commit-config.yaml",
    ):
        assert f"created {f}" in r.out
        assert (repo.path / f).is_file()
    assert (repo.path / "loomgit.yaml").read_text() == "stages: [staging, production]\n"
    again = cli(["init"], cwd=repo.path)
    assert again.out.count("skipped") == 10 and "created" not in again.out
    # the scaffold is valid as written
    assert cli(["check"], cwd=repo.path).exit_code == 0


def test_init_outside_git_is_a_clear_error(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["init"], cwd=tmp_path)
    assert r.exit_code == 3
    assert "is not a git repository (run 'git init' first" in r.err


def test_new_creates_a_prompt_that_checks_and_renders(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["new", "support/triage", "-d", "Route tickets"], cwd=repo.path)
    assert r.exit_code == 0 and r.out.strip() == "created prompts/support/triage.prompt"
    assert (
        'description: "Route tickets"' in (repo.path / "prompts/support/triage.prompt").read_text()
    )
    assert cli(["check"], cwd=repo.path).exit_code == 0
    assert "Hello, world" in cli(["render", "support/triage"], cwd=repo.path).out
    dup = cli(["new", "support/triage"], cwd=repo.path)
    assert dup.exit_code == 2 and "already exists; not overwritten" in dup.err
    bad = cli(["new", "../evil"], cwd=repo.path)
    assert bad.exit_code == 2 and "'..'" in bad.err


def test_check_warns_on_unused_variable_but_passes(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.write(
        {
            "prompts/a.prompt": "---\nvariables:\n  used: string\n  spare: {type: string, default: x}\n"
            "sample: {used: u}\n---\nHi {{ used }}\n"
        }
    )
    r = cli(["check"], cwd=repo.path)
    assert r.exit_code == 0
    assert (
        r.out.strip() == "prompts/a.prompt:4: warning: variable 'spare' is declared but never used"
    )
    assert cli(["check", "--strict"], cwd=repo.path).exit_code == 1
    data = json.loads(cli(["check", "--json"], cwd=repo.path).out)
    assert data == {
        "ok": True,
        "findings": [
            {
                "path": "prompts/a.prompt",
                "line": 4,
                "level": "warning",
                "message": "variable 'spare' is declared but never used",
            }
        ],
    }


def test_check_reports_bad_suite_lines(sample_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    sample_repo.write(
        {
            "prompts/support/summarize.tests.yaml": "cases:\n  - name: a\n    vars: {ticket: x}\n    assert:\n      - contans: x\n"
            "  - name: b\n    vars: {tone: formal, bogus: 1}\n"
        }
    )
    r = cli(["check"], cwd=sample_repo.path)
    assert r.exit_code == 1
    lines = r.out.strip().splitlines()
    assert (
        "prompts/support/summarize.tests.yaml:5: error: case 'a': unknown assertion 'contans' (did you mean 'contains'?)"
        in lines
    )
    assert any(
        ln.startswith(
            "prompts/support/summarize.tests.yaml:6: error: case 'b': unknown variable(s): bogus"
        )
        for ln in lines
    ), lines


def test_config_typo_is_a_usage_error(sample_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    sample_repo.write({"loomgit.yaml": "prompts: ['prompts/**/*.prompt']\nstage: [a]\n"})
    r = cli(["list"], cwd=sample_repo.path)
    assert r.exit_code == 2
    assert r.err.startswith(
        "loomgit: error: loomgit.yaml:2: stage: unknown setting (did you mean 'stages'?)"
    )


def test_malformed_config_yaml(sample_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    sample_repo.write({"loomgit.yaml": "prompts: [unclosed\n"})
    r = cli(["check"], cwd=sample_repo.path)
    assert r.exit_code == 2 and r.err.startswith("loomgit: error: loomgit.yaml:")
    assert "Traceback" not in r.err


def test_plain_markdown_text_and_prompty_files_are_prompts(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.write(
        {
            "loomgit.yaml": "prompts:\n  - {glob: 'patterns/*/system.md', id: '{1}'}\n  - notes/*.txt\n"
            "  - agents/**/*.prompty\n",
            "patterns/extract_wisdom/system.md": "# IDENTITY\nYou extract wisdom from {{ input }}.\n",
            "notes/greet.txt": "Say hello.\n",
            "agents/basic.prompty": "---\nname: Basic\nmodel:\n  api: chat\n  configuration:\n"
            "    type: azure_openai\n    azure_deployment: gpt-4o\n"
            "  parameters: {max_tokens: 128}\ninputs:\n  question:\n"
            "    type: string\n    sample: What is git?\n---\nsystem:\n"
            "You answer briefly.\n\nuser:\n{{question}}\n",
        }
    )
    listing = json.loads(cli(["list", "--json"], cwd=repo.path).out)
    assert {p["id"] for p in listing} >= {"extract_wisdom", "greet", "basic"}
    r = cli(["render", "extract_wisdom", "--var", "input=a talk"], cwd=repo.path)
    assert r.exit_code == 0 and "You extract wisdom from a talk." in r.out
    r = cli(["render", "agents/basic.prompty", "--json"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    data = json.loads(r.out)
    assert data["model"] == "openai/gpt-4o" and data["params"] == {"max_tokens": 128}
    assert data["messages"][1]["content"] == "What is git?"
    assert cli(["check"], cwd=repo.path).exit_code == 0


def test_frontmatter_id_overrides_path(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.write({"prompts/old/name.prompt": "---\nid: support/renamed\n---\nhi\n"})
    r = cli(["render", "support/renamed"], cwd=repo.path)
    assert r.exit_code == 0 and r.out.strip().endswith("hi")


def test_internal_errors_are_one_line_without_debug(
    monkeypatch: pytest.MonkeyPatch, sample_repo: GitRepo, cli
) -> None:  # type: ignore[no-untyped-def]
    import loomgit.app.check

    def boom(*a: object, **k: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(loomgit.app.check, "check", boom)
    r = cli(["check"], cwd=sample_repo.path)
    assert r.exit_code == 4
    assert r.err.strip() == (
        "loomgit: internal error: KeyError: 'surprise' (rerun with --debug for a traceback)"
    )
    r = cli(["--debug", "check"], cwd=sample_repo.path)
    assert r.exit_code == 4 and "Traceback" in r.err


def test_unknown_command_and_option_are_usage_errors(sample_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli(["frobnicate"], cwd=sample_repo.path).exit_code == 2
    assert cli(["render", "--nope"], cwd=sample_repo.path).exit_code == 2


def _console_script() -> str:
    exe = Path(sys.executable).with_name("loomgit")
    assert exe.exists(), "loomgit is not installed in this environment"
    return str(exe)


def test_installed_console_script_end_to_end(sample_repo: GitRepo) -> None:
    exe = _console_script()
    env = {**os.environ, "NO_COLOR": "1"}
    v = subprocess.run([exe, "--version"], capture_output=True, text=True, env=env)
    assert v.returncode == 0 and v.stdout.strip() == f"loomgit {loomgit.__version__}"
    r = subprocess.run(
        [exe, "render", "summarize"], cwd=sample_repo.path, capture_output=True, text=True, env=env
    )
    assert r.returncode == 0, r.stderr
    assert "\x1b[" not in r.stdout  # no colour codes when not a terminal
    assert r.stdout.splitlines()[0] == "system:"
    bad = subprocess.run(
        [exe, "render", "summarize", "--var", "x=1"],
        cwd=sample_repo.path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 1 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


def test_version_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; sys.argv=['loomgit','--version']\n"
        "from loomgit.entry import run\n"
        "try:\n    run()\nexcept SystemExit: pass\n"
        "heavy=[m for m in ('click','jinja2','ruamel.yaml','httpx','rich','jsonschema') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "HEAVY []" in out


def test_check_does_not_import_network_or_rich(sample_repo: GitRepo) -> None:
    code = (
        "import sys\nfrom loomgit.cli import main\nrc = main(['check'])\n"
        "print('RC', rc, [m for m in ('httpx','rich','sqlite3') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=sample_repo.path, capture_output=True, text=True
    ).stdout
    assert "RC 0 []" in out
