"""The composite action of ``action.yml`` run locally, without ``act``: its steps in
order, as the GitHub runner runs them, against the test suite's fake GitHub.

- each ``run:`` step is written to a file and run by ``bash --noprofile --norc -eo
  pipefail FILE`` (GitHub's ``shell: bash``) in ``working-directory`` under
  ``GITHUB_WORKSPACE``, with the runner's variables (``GITHUB_*``, ``RUNNER_*``, ``CI``)
  and the step's ``env:``, and its own ``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``,
  ``GITHUB_ENV`` and ``GITHUB_PATH`` files, read back afterwards;
- ``${{ }}`` expressions in ``with:``, ``env:``, ``working-directory`` and ``if:`` are
  evaluated over ``inputs``, ``steps.<id>.outputs``/``outcome``, ``github`` and ``runner``,
  with the status functions (``success()`` implied when none is named); the evaluator
  knows the subset of GitHub's expression language the action uses and refuses the rest,
  so the action cannot grow an expression this runner would read differently;
- ``uses:`` steps are served here: actions/setup-python (the Python running the tests),
  actions/cache/restore and /save (a cache store kept by the test), and
  actions/upload-artifact (into the fake GitHub's artifacts, with the ``artifact-id``
  and ``artifact-url`` outputs GitHub gives). An input those actions do not declare fails
  the step.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from github_api import SERVER_URL, FakeGitHub, read_outputs

from loomgit import _yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"

# the inputs each served action declares in its own action.yml
KNOWN_INPUTS = {
    "actions/setup-python": {
        "python-version",
        "python-version-file",
        "cache",
        "architecture",
        "check-latest",
        "token",
        "cache-dependency-path",
        "update-environment",
        "allow-prereleases",
        "freethreaded",
    },
    "actions/cache/restore": {
        "path",
        "key",
        "restore-keys",
        "enableCrossOsArchive",
        "fail-on-cache-miss",
        "lookup-only",
    },
    "actions/cache/save": {"path", "key", "upload-chunk-size", "enableCrossOsArchive"},
    "actions/upload-artifact": {
        "name",
        "path",
        "if-no-files-found",
        "retention-days",
        "compression-level",
        "overwrite",
        "include-hidden-files",
        "archive",
    },
}


class ExpressionError(ValueError):
    pass


# --------------------------------------------------------------------------- expressions

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>&&|\|\||==|!=|!|\(|\))"
    r"|(?P<fn>[A-Za-z_]\w*)\(\)|(?P<lit>true|false|null)\b|(?P<path>[A-Za-z_][\w.-]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot read expression {text!r} at {text[pos:]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Eval:
    """Recursive descent over ``||`` < ``&&`` < ``==``/``!=`` < ``!`` < atoms."""

    def __init__(self, tokens: list[tuple[str, str]], lookup: Callable[[str], Any], status: str):
        self.t, self.i, self.lookup, self.status = tokens, 0, lookup, status
        self.named_status = False

    def peek(self) -> str | None:
        return self.t[self.i][1] if self.i < len(self.t) else None

    def take(self) -> tuple[str, str]:
        tok = self.t[self.i]
        self.i += 1
        return tok

    def parse(self) -> Any:
        v = self.or_()
        if self.i != len(self.t):
            raise ExpressionError(f"unexpected {self.peek()!r}")
        return v

    def or_(self) -> Any:
        v = self.and_()
        while self.peek() == "||":
            self.take()
            r = self.and_()
            v = v if _truthy(v) else r
        return v

    def and_(self) -> Any:
        v = self.cmp()
        while self.peek() == "&&":
            self.take()
            r = self.cmp()
            v = r if _truthy(v) else v
        return v

    def cmp(self) -> Any:
        v = self.not_()
        while self.peek() in ("==", "!="):
            op = self.take()[1]
            r = self.not_()
            same = _loose_eq(v, r)
            v = same if op == "==" else not same
        return v

    def not_(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not _truthy(self.not_())
        return self.atom()

    def atom(self) -> Any:
        kind, text = self.take()
        if text == "(":
            v = self.or_()
            if self.take()[1] != ")":
                raise ExpressionError("missing )")
            return v
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "lit":
            return {"true": True, "false": False, "null": None}[text]
        if kind == "fn":
            self.named_status = True
            fns = {
                "success": self.status == "success",
                "failure": self.status == "failure",
                "always": True,
                "cancelled": False,
            }
            if text not in fns:
                raise ExpressionError(f"function {text}() is not known to this runner")
            return fns[text]
        if kind == "path":
            return self.lookup(text)
        raise ExpressionError(f"unexpected {text!r}")


def _truthy(v: Any) -> bool:
    return v not in (None, False, "", 0)


def _loose_eq(a: Any, b: Any) -> bool:
    """GitHub's ``==``: strings compare ignoring case; null and '' are both falsy 0."""
    if a is None:
        a = ""
    if b is None:
        b = ""
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if isinstance(a, bool) or isinstance(b, bool):
        return _truthy(a) == _truthy(b)
    return bool(a == b)


# --------------------------------------------------------------------------- the runner


@dataclass
class StepResult:
    name: str
    id: str | None
    outcome: str  # success | failure | skipped
    outputs: dict[str, str] = field(default_factory=dict)
    code: int = 0
    out: str = ""
    err: str = ""
    command: str = ""  # the bash script, or the uses: reference


@dataclass
class ActionRun:
    steps: list[StepResult]
    outputs: dict[str, str]
    summary: str  # the job summary: every step's summary file, in order

    @property
    def code(self) -> int:
        """The exit code of the first failed step (0 when none failed)."""
        return next((s.code or 1 for s in self.steps if s.outcome == "failure"), 0)

    @property
    def out(self) -> str:
        return "".join(s.out for s in self.steps)

    @property
    def err(self) -> str:
        return "".join(s.err for s in self.steps)

    def step(self, name_or_id: str) -> StepResult:
        return next(s for s in self.steps if name_or_id in (s.id, s.name))


@dataclass
class LocalRunner:
    """One job's runner: a workspace, ``RUNNER_TEMP``, the event, and the fake GitHub."""

    workspace: Path
    temp: Path
    fake: FakeGitHub
    event_path: Path
    event_name: str = "pull_request"
    repository: str = "octo/prompts"
    run_id: int = 1000
    token: str = ""  # github.token
    base_env: Mapping[str, str] = field(default_factory=dict)
    cache: dict[str, Path] = field(default_factory=dict)  # key -> saved folder
    cache_dir: Path | None = None
    action: Path = ACTION

    def environment(self) -> dict[str, str]:
        keep = {
            k: v
            for k, v in self.base_env.items()
            if not k.startswith(("GITHUB_", "LOOMGIT_CI_", "RUNNER_"))
        }
        return {
            **keep,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": str(self.action.parent),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_EVENT_PATH": str(self.event_path),
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_API_URL": self.fake.url,
            "GITHUB_SERVER_URL": SERVER_URL,
            "GITHUB_RUN_ID": str(self.run_id),
            "GITHUB_RUN_ATTEMPT": "1",
            "GITHUB_BASE_REF": "main",
            "GITHUB_HEAD_REF": "feature",
            "RUNNER_TEMP": str(self.temp),
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
        }

    def run(self, inputs: Mapping[str, str] | None = None) -> ActionRun:
        """Every step of the action in order, with ``inputs`` over the defaults."""
        action = _yaml.plain(_yaml.load(self.action.read_text(encoding="utf-8")))
        assert action["runs"]["using"] == "composite"
        values = {}
        for name, spec in action["inputs"].items():
            default = str(spec.get("default", ""))
            values[name] = default
        unknown = set(inputs or {}) - set(values)
        assert not unknown, f"not inputs of the action: {unknown}"
        values["github-token"] = self.token  # the default ${{ github.token }}
        values.update(inputs or {})
        self.temp.mkdir(parents=True, exist_ok=True)
        env = self.environment()
        results: list[StepResult] = []
        summaries: list[str] = []
        status = "success"
        for n, step in enumerate(action["runs"]["steps"]):
            ctx = _Context(values, results, self, status)
            name = str(step.get("name") or step.get("uses") or step.get("run", ""))
            cond = str(step.get("if", "success()"))
            if not _truthy(ctx.condition(cond)):
                results.append(StepResult(name, step.get("id"), "skipped"))
                continue
            files = {
                k: self.temp / "_runner" / f"{n}-{k}" for k in ("output", "summary", "env", "path")
            }
            for f in files.values():
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_text("")
            step_env = {
                **env,
                **{k: ctx.substitute(str(v)) for k, v in (step.get("env") or {}).items()},
                "GITHUB_OUTPUT": str(files["output"]),
                "GITHUB_STEP_SUMMARY": str(files["summary"]),
                "GITHUB_ENV": str(files["env"]),
                "GITHUB_PATH": str(files["path"]),
            }
            if "run" in step:
                result = self._bash(step, name, ctx, step_env)
            else:
                result = self._uses(step, name, ctx, files["output"])
            result.outputs = read_outputs(files["output"])
            summaries.append(files["summary"].read_text(encoding="utf-8"))
            env.update(read_outputs(files["env"]))  # GITHUB_ENV reaches later steps
            for line in files["path"].read_text().splitlines():
                if line.strip():
                    env["PATH"] = f"{line.strip()}{os.pathsep}{env.get('PATH', '')}"
            if result.outcome == "failure" and not step.get("continue-on-error"):
                status = "failure"
            results.append(result)
        ctx = _Context(values, results, self, status)
        outputs = {k: str(ctx.substitute(str(v["value"]))) for k, v in action["outputs"].items()}
        return ActionRun(results, outputs, "".join(summaries))

    def _bash(
        self, step: dict[str, Any], name: str, ctx: _Context, env: dict[str, str]
    ) -> StepResult:
        assert step.get("shell") == "bash", f"{name}: only shell: bash is run here"
        script = ctx.substitute(str(step["run"]))
        path = self.temp / "_runner" / f"{len(ctx.results)}.sh"
        path.write_text(script, encoding="utf-8")
        cwd = self.workspace / ctx.substitute(str(step.get("working-directory", ".")))
        p = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        outcome = "success" if p.returncode == 0 else "failure"
        return StepResult(
            name, step.get("id"), outcome, {}, p.returncode, p.stdout, p.stderr, script
        )

    def _uses(self, step: dict[str, Any], name: str, ctx: _Context, output: Path) -> StepResult:
        ref = str(step["uses"])
        action = ref.split("@", 1)[0]
        with_ = {k: ctx.substitute(str(v)) for k, v in (step.get("with") or {}).items()}
        res = StepResult(name, step.get("id"), "success", command=ref)
        extra = set(with_) - KNOWN_INPUTS.get(action, set())
        if action not in KNOWN_INPUTS or extra:
            res.outcome, res.code = "failure", 1
            res.err = f"{ref}: not served here, or unexpected inputs {sorted(extra)}\n"
            return res
        outputs: dict[str, str] = {}
        if action == "actions/setup-python":
            outputs["python-version"] = ".".join(map(str, sys.version_info[:3]))
        elif action == "actions/cache/restore":
            saved = self.cache.get(with_["key"])
            target = Path(with_["path"])
            if saved is not None:
                if target.exists():
                    shutil.rmtree(target)
                shutil.copytree(saved, target, symlinks=True)
            outputs["cache-hit"] = "true" if saved is not None else "false"
        elif action == "actions/cache/save":
            key, source = with_["key"], Path(with_["path"])
            if key in self.cache:  # caches are immutable: GitHub warns and moves on
                res.out = f"Failed to save: Unable to reserve cache with key {key}\n"
            elif source.exists():
                assert self.cache_dir is not None, "give the runner a cache_dir to save to"
                dest = self.cache_dir / str(len(self.cache))
                shutil.copytree(source, dest, symlinks=True)
                self.cache[key] = dest
        elif action == "actions/upload-artifact":
            root = Path(with_["path"])
            if not root.is_dir() or not any(p.is_file() for p in root.rglob("*")):
                if with_.get("if-no-files-found", "warn") == "error":
                    res.outcome, res.code = "failure", 1
                    res.err = f"No files were found with the provided path: {root}\n"
                    return res
            else:
                name_ = with_.get("name", "artifact")
                taken = any(
                    a.name == name_ and a.run_id == self.run_id for a in self.fake.artifacts
                )
                if taken and with_.get("overwrite", "false") != "true":
                    res.outcome, res.code = "failure", 1
                    res.err = f"an artifact with the name {name_} already exists\n"
                    return res
                art = self.fake.upload_artifact(self.repository, self.run_id, name_, root)
                outputs["artifact-id"] = str(art.id)
                outputs["artifact-url"] = art.html_url
        with output.open("a", encoding="utf-8") as f:
            f.writelines(f"{k}={v}\n" for k, v in outputs.items())
        return res


@dataclass
class _Context:
    inputs: dict[str, str]
    results: list[StepResult]
    runner: LocalRunner
    status: str

    def lookup(self, path: str) -> Any:
        parts = path.split(".")
        head = parts[0]
        if head == "inputs" and len(parts) == 2:
            if parts[1] not in self.inputs:
                raise ExpressionError(f"no input {parts[1]!r}")
            return self.inputs[parts[1]]
        if head == "steps" and len(parts) in (3, 4):
            step = next((s for s in self.results if s.id == parts[1]), None)
            if step is None:
                ids = [s.id for s in self.results]
                if parts[1] not in ids:
                    return None  # a later or unknown step: null, as GitHub gives
            if parts[2] == "outputs" and len(parts) == 4:
                return step.outputs.get(parts[3]) if step else None
            if parts[2] in ("outcome", "conclusion") and len(parts) == 3:
                return step.outcome if step else None
        if head == "github" and len(parts) == 2:
            known = {
                "action_path": str(self.runner.action.parent),
                "token": self.runner.token,
                "workspace": str(self.runner.workspace),
                "repository": self.runner.repository,
                "event_name": self.runner.event_name,
            }
            if parts[1] in known:
                return known[parts[1]]
        if head == "runner" and len(parts) == 2:
            known = {"temp": str(self.runner.temp), "os": "Linux", "arch": "X64"}
            if parts[1] in known:
                return known[parts[1]]
        raise ExpressionError(f"{path} is not known to this runner")

    def evaluate(self, text: str) -> tuple[Any, bool]:
        ev = _Eval(_tokens(text), self.lookup, self.status)
        return ev.parse(), ev.named_status

    def condition(self, text: str) -> Any:
        text = text.strip()
        m = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.S)
        value, named = self.evaluate(m.group(1) if m else text)
        if not named:  # GitHub adds success() && ... when no status function is named
            return self.status == "success" and _truthy(value)
        return value

    def substitute(self, text: str) -> str:
        def one(m: re.Match[str]) -> str:
            value, _ = self.evaluate(m.group(1))
            if value is None:
                return ""
            if isinstance(value, bool):
                return "true" if value else "false"
            return str(value)

        return re.sub(r"\$\{\{(.*?)\}\}", one, text, flags=re.S)
