"""``loomgit ci``: the pull-request regression check behind the GitHub Action.

It finds the prompts a pull request changes (between its base and the checked-out head),
evaluates each on its suite at both sides with the eval engine's compare, and turns
the result into a :class:`CiReport`: per prompt the version bump and semantic diff,
pass rate and gate before and after, the cases that regressed or were fixed, cost. The
verdict follows ``fail_on``:

- ``regression``: fail when a case that passed at the base fails at the head, or a
  prompt's gate that passed at the base fails at the head;
- ``gate``: fail when any changed prompt's gate (or distribution check) fails at the head;
- ``never``: report only.

Errors (a provider down) are not failures: when they keep the verdict open the check
ends with exit code 3, as ``loomgit eval`` does.

This module only computes; :mod:`loomgit.cli.ci` prints and talks to GitHub through
:mod:`loomgit.github`, and :mod:`loomgit.report.pr_comment` writes the Markdown.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loomgit import gitio
from loomgit.errors import EXIT_FAILED, EXIT_INFRA, EXIT_OK, GitError, UsageError

if TYPE_CHECKING:
    from loomgit.github import ActionsEnv
    from loomgit.workspace import Workspace

FAIL_ON = ("regression", "gate", "never")
OFFLINE = ("auto", "true", "false")
PROVIDER_KEY_VARS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "COHERE_API_KEY",
    "CO_API_KEY",
    "GROQ_API_KEY",
    "TOGETHER_API_KEY",
    "CEREBRAS_API_KEY",
    "MISTRAL_API_KEY",
)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class CiSettings:
    """What the workflow asked for (the action's inputs, or ``loomgit ci`` options)."""

    base: str | None = None
    prompts: tuple[str, ...] = ()
    fail_on: str = "regression"
    comment: bool = True
    comment_key: str = "loomgit"
    offline: str = "auto"
    allow_python: bool = False
    args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.fail_on not in FAIL_ON:
            raise UsageError(f"fail-on {self.fail_on!r}: expected one of {', '.join(FAIL_ON)}")
        if self.offline not in OFFLINE:
            raise UsageError(f"offline {self.offline!r}: expected one of {', '.join(OFFLINE)}")
        from loomgit.github import marker_for

        marker_for(self.comment_key)  # checks the key


def split_list(text: str | None) -> tuple[str, ...]:
    """``"a, b\\nc"`` -> ``("a", "b", "c")`` (the ``prompts`` input)."""
    if not text:
        return ()
    return tuple(p.strip() for p in re.split(r"[,\n]", text) if p.strip())


def split_args(text: str | None) -> tuple[str, ...]:
    """The ``args`` input split as a shell would, but never given to one."""
    if not text or not text.strip():
        return ()
    try:
        return tuple(shlex.split(text))
    except ValueError as e:
        raise UsageError(f"args {text!r}: {e} (quote values as in a shell)") from None


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class CaseChange:
    """One case (on one provider) at the base and at the head."""

    case: str
    provider: str
    before: str | None  # passed | failed | error | skipped; None: not at the base
    after: str | None  # None: not at the head
    score_before: float | None = None
    score_after: float | None = None
    output_before: str | None = None
    output_after: str | None = None
    why_before: str = ""
    why_after: str = ""
    line: int | None = None  # of the case in the head's suite file
    change: str = ""  # as the eval compare classified it (derived when empty)

    @property
    def kind(self) -> str:
        """regression | fix | new | removed | error | unchanged."""
        if self.change:
            return self.change
        b, a = self.before, self.after
        if a == "error" or (b == "error" and a != "passed"):
            return "error"
        if b == "passed" and a == "failed":
            return "regression"
        if b in ("failed", "error") and a == "passed":
            return "fix"
        if b is None and a is not None:
            return "new"
        if a is None and b is not None:
            return "removed"
        return "unchanged"

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "provider": self.provider,
            "before": self.before,
            "after": self.after,
            "change": self.kind,
            "score_before": self.score_before,
            "score_after": self.score_after,
            "output_before": self.output_before,
            "output_after": self.output_after,
            "why_before": self.why_before or None,
            "why_after": self.why_after or None,
            "line": self.line,
        }


@dataclass(frozen=True)
class Side:
    """One prompt's suite result at one side (base or head)."""

    version: str | None = None
    gate: str | None = None  # passed | failed | error; None: not evaluated
    passed: int = 0
    failed: int = 0
    errors: int = 0
    cost_usd: float | None = None

    @property
    def pass_rate(self) -> float | None:
        n = self.passed + self.failed
        return self.passed / n if n else None


@dataclass(frozen=True)
class PromptChange:
    id: str
    path: str
    status: str  # added | modified | deleted | renamed | suite
    suite: str | None = None
    before: Side = field(default_factory=Side)
    after: Side = field(default_factory=Side)
    bump: str | None = None  # initial | major | minor | patch
    reasons: tuple[str, ...] = ()
    cases: tuple[CaseChange, ...] = ()
    note: str = ""  # why it was not evaluated, if it was not

    @property
    def regressions(self) -> list[CaseChange]:
        return [c for c in self.cases if c.kind == "regression"]

    @property
    def fixes(self) -> list[CaseChange]:
        return [c for c in self.cases if c.kind == "fix"]

    @property
    def errors(self) -> list[CaseChange]:
        return [c for c in self.cases if c.kind == "error"]

    @property
    def gate_regressed(self) -> bool:
        return self.before.gate == "passed" and self.after.gate == "failed"

    def to_dict(self) -> dict[str, Any]:
        def side(s: Side) -> dict[str, Any]:
            return {
                "version": s.version,
                "gate": s.gate,
                "passed": s.passed,
                "failed": s.failed,
                "errors": s.errors,
                "pass_rate": s.pass_rate,
                "cost_usd": s.cost_usd,
            }

        return {
            "id": self.id,
            "path": self.path,
            "status": self.status,
            "suite": self.suite,
            "bump": self.bump,
            "reasons": list(self.reasons),
            "before": side(self.before),
            "after": side(self.after),
            "regressions": len(self.regressions),
            "fixes": len(self.fixes),
            "errors": len(self.errors),
            "note": self.note or None,
            "cases": [c.to_dict() for c in self.cases],
        }


@dataclass(frozen=True)
class CiReport:
    base: str
    head: str
    base_label: str
    head_label: str
    fail_on: str
    prompts: tuple[PromptChange, ...] = ()
    offline: str | None = None  # why offline providers were used, when they were
    python_allowed: bool = False
    notes: tuple[str, ...] = ()

    @property
    def regressions(self) -> int:
        return sum(len(p.regressions) for p in self.prompts)

    @property
    def fixes(self) -> int:
        return sum(len(p.fixes) for p in self.prompts)

    @property
    def errors(self) -> int:
        return sum(len(p.errors) for p in self.prompts)

    @property
    def cost_usd(self) -> float:
        return sum((p.before.cost_usd or 0.0) + (p.after.cost_usd or 0.0) for p in self.prompts)

    @property
    def verdict(self) -> str:
        """passed | failed | error (errors keep the verdict open)."""
        return decide(self.prompts, self.fail_on)

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    @property
    def exit_code(self) -> int:
        return {"passed": EXIT_OK, "failed": EXIT_FAILED}.get(self.verdict, EXIT_INFRA)

    def failure_reasons(self) -> list[str]:
        """Why the check failed, one line each (empty when it did not)."""
        out: list[str] = []
        for p in self.prompts:
            if self.fail_on == "regression":
                for c in p.regressions:
                    out.append(
                        f"{p.id}: case {c.case!r} ({c.provider}) passed at the base and "
                        f"fails now" + (f": {c.why_after}" if c.why_after else "")
                    )
                if p.gate_regressed and not p.regressions:
                    out.append(f"{p.id}: the gate passed at the base and fails now")
            elif self.fail_on == "gate" and p.after.gate == "failed":
                out.append(
                    f"{p.id}: the gate fails ({p.after.passed} of "
                    f"{p.after.passed + p.after.failed} cases pass)"
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "passed": self.passed,
            "fail_on": self.fail_on,
            "base": self.base,
            "head": self.head,
            "base_label": self.base_label,
            "head_label": self.head_label,
            "regressions": self.regressions,
            "fixes": self.fixes,
            "errors": self.errors,
            "cost_usd": round(self.cost_usd, 9),
            "offline": self.offline,
            "python_allowed": self.python_allowed,
            "notes": list(self.notes),
            "prompts": [p.to_dict() for p in self.prompts],
        }


def decide(prompts: Sequence[PromptChange], fail_on: str) -> str:
    """passed | failed | error, as ``fail_on`` defines failure (module docstring)."""
    if fail_on == "never":
        return "passed"
    failed = False
    open_ = False
    for p in prompts:
        if fail_on == "regression":
            failed |= bool(p.regressions) or p.gate_regressed
            # a case that passed before and errors now may hide a regression
            open_ |= any(c.before == "passed" and c.after == "error" for c in p.cases)
            open_ |= p.before.gate == "passed" and p.after.gate == "error"
        else:
            failed |= p.after.gate == "failed"
            open_ |= p.after.gate == "error"
    if failed:
        return "failed"
    return "error" if open_ else "passed"


# --------------------------------------------------------------------------- git side


def require_full_history(root: str | Path) -> None:
    """A shallow clone has neither the base commit nor the history versions come from."""
    gitio.require_repo(root)
    out = gitio.text(["rev-parse", "--is-shallow-repository"], root, check=False).strip()
    if out == "true":
        raise GitError(
            "this is a shallow clone: loomgit needs the base commit and the "
            "history of the prompts; check out with `fetch-depth: 0` "
            "(actions/checkout) or run `git fetch --unshallow`"
        )


def _commit(root: str | Path, ref: str) -> str | None:
    if ref.startswith("-"):
        return None
    out = gitio.text(["rev-parse", "--verify", "-q", f"{ref}^{{commit}}"], root, check=False)
    return out.strip() or None


@dataclass(frozen=True)
class Range:
    base: str  # the commit the head is compared with (merge base of base and head)
    head: str
    base_label: str
    head_label: str


def resolve_range(root: str | Path, env: ActionsEnv, base: str | None = None) -> Range:
    """The commits to compare: ``base`` (an option), else the pull request's base commit
    from the event, else ``origin/$GITHUB_BASE_REF``; the head is ``HEAD`` (what
    actions/checkout checked out: the PR's merge commit)."""
    require_full_history(root)
    head = _commit(root, "HEAD")
    if head is None:
        raise GitError("HEAD is not a commit: is anything checked out?")
    pr = env.pull_request
    if base:
        sha = _commit(root, base) or _commit(root, f"origin/{base}")
        if sha is None:
            raise UsageError(
                f"base {base!r} is not a commit or branch in this clone "
                "(check out with `fetch-depth: 0`, or fetch it)"
            )
        label = base
    elif pr is not None:
        sha = _commit(root, pr.base_sha)
        if sha is None:
            raise GitError(
                f"the pull request's base commit {pr.base_sha[:7]} is not in this "
                "clone: check out with `fetch-depth: 0`"
            )
        label = pr.base_ref
    elif env.base_ref:
        sha = _commit(root, f"origin/{env.base_ref}") or _commit(root, env.base_ref)
        if sha is None:
            raise GitError(
                f"the base branch {env.base_ref!r} is not in this clone: "
                "check out with `fetch-depth: 0`"
            )
        label = env.base_ref
    else:
        raise UsageError(
            "no base to compare with: run on a pull_request event, or pass "
            "--base REF (the action's `base` input)"
        )
    mb = gitio.text(["merge-base", sha, head], root, check=False).strip()
    head_label = f"#{pr.number}, head {pr.head_sha[:7]}" if pr is not None else "HEAD"
    return Range(mb or sha, head, label, head_label)


# --------------------------------------------------------------------------- offline, python


def provider_keys(environ: Mapping[str, str], ws: Workspace | None = None) -> list[str]:
    """Names of provider API key variables that are set (never their values)."""
    names = set(PROVIDER_KEY_VARS)
    if ws is not None:
        for entry in ws.config.providers.values():
            var = entry.get("api_key_env")
            if isinstance(var, str):
                names.add(var)
    return sorted(n for n in names if environ.get(n, "").strip())


def offline_reason(
    settings: CiSettings, env: ActionsEnv, environ: Mapping[str, str], ws: Workspace | None = None
) -> str | None:
    """Why this run uses the offline providers (None: it uses the configured ones)."""
    if settings.offline == "true":
        return "the workflow set `offline: true`"
    if settings.offline == "false":
        return None
    pr = env.pull_request
    if pr is not None and pr.from_fork and not provider_keys(environ, ws):
        return (
            "this pull request comes from a fork, and GitHub gives no secrets to "
            "workflows run for forks"
        )
    return None


def python_flag(settings: CiSettings, env: ActionsEnv) -> str:
    """The value ``LOOMGIT_ALLOW_PYTHON`` gets for the eval engine: ``1`` only when the
    workflow allowed ``python:`` assertions, ``0`` otherwise (off even outside CI)."""
    if settings.allow_python and env.event_name == "pull_request_target":
        raise UsageError(
            "allow-python on pull_request_target would run a pull request's code "
            "with the base repository's secrets; use `on: pull_request` "
            "(see docs/ci.md)"
        )
    return "1" if settings.allow_python else "0"


# --------------------------------------------------------------------------- the run


def run_ci(
    ws: Workspace,
    settings: CiSettings,
    env: ActionsEnv,
    environ: Mapping[str, str],
    eval_args: EvalArgs | None = None,
) -> CiReport:
    """Compare the pull request's head with its base and return the report."""
    rng = resolve_range(ws.root, env, settings.base)
    offline = offline_reason(settings, env, environ, ws)
    flag = python_flag(settings, env)
    saved = os.environ.get("LOOMGIT_ALLOW_PYTHON")
    os.environ["LOOMGIT_ALLOW_PYTHON"] = flag
    try:
        prompts = _evaluate(ws, rng, settings, offline is not None, eval_args or EvalArgs())
    finally:
        if saved is None:
            os.environ.pop("LOOMGIT_ALLOW_PYTHON", None)
        else:
            os.environ["LOOMGIT_ALLOW_PYTHON"] = saved
    notes = []
    if flag != "1" and any(
        "LOOMGIT_ALLOW_PYTHON" in c.why_after or "LOOMGIT_ALLOW_PYTHON" in c.why_before
        for p in prompts
        for c in p.cases
    ):
        notes.append(
            "`python:` assertions did not run: they execute code from the pull "
            "request. To run them, set `allow-python: true` in the workflow "
            "(only with `on: pull_request`)."
        )
    return CiReport(
        rng.base,
        rng.head,
        rng.base_label,
        rng.head_label,
        settings.fail_on,
        tuple(prompts),
        offline,
        flag == "1",
        tuple(notes),
    )


@dataclass(frozen=True)
class EvalArgs:
    """The ``loomgit eval`` flags the ``args`` input may carry."""

    models: tuple[str, ...] = ()
    repeat: int | None = None
    concurrency: int | None = None
    cases: tuple[str, ...] = ()
    no_cache: bool = False
    shard: str | None = None


def eval_options(ws: Workspace, args: EvalArgs, offline: bool) -> Any:
    """RunOptions from ``loomgit.yaml`` and ``args`` (``--model`` is dropped offline)."""
    from loomgit.evals import engine
    from loomgit.evals.runner import parse_shard

    return engine.options_from_config(
        ws,
        models=() if offline else args.models,
        repeat=args.repeat,
        concurrency=args.concurrency,
        cases=args.cases,
        shard=parse_shard(args.shard) if args.shard else None,
    )


def _selected(ref: Any, patterns: Sequence[str]) -> bool:
    import fnmatch

    if not patterns:
        return True
    names = (ref.prompt.id, ref.prompt.path, ref.suite_path)
    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names)


def _selected_id(pid: str, path: str, patterns: Sequence[str]) -> bool:
    import fnmatch

    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in (pid, path))


def _prompt_id(ws: Workspace, path: str) -> str | None:
    """The id a (deleted) file had under the prompt globs, if it was a prompt."""
    from loomgit.prompt.discover import is_suite, match

    if is_suite(path):
        return None
    for spec in ws.config.prompts:
        pid = match(spec, path)
        if pid is not None:
            return pid
    return None


def _changed_paths(root: Any, base: str, head: str) -> dict[str, str]:
    """path -> git status letter (A, M, D, R...) between base and head, working tree included."""
    out = gitio.text(["diff", "--name-status", "--no-renames", "-z", base, "--"], root)
    parts = [p for p in out.split("\0") if p]
    changed = {parts[i + 1]: parts[i][:1] for i in range(0, len(parts) - 1, 2)}
    for p in gitio.text(["ls-files", "-z", "--others", "--exclude-standard"], root).split("\0"):
        if p:
            changed[p] = "A"
    return changed


def _offline_suite(ws: Workspace, t: Any, opts: Any) -> Any:
    """The target with its models replaced by ``replay/<model>`` where recordings of that
    model exist in the repository, else ``echo``."""
    from dataclasses import replace

    from loomgit.evals.runner import models_for
    from loomgit.providers.replay import store_from_config

    store = store_from_config(ws.config)
    models = []
    for m in models_for(t, opts):
        if m.split("/", 1)[0] in ("echo", "replay"):
            models.append(m)
            continue
        models.append(f"replay/{m}" if store.has_recordings(m) else "echo")
    return replace(t, suite=replace(t.suite, providers=tuple(dict.fromkeys(models))))


def _evaluate(
    ws: Workspace, rng: Range, settings: CiSettings, offline: bool, eval_args: EvalArgs
) -> list[PromptChange]:
    """Evaluate the changed prompts at both sides with the eval engine's compare."""
    from loomgit.evals import engine
    from loomgit.evals.compare import diff_reports, plan_compare

    opts = eval_options(ws, eval_args, offline)
    use_cache = not eval_args.no_cache
    changed = _changed_paths(ws.root, rng.base, rng.head)
    refs = [r for r in engine.changed_suite_refs(ws, rng.base) if _selected(r, settings.prompts)]
    # a changed suite is evaluated even when the prompt renders the same: its cases changed
    suite_changed = [r for r in refs if r.suite_path in changed]
    others = [r for r in refs if r not in suite_changed]
    b1, h1, unchanged = plan_compare(ws, rng.base, others, opts, explicit=False)
    b2, h2, _ = plan_compare(ws, rng.base, suite_changed, opts, explicit=True)
    base_t, head_t = b1 + b2, h1 + h2
    if offline:
        base_t = [_offline_suite(ws, t, opts) for t in base_t]
        head_t = [_offline_suite(ws, t, opts) for t in head_t]
    base = engine.evaluate(ws, options=opts, use_cache=use_cache, record=False, target_list=base_t)
    head = engine.evaluate(ws, options=opts, use_cache=use_cache, record=False, target_list=head_t)
    cmp = diff_reports(rng.base, base, head)

    by_id = {r.prompt.id: r for r in refs}
    base_targets = {t.prompt.id: t for t in base_t}
    head_targets = {t.prompt.id: t for t in head_t}
    out: list[PromptChange] = []
    base_suites = {(s.prompt, s.path): s for s in base.suites}
    changes = {(c.prompt, c.case, c.provider): c.change for c in cmp.cases}
    for hs in head.suites:
        ref = by_id.get(hs.prompt)
        path = ref.prompt.path if ref else hs.prompt
        bs = base_suites.get((hs.prompt, hs.path))
        before = {r.key: r for r in bs.cases} if bs else {}
        status = "added" if bs is None else "modified" if changed.get(path) else "suite"
        cases = []
        for r in hs.cases:
            b = before.get(r.key)
            bshown, hshown = (b.shown_sample() if b else None), r.shown_sample()
            cases.append(
                CaseChange(
                    r.case,
                    r.provider,
                    b.status if b else None,
                    r.status,
                    b.score if b else None,
                    r.score,
                    bshown.output if bshown else None,
                    hshown.output if hshown else None,
                    b.why() if b else "",
                    r.why(),
                    r.line,
                    change=_KIND.get(changes.get(r.key, ""), ""),
                )
            )
        bump, reasons = _bump(ws, rng, base_targets.get(hs.prompt), head_targets.get(hs.prompt))
        out.append(
            PromptChange(
                hs.prompt,
                path,
                status,
                hs.path,
                _side(bs),
                _side(hs),
                bump,
                tuple(reasons),
                tuple(cases),
            )
        )
    for path, letter in sorted(changed.items()):
        pid = _prompt_id(ws, path) if letter == "D" else None
        if pid is not None and (not settings.prompts or _selected_id(pid, path, settings.prompts)):
            out.append(PromptChange(pid, path, "deleted", note="deleted in this pull request"))
    for pid in unchanged:
        ref = by_id[pid]
        out.append(
            PromptChange(
                pid,
                ref.prompt.path,
                "modified",
                ref.suite_path,
                note="renders the same messages, with the same model and "
                "params, as at the base: not evaluated",
            )
        )
    return sorted(out, key=lambda p: p.id)


def _bump(ws: Workspace, rng: Range, base: Any, head: Any) -> tuple[str | None, list[str]]:
    """The version bump from the base's prompt to the head's, and why (history's rules;
    a ``BREAKING CHANGE`` in a pull request commit that touched the prompt forces major)."""
    if head is None:
        return None, []
    if base is None:
        return "initial", ["new prompt"]
    from loomgit._git.log import is_breaking
    from loomgit.history import classify

    path = head.prompt.path
    log = gitio.text(
        ["log", "--format=%B%x00", f"{rng.base}..{rng.head}", "--", path], ws.root, check=False
    )
    breaking = next(
        (m.strip() for m in log.split("\0") if m.strip() and is_breaking(m.strip())), ""
    )
    try:
        kind, reasons = classify(
            base.prompt, head.prompt, base.loader, head.loader, message=breaking
        )
    except Exception as e:  # a prompt the history module cannot read: say so, keep going
        return None, [f"no version diff: {type(e).__name__}: {e}"]
    return kind, list(reasons)


_KIND = {
    "regression": "regression",
    "fix": "fix",
    "same": "unchanged",
    "new": "new",
    "error": "error",
    "skipped": "unchanged",
}


def _side(s: Any) -> Side:
    if s is None:
        return Side()
    c = s.counts()
    costs = [r.cost_usd for r in s.cases if r.cost_usd is not None]
    return Side(
        s.version, s.status, c["passed"], c["failed"], c["error"], sum(costs) if costs else None
    )
