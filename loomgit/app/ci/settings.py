"""What the workflow asked for: the action's inputs (or ``loomgit ci``'s options), the
``loomgit eval`` flags of its ``args`` input, and what follows from the environment
(offline providers for forks without secrets, whether ``python:`` assertions may run)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from loomgit.errors import UsageError
from loomgit.evals.services import committed_allows_python, python_allowed
from loomgit.github import ActionsEnv, marker_for
from loomgit.workspace import Workspace

FAIL_ON = ("regression", "significant_regression", "gate", "never")
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
    offline_model: str = ""  # offline runs: this model everywhere ('' = replay, else echo)

    def __post_init__(self) -> None:
        if self.fail_on not in FAIL_ON:
            raise UsageError(f"fail-on {self.fail_on!r}: expected one of {', '.join(FAIL_ON)}")
        if self.offline not in OFFLINE:
            raise UsageError(f"offline {self.offline!r}: expected one of {', '.join(OFFLINE)}")
        marker_for(self.comment_key)  # checks the key
        if self.offline_model and not re.fullmatch(r"[A-Za-z0-9_.:@/+-]+", self.offline_model):
            raise UsageError(
                f"offline-model {self.offline_model!r}: expected a model such as echo or "
                "replay/openai/gpt-4o-mini"
            )


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


@dataclass(frozen=True)
class EvalArgs:
    """The ``loomgit eval`` flags the ``args`` input may carry."""

    models: tuple[str, ...] = ()
    repeat: int | None = None
    concurrency: int | None = None
    cases: tuple[str, ...] = ()
    no_cache: bool = False
    shard: str | None = None


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


def base_allows_python(ws: Workspace, base: str) -> bool:
    """``eval: {allow_python: true}`` in the loomgit.yaml of the base commit (what the pull
    request is compared against), never the pull request's own copy: a pull request
    cannot allow its own code to run."""
    return committed_allows_python(ws, base)


def python_flag(
    settings: CiSettings,
    env: ActionsEnv,
    environ: Mapping[str, str] | None = None,
    base_allows: bool = False,
) -> bool:
    """Whether ``python:`` assertions may run in this check: the workflow allowed them
    (``allow-python``, or ``LOOMGIT_ALLOW_PYTHON=1`` in its environment), or the base
    branch's loomgit.yaml does. ``LOOMGIT_ALLOW_PYTHON=0`` turns them off."""
    allowed = settings.allow_python or python_allowed(environ or {}, config=base_allows)
    if allowed and env.event_name == "pull_request_target":
        raise UsageError(
            "allow-python on pull_request_target would run a pull request's code "
            "with the base repository's secrets; use `on: pull_request` "
            "(see docs/ci.md)"
        )
    return allowed
