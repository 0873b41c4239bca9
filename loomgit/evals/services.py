"""What ``similar``, ``judge`` and ``python`` assertions need: model access and policy.

The judge's rubric prompt is itself a loomgit prompt. Which one is used, first match:
the assertion's ``prompt:``, ``eval.judge_prompt`` in loomgit.yaml, a prompt with id
``loomgit/judge`` in the repository, and finally the built-in ``judge.prompt`` beside
this module. Its answer must hold a score from 0 to 1 (see :func:`parse_score`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loomgit._git.objects import read_blob
from loomgit.config import CONFIG_FILE, parse_config
from loomgit.errors import ConfigError, LoomgitError, UsageError
from loomgit.evals.assertions import AssertionError_, Observation, parse_json
from loomgit.evals.assertions.python import PYTHON_REFUSED, python_allowed, uses_python
from loomgit.evals.suite_model import Suite
from loomgit.history.repo import main_ref
from loomgit.prompt.conversation import content_text
from loomgit.prompt.parse import read_prompt
from loomgit.refs import resolve
from loomgit.workspace import Workspace

if TYPE_CHECKING:
    from loomgit.evals.jobs import ModelCaller
    from loomgit.prompt.model import Prompt

BUILTIN_JUDGE = Path(__file__).with_name("judge.prompt")
JUDGE_ID = "loomgit/judge"
__all__ = [
    "EvalServices",
    "committed_allows_python",
    "config_allows_python",
    "parse_score",
    "python_allowed",
    "python_line",
    "refuse_python",
    "uses_python",
]


def committed_allows_python(ws: Workspace, commit: str) -> bool:
    """``eval: {allow_python: true}`` in the loomgit.yaml committed at ``commit``; a
    commit without a readable one allows nothing."""
    blob = read_blob(ws.root, f"{commit}:{CONFIG_FILE}")
    if blob is None:
        return False
    try:
        cfg = parse_config(blob.decode("utf-8"), ws.root, CONFIG_FILE)
    except (ConfigError, UnicodeDecodeError):
        return False
    return cfg.section("eval").get("allow_python") is True


def config_allows_python(ws: Workspace) -> bool:
    """``eval: {allow_python: true}`` in this checkout's loomgit.yaml, counted only when
    the main branch's committed loomgit.yaml says so too: a branch (a pull request
    checked out for review) cannot allow its own code. Without a main branch, the
    checkout's setting decides."""
    if ws.config.section("eval").get("allow_python") is not True:
        return False
    main = main_ref(ws.root, ws.config.main_branch)
    return main is None or committed_allows_python(ws, main[1])


def python_line(suite: Suite) -> tuple[bool, int | None]:
    """(uses python, the line of the first case that does) for a suite."""
    if any(uses_python(a) for a in suite.default_asserts):
        return True, next((c.line for c in suite.cases), None)
    for c in suite.cases:
        if any(uses_python(a) for a in c.asserts):
            return True, c.line
    for ds in suite.datasets:  # a data file's assert: applies to each of its records
        if any(uses_python(a) for a in ds.asserts):
            return True, ds.line
    return False, None


def refuse_python(suites: Iterable[Suite], allowed: bool) -> None:
    """Raise the one-line refusal (exit 2) for the first suite holding a ``python:``
    assertion, unless they are allowed: nothing is evaluated, nothing imported."""
    if allowed:
        return
    for suite in suites:
        found, line = python_line(suite)
        if found:
            raise UsageError(PYTHON_REFUSED, path=suite.path, line=line)


_SCORE = re.compile(r'"?score"?\s*[:=]\s*(-?\d+(?:\.\d+)?)', re.IGNORECASE)


def parse_score(text: str) -> tuple[float, str]:
    """(score in [0, 1], reason) from a judge's answer.

    Accepted: a JSON object with ``score`` (and optionally ``reason``), possibly in a
    ```json fence or surrounded by text, or a line like ``score: 0.8``. Scores on a 0-10
    or 0-100 scale are divided down. Anything else is an error."""
    ok, value, _ = parse_json(text)
    if not ok:
        m = re.search(r"\{.*\}", text, re.DOTALL)
        if m:
            try:
                value, ok = json.loads(m.group(0)), True
            except (json.JSONDecodeError, RecursionError):
                ok = False
    raw: Any = None
    reason = ""
    if ok and isinstance(value, dict) and "score" in value:
        raw, reason = value.get("score"), str(value.get("reason") or "")
    elif ok and isinstance(value, (int, float)) and not isinstance(value, bool):
        raw = value
    else:
        m2 = _SCORE.search(text)
        raw = float(m2.group(1)) if m2 else None
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            raw = None
    if not isinstance(raw, (int, float)) or isinstance(raw, bool) or raw < 0 or raw > 100:
        snippet = " ".join(text.split())[:80]
        raise AssertionError_(f"judge answer holds no score from 0 to 1: {snippet!r}")
    score = float(raw)
    if score > 10:
        score /= 100
    elif score > 1:
        score /= 10
    return score, " ".join(reason.split())[:200]


class EvalServices:
    """:class:`~loomgit.evals.assertions.Services` backed by a workspace and a model caller."""

    def __init__(self, ws: Workspace | None, *, allow_python: bool | None = None) -> None:
        self.ws = ws
        self.root = str(ws.root) if ws is not None else os.getcwd()
        section = ws.config.section("eval") if ws is not None else {}
        if allow_python is None:
            allow_python = python_allowed(config=ws is not None and config_allows_python(ws))
        self.allow_python = allow_python
        self.caller: ModelCaller | None = None
        self._embedding_model = section.get("embedding_model")
        self._judge_model = section.get("judge_model")
        self._judge_prompt = section.get("judge_prompt")
        self._judges: dict[str | None, tuple[Prompt, Any]] = {}

    def bind(self, caller: ModelCaller) -> None:
        self.caller = caller

    def embedding_model(self) -> str | None:
        return self._embedding_model if isinstance(self._embedding_model, str) else None

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        assert self.caller is not None
        return await self.caller.embed(model, texts)

    def judge_prompt(self, ref: str | None) -> tuple[Prompt, Any]:
        """The judge prompt (and its include loader) for an assertion's ``prompt:``."""
        key = ref or self._judge_prompt
        if key in self._judges:
            return self._judges[key]

        found: tuple[Prompt, Any] | None = None
        if self.ws is not None:
            wanted = key or JUDGE_ID
            try:
                res = resolve(self.ws, wanted)
                found = (res.prompt, res.loader)
            except LoomgitError as e:
                if key:  # asked for by name: it must exist
                    raise AssertionError_(f"judge prompt {key!r}: {e}") from None
        if found is None:
            found = (
                read_prompt(
                    BUILTIN_JUDGE, display="loomgit/evals/judge.prompt", prompt_id=JUDGE_ID
                ),
                None,
            )
        self._judges[key] = found
        return found

    async def judge(
        self, criteria: str, obs: Observation, model: str | None, prompt: str | None
    ) -> tuple[float, str]:
        assert self.caller is not None
        jp, loader = self.judge_prompt(prompt)
        asked = "\n\n".join(
            content_text(m.get("content")) for m in obs.messages if m.get("role") != "assistant"
        )
        values: dict[str, Any] = {"criteria": criteria, "output": obs.text}
        declared = jp.variables
        for name, val in (("input", asked), ("expected", obs.expected)):
            if declared is None or name in declared:
                values[name] = (
                    "" if val is None else (val if isinstance(val, str) else json.dumps(val))
                )
        try:
            messages = jp.render(values, loader=loader)
        except LoomgitError as e:
            raise AssertionError_(f"judge prompt {jp.path}: {e.message}") from None
        use = (
            model
            or (self._judge_model if isinstance(self._judge_model, str) else None)
            or jp.model
            or obs.provider
        )
        comp = await self.caller.complete(use, messages, dict(jp.params), sample=0)
        return parse_score(comp.text)
