"""``action.yml`` and the workflows that use it, checked the way GitHub and the security
linters read them: the GitHub Actions JSON schemas (check-jsonschema), actionlint on the
example workflow and the ``loomgit init`` template, zizmor's audit, and the rules the
action promises (env-only inputs, install from its own path, actions pinned by commit)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
EXAMPLE = ROOT / "tests" / "fixtures" / "workflows" / "prompts.yml"
TEMPLATE = ROOT / "templates" / "workflow.yml"
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def tool(name: str) -> str:
    """A linter installed by the test extra; CI must have it, elsewhere skip and say why."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        msg = f"{name} is not installed: pip install -e '.[test]' installs it"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


def load(path: Path) -> Any:
    from loomgit import _yaml

    return _yaml.plain(_yaml.load(path.read_text(encoding="utf-8"), path=str(path)))


# --------------------------------------------------------------------------- the linters


def test_action_matches_the_github_actions_schema() -> None:
    p = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ACTION))
    assert p.returncode == 0, p.stdout + p.stderr


def test_workflows_match_the_github_workflows_schema() -> None:
    p = run(
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        str(EXAMPLE),
        str(TEMPLATE),
    )
    assert p.returncode == 0, p.stdout + p.stderr


def test_the_schema_check_does_catch_a_broken_action(tmp_path: Path) -> None:
    bad = tmp_path / "action.yml"
    bad.write_text(ACTION.read_text().replace("using: composite", "using: compost"))
    p = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(bad))
    assert p.returncode == 1


def test_actionlint_accepts_the_example_workflow_and_the_template() -> None:
    # shellcheck/pyflakes off: their presence on PATH would make the result depend on the machine
    p = run(
        tool("actionlint"), "-shellcheck=", "-pyflakes=", "-no-color", str(EXAMPLE), str(TEMPLATE)
    )
    assert p.returncode == 0, p.stdout + p.stderr


def test_actionlint_does_catch_an_injection_in_a_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        EXAMPLE.read_text().replace(
            'run: echo "passed=$PASSED', 'run: echo "${{ github.event.pull_request.title }} $PASSED'
        )
    )
    p = run(tool("actionlint"), "-shellcheck=", "-pyflakes=", "-no-color", str(bad))
    assert p.returncode == 1 and "potentially untrusted" in p.stdout


def _zizmor(*paths: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("zizmor"), "--offline", "--no-progress", "--format", "plain", *map(str, paths))


def test_zizmor_finds_nothing_in_the_action_and_the_example_workflow() -> None:
    p = _zizmor(ACTION, EXAMPLE)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "No findings to report" in p.stdout + p.stderr


def test_zizmor_on_the_template_flags_only_the_release_tag_users_must_pin() -> None:
    # `loomgit init` cannot know the commit of the loomgit release a user picks; the
    # template says to pin it. Everything else in the template must be clean.
    p = _zizmor(TEMPLATE)
    findings = re.findall(r"^(\w+)\[([\w-]+)\]", p.stdout, re.M)
    assert findings == [("error", "unpinned-uses")], p.stdout
    assert "loomgit/loomgit@v1" in p.stdout


def test_the_workflow_init_writes_is_clean_once_the_loomgit_action_is_pinned(
    tmp_path: Path,
    cli,  # type: ignore[no-untyped-def]
) -> None:
    # what a user gets from `loomgit init`, after the one edit its comment asks for
    from conftest import GitRepo

    repo = GitRepo(tmp_path / "repo")
    assert cli(["init"], cwd=repo.path).exit_code == 0
    written = repo.path / ".github/workflows/loomgit.yml"
    text = written.read_text()
    assert "PIN BEFORE USE" in text and "loomgit/loomgit@v1" in text
    pinned = tmp_path / "loomgit.yml"
    pinned.write_text(
        text.replace(
            "loomgit/loomgit@v1 #", "example/loomgit@" + "0123456789abcdef" * 2 + "01234567 #"
        )
    )
    p = run(tool("zizmor"), "--offline", "--no-progress", "--persona", "pedantic", str(pinned))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "No findings to report" in p.stdout + p.stderr
    p = run(tool("actionlint"), "-shellcheck=", "-pyflakes=", "-no-color", str(pinned))
    assert p.returncode == 0, p.stdout + p.stderr


def test_zizmor_does_catch_an_inlined_input(tmp_path: Path) -> None:
    bad = tmp_path / "action.yml"
    bad.write_text(
        ACTION.read_text().replace(
            """run: '"$RUNNER_TEMP/loomgit-venv/bin/loomgit" ci --no-comment'""",
            """run: '"$RUNNER_TEMP/loomgit-venv/bin/loomgit" ci ${{ inputs.args }}'""",
        )
    )
    p = _zizmor(bad)
    assert p.returncode != 0 and "template-injection" in p.stdout


# --------------------------------------------------------------------------- the promises


def test_no_expression_is_inlined_in_a_shell_script() -> None:
    action = load(ACTION)
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], step
            assert step["shell"] == "bash"


def test_every_input_reaches_loomgit_through_env() -> None:
    action = load(ACTION)
    steps = action["runs"]["steps"]
    env = {k: v for s in steps for k, v in (s.get("env") or {}).items()}
    used = (
        " ".join(map(str, env.values()))
        + " "
        + " ".join(
            str(s.get("with", ""))
            + " "
            + str(s.get("if", ""))
            + " "
            + str(s.get("working-directory", ""))
            for s in steps
        )
    )
    for name in action["inputs"]:
        assert f"inputs.{name} " in used + " " or f"inputs.{name}}}" in used, name


def test_the_ci_steps_env_matches_what_loomgit_ci_reads() -> None:
    """Each LOOMGIT_CI_* variable the action sets is one a `loomgit ci` option reads, and
    every such option is set by one of the two steps that run `loomgit ci`."""
    from loomgit.cli.ci import ci

    action = load(ACTION)
    steps = {s.get("id"): s for s in action["runs"]["steps"]}
    set_by_action = {
        k for sid in ("ci", "comment") for k in steps[sid]["env"] if k.startswith("LOOMGIT_CI_")
    }
    read_by_cli = {p.envvar for p in ci.params if isinstance(p.envvar, str)}
    assert set_by_action == {e for e in read_by_cli if e.startswith("LOOMGIT_CI_")}
    assert steps["comment"]["env"]["GITHUB_TOKEN"] == "${{ inputs.github-token }}"
    assert "--comment-only" in steps["comment"]["run"]
    assert steps["comment"]["env"]["LOOMGIT_CI_ARTIFACT_URL"] == (
        "${{ steps.upload.outputs.artifact-url }}"
    )


def test_the_token_reaches_only_the_comment_step() -> None:
    """The step that evaluates the pull request's prompts (and, when allowed, its python:
    assertions) never holds the token: only the step that writes the comment does."""
    action = load(ACTION)
    for step in action["runs"]["steps"]:
        holds = [k for k, v in (step.get("env") or {}).items() if "token" in str(v).lower()]
        if step.get("id") == "comment":
            assert holds == ["GITHUB_TOKEN"]
        else:
            assert holds == [] and "github-token" not in str(step.get("with", "")), step


def test_the_report_folder_is_uploaded_before_the_comment_links_it() -> None:
    action = load(ACTION)
    steps = action["runs"]["steps"]
    order = [s.get("id") for s in steps]
    assert order.index("ci") < order.index("upload") < order.index("comment")
    [upload] = [s for s in steps if s.get("id") == "upload"]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["path"] == "${{ runner.temp }}/loomgit/"  # where `loomgit ci` writes
    assert upload["with"]["if-no-files-found"] == "error"
    assert upload["with"]["overwrite"] is True  # a re-run of the job replaces it
    # the report is uploaded and linked even when the check fails (a regression)
    for sid in ("upload", "comment"):
        [s] = [s for s in steps if s.get("id") == sid]
        assert "!cancelled()" in s["if"] and "steps.ci.outputs.report-path != ''" in s["if"]


def test_loomgit_is_installed_from_the_action_itself() -> None:
    action = load(ACTION)
    [install] = [s for s in action["runs"]["steps"] if "pip install" in s.get("run", "")]
    assert install["env"]["LOOMGIT_ACTION_PATH"] == "${{ github.action_path }}"
    assert re.search(r'pip install [^\n]*"\$LOOMGIT_ACTION_PATH"\s*$', install["run"], re.M)
    for step in action["runs"]["steps"]:
        assert not re.search(r"\b(curl|wget)\b|pip install [^\n]*\bloomgit\b", step.get("run", ""))


@pytest.mark.parametrize("path", [ACTION, EXAMPLE, TEMPLATE], ids=lambda p: p.name)
def test_third_party_actions_are_pinned_by_commit(path: Path) -> None:
    text = path.read_text()
    for ref in re.findall(r"uses:\s*([^\s#]+)", text):
        if ref.startswith("./") or ref == "loomgit/loomgit@v1":
            continue
        assert SHA_PIN.match(ref), f"{path.name}: {ref} is not pinned to a commit"


def test_the_outputs_are_the_steps_outputs() -> None:
    action = load(ACTION)
    source = {"comment-url": "comment", "artifact-url": "upload", "artifact-id": "upload"}
    for name, spec in action["outputs"].items():
        assert spec["value"] == f"${{{{ steps.{source.get(name, 'ci')}.outputs.{name} }}}}"
    assert {"passed", "regressions", "report-path", "artifact-url"} <= set(action["outputs"])


def test_example_and_template_check_out_the_whole_history() -> None:
    for path in (EXAMPLE, TEMPLATE):
        wf = load(path)
        [job] = wf["jobs"].values()
        checkout = job["steps"][0]
        assert checkout["uses"].startswith("actions/checkout@")
        assert checkout["with"]["fetch-depth"] == 0
        assert checkout["with"]["persist-credentials"] is False
        assert wf["on"] == "pull_request" or "pull_request" in wf["on"]
        assert "pull_request_target" not in str(wf["on"])
    assert load(EXAMPLE)["jobs"]["prompts"]["steps"][1]["uses"] == "./"


# --------------------------------------------------------------------------- pinned install

CONSTRAINTS = ROOT / "action-constraints.txt"


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)", line)
            assert m, f"{line!r}: the action pins exact versions only"
            pins[_norm(m.group(1))] = m.group(2)
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_action_pins_every_dependency_of_loomgit_and_its_build() -> None:
    """The runtime dependencies of loomgit (followed through the installed metadata, with
    the markers of Python 3.10-3.14 on Linux, macOS and Windows) and hatchling's are all
    pinned, and each pin satisfies what pyproject.toml asks for."""
    import importlib.metadata as md

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.version import Version

    pins = _pins()
    needed: set[str] = set()

    def walk(req: Requirement, env: dict[str, str]) -> None:
        if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
            return
        name = _norm(req.name)
        assert name in pins, f"{req.name} is not pinned in action-constraints.txt"
        assert Version(pins[name]) in req.specifier, f"{name}=={pins[name]} is not {req}"
        if name in needed:
            return
        needed.add(name)
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            return  # only on another Python or platform; pinned, its own deps are few
        for sub in dist.requires or []:
            walk(Requirement(sub), env)

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    roots = project["project"]["dependencies"] + project["build-system"]["requires"]
    for minor in range(10, 15):
        for plat, system in (("linux", "Linux"), ("darwin", "Darwin"), ("win32", "Windows")):
            env = {
                **default_environment(),
                "python_version": f"3.{minor}",
                "python_full_version": f"3.{minor}.0",
                "sys_platform": plat,
                "platform_system": system,
            }
            for r in roots:
                walk(Requirement(r), env)
    assert needed <= set(pins)
    assert set(pins) - needed <= {"colorama"}, set(pins) - needed  # nothing stale


def _key(action_path: Path, tmp: Path) -> str:
    action = load(ACTION)
    [step] = [s for s in action["runs"]["steps"] if s.get("id") == "key"]
    out = tmp / "output"
    out.write_text("")
    p = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        env={**os.environ, "LOOMGIT_ACTION_PATH": str(action_path), "GITHUB_OUTPUT": str(out)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    [line] = out.read_text().splitlines()
    return line.removeprefix("key=")


def test_the_install_cache_key_follows_the_python_the_sources_and_the_pins(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "action"
    for name in ("pyproject.toml", "action-constraints.txt"):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, copy / name)
    for folder in ("loomgit", "templates", "hooks"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    first = _key(copy, tmp_path)
    assert re.fullmatch(r"loomgit-venv-\w+-\w+-[0-9a-f]{12}-[0-9a-f]{24}", first), first
    assert _key(copy, tmp_path) == first  # stable
    assert _key(ROOT, tmp_path) == first  # the same files give the same key
    (copy / "loomgit" / "__pycache__").mkdir(exist_ok=True)
    (copy / "loomgit" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert _key(copy, tmp_path) == first  # bytecode is not a source
    with (copy / "action-constraints.txt").open("a") as f:
        f.write("# a comment is a change too\n")
    second = _key(copy, tmp_path)
    assert second != first and second.rsplit("-", 1)[0] == first.rsplit("-", 1)[0]
    (copy / "loomgit" / "cli" / "ci.py").write_text("# changed\n", encoding="utf-8")
    assert _key(copy, tmp_path) not in (first, second)


def test_the_install_uses_the_pins_and_is_cached_apart_from_the_check() -> None:
    action = load(ACTION)
    steps = {s.get("name"): s for s in action["runs"]["steps"]}
    restore = steps["Restore the cached loomgit install"]
    save = steps["Cache the loomgit install"]
    install = steps["Install loomgit from this action"]
    assert restore["uses"].split("@")[0] == "actions/cache/restore"
    assert save["uses"].split("@")[0] == "actions/cache/save"
    assert restore["uses"].split("@")[1] == save["uses"].split("@")[1]
    assert (
        restore["with"]
        == save["with"]
        == {
            "path": "${{ runner.temp }}/loomgit-venv",
            "key": "${{ steps.key.outputs.key }}",
        }
    )
    assert install["if"] == save["if"] == "steps.cache.outputs.cache-hit != 'true'"
    assert 'PIP_CONSTRAINT="$LOOMGIT_ACTION_PATH/action-constraints.txt"' in install["run"]
    assert '--constraint "$PIP_CONSTRAINT"' in install["run"]


# --------------------------------------------------------------------------- the local runner


def test_the_local_runner_reads_expressions_as_github_does(tmp_path: Path) -> None:
    """The subset of GitHub's expression language the action uses, as the runner reads it
    (conditions get an implied success(); strings compare ignoring case; a missing
    output is null, equal to ''), and anything else refused rather than guessed."""
    from action_runner import ExpressionError, LocalRunner, StepResult, _Context
    from github_api import FakeGitHub

    runner = LocalRunner(tmp_path, tmp_path / "temp", FakeGitHub(), tmp_path / "event.json")
    ci = StepResult("ci", "ci", "failure", {"report-path": "/r.md"})
    ok = _Context({"comment": "TRUE", "python-version": ""}, [ci], runner, "success")
    failed = _Context({"comment": "true", "python-version": ""}, [ci], runner, "failure")
    cond = "${{ !cancelled() && steps.ci.outputs.report-path != '' }}"
    assert ok.condition(cond) is True and failed.condition(cond) is True
    assert ok.condition("inputs.python-version != ''") is False
    assert ok.condition("inputs.comment == 'true'") is True  # case-insensitive
    assert failed.condition("inputs.comment == 'true'") is False  # success() implied
    assert failed.condition("failure()") is True
    assert ok.condition("steps.upload.outputs.artifact-url == ''") is True  # null
    assert ok.substitute("x-${{ steps.upload.outputs.artifact-url }}-y") == "x--y"
    assert ok.substitute("${{ runner.temp }}/loomgit/") == f"{tmp_path / 'temp'}/loomgit/"
    for bad in ("format('{0}', inputs.comment)", "inputs.nosuch", "github.event.number", "1 < 2"):
        with pytest.raises(ExpressionError):
            ok.condition(bad)
