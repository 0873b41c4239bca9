"""Multi-turn cases: ``turns:`` in a suite case, checked, compiled and run as one
conversation.

The first turn sends the rendered prompt (plus its ``user:`` message, if it has one);
each later turn adds either a ``user:`` message or ``tool_results:`` answering the tool
calls of the answer before it. Every answer (``Completion.as_message()``, tool calls
included) becomes part of the history the next turn is sent with. Each turn has its own
assertions (the suite's ``defaults: assert:`` are added to every turn).

A conversation is one sample of its case: it passes when every turn passes, its score is
the mean of its turns' scores, latency, tokens and cost are the sums. ``distribution:``
checks see one row per answered turn.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import loomgit._yaml as _yaml
from loomgit.evals.assertions import Assertion, AssertionResult, compile_assertion
from loomgit.evals.cases import Sample, TurnResult
from loomgit.findings import Finding, error

if TYPE_CHECKING:
    from loomgit.providers.base import Completion, ToolCall

TURN_KEYS = ("name", "user", "tool_results", "assert", "expected")
RESULT_KEYS = ("id", "name", "content")

CheckAsserts = Callable[[str, Any, "int | None", str, list[Finding]], list[Any]]


def parse_turns(
    path: str,
    case: Mapping[str, Any],
    line: int | None,
    name: str,
    out: list[Finding],
    check_asserts: CheckAsserts,
) -> tuple[dict[str, Any], ...]:
    """A case's ``turns:`` as plain mappings (``line`` added), every problem in ``out``."""
    raw = case.get("turns")
    if raw is None:
        return ()
    at = _yaml.line_of(case, "turns", line)
    where = f"case {name!r}: "
    if not isinstance(raw, list) or not raw:
        out.append(error(path, at, f"{where}turns must be a non-empty list of turns"))
        return ()
    if case.get("assert") is not None:
        out.append(
            error(
                path,
                _yaml.line_of(case, "assert", line),
                f"{where}a case with 'turns:' has its assertions in each turn",
            )
        )
    turns = []
    for i, t in enumerate(raw):
        tline = _yaml.line_of(raw, i, at)
        tw = f"{where}turn {i + 1}: "
        if not isinstance(t, dict):
            out.append(error(path, tline, f"{tw}must be a mapping with user: or tool_results:"))
            continue
        for key in t:
            if key not in TURN_KEYS:
                out.append(
                    error(
                        path,
                        _yaml.line_of(t, key, tline),
                        f"{tw}unknown key {key!r} (known: {', '.join(TURN_KEYS)})",
                    )
                )
        if "user" in t and "tool_results" in t:
            out.append(error(path, tline, f"{tw}sends a user message or tool results, not both"))
        elif "user" not in t and "tool_results" not in t and i > 0:
            out.append(error(path, tline, f"{tw}needs 'user:' or 'tool_results:'"))
        if "user" in t and not (isinstance(t["user"], str) and t["user"].strip()):
            out.append(error(path, _yaml.line_of(t, "user", tline), f"{tw}user must be a text"))
        if "tool_results" in t:
            _check_results(path, t, tline, i, tw, out)
        if "name" in t and not isinstance(t["name"], (str, int)):
            out.append(error(path, _yaml.line_of(t, "name", tline), f"{tw}name must be a text"))
        asserts = check_asserts(path, t.get("assert"), _yaml.line_of(t, "assert", tline), tw, out)
        plain = _yaml.plain({k: v for k, v in t.items() if k in TURN_KEYS})
        turns.append({**plain, "assert": _yaml.plain(asserts), "line": tline})
    return tuple(turns)


def _check_results(
    path: str, t: Mapping[str, Any], tline: int | None, i: int, tw: str, out: list[Finding]
) -> None:
    rline = _yaml.line_of(t, "tool_results", tline)
    results = t["tool_results"]
    if i == 0:
        out.append(error(path, rline, f"{tw}tool_results need an answer with tool calls before"))
        return
    if not isinstance(results, list) or not results:
        out.append(
            error(path, rline, f"{tw}tool_results must be a list of {{id or name, content}}")
        )
        return
    for j, r in enumerate(results):
        jline = _yaml.line_of(results, j, rline)
        if not isinstance(r, dict) or "content" not in r:
            out.append(
                error(path, jline, f"{tw}tool result {j + 1} needs 'content:' (and id or name)")
            )
            continue
        unknown = sorted(str(k) for k in r if k not in RESULT_KEYS)
        if unknown:
            out.append(
                error(
                    path,
                    jline,
                    f"{tw}tool result {j + 1}: unknown key(s) {', '.join(unknown)} "
                    f"(known: {', '.join(RESULT_KEYS)})",
                )
            )
        for key in ("id", "name"):
            if key in r and not isinstance(r[key], str):
                out.append(error(path, jline, f"{tw}tool result {j + 1}: {key} must be a text"))


@dataclass(frozen=True)
class Turn:
    """One compiled turn."""

    index: int  # 1-based
    name: str
    user: str | None
    tool_results: tuple[Mapping[str, Any], ...]
    asserts: tuple[Assertion, ...]
    expected: Any
    line: int | None = None


def compile_turns(
    raw: Sequence[Mapping[str, Any]], default_asserts: Sequence[dict[str, Any]], expected: Any
) -> tuple[Turn, ...]:
    """Turns ready to run: the suite's default assertions come first in every turn."""
    return tuple(
        Turn(
            i + 1,
            str(t.get("name") or ""),
            t.get("user"),
            tuple(t.get("tool_results") or ()),
            tuple(compile_assertion(a) for a in (*default_asserts, *(t.get("assert") or ()))),
            t.get("expected", expected),
            t.get("line"),
        )
        for i, t in enumerate(raw)
    )


class TurnError(Exception):
    """The conversation cannot go on (tool results for calls the answer did not make)."""


def tool_messages(results: Sequence[Mapping[str, Any]], calls: Sequence[ToolCall]) -> list[Any]:
    """Tool-result messages answering ``calls``: each result goes to the call with its
    ``id``, else to the next unanswered call named ``name``, else to the next unanswered
    call; every call must get one."""
    if not calls:
        raise TurnError("tool_results: the answer before this turn called no tool")
    open_calls = list(calls)
    out = []
    for r in results:
        if "id" in r:
            match = [c for c in open_calls if c.id == r["id"]]
            what = f"id {r['id']!r}"
        elif "name" in r:
            match = [c for c in open_calls if c.name == r["name"]]
            what = f"{r['name']!r}"
        else:
            match, what = open_calls[:1], "the next call"
        if not match:
            made = ", ".join(f"{c.name!r} (id {c.id!r})" for c in calls)
            raise TurnError(f"tool_results: no call to {what} to answer; the answer called {made}")
        call = match[0]
        open_calls.remove(call)
        content = r["content"]
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        out.append({"role": "tool", "tool_call_id": call.id, "content": text})
    if open_calls:
        left = ", ".join(f"{c.name!r} (id {c.id!r})" for c in open_calls)
        raise TurnError(f"tool_results: no result for {left}")
    return out


def _sent(turn: Turn) -> str:
    if turn.user is not None:
        return f"user: {turn.user}"
    if turn.tool_results:
        names = ", ".join(str(r.get("name") or r.get("id") or "?") for r in turn.tool_results)
        return f"tool results: {names}"
    return ""


Call = Callable[[list[Any]], Awaitable["Completion | str"]]
Score = Callable[[Turn, "Completion", list[Any]], Awaitable["list[AssertionResult] | str"]]


async def converse(
    turns: Sequence[Turn], messages: Sequence[Any], call: Call, score: Score
) -> list[TurnResult]:
    """Run the conversation. ``call(history)`` answers or returns an error text;
    ``score(turn, answer, history)`` gives the turn's assertion results or an error text.
    An error or a turn that cannot be sent ends the conversation there."""
    history = list(messages)
    last: Completion | None = None
    done: list[TurnResult] = []
    for turn in turns:
        tr = TurnResult(turn.index, _sent(turn), name=turn.name)
        done.append(tr)
        try:
            if turn.user is not None:
                history.append({"role": "user", "content": turn.user})
            elif turn.tool_results:
                history += tool_messages(turn.tool_results, last.tool_calls if last else ())
        except TurnError as e:
            tr.passed, tr.score = False, 0.0
            tr.assertions = [AssertionResult("turns", False, 0.0, 1.0, str(e))]
            break
        comp = await call(list(history))
        if isinstance(comp, str):
            tr.error = comp
            break
        tr.output, tr.refusal = comp.text, comp.refusal
        tr.tool_calls = [c.to_dict() for c in comp.tool_calls]
        tr.latency_ms, tr.cost_usd, tr.cached = comp.latency_ms, comp.cost_usd, comp.cached
        tr.input_tokens, tr.output_tokens = comp.usage.input_tokens, comp.usage.output_tokens
        results = await score(turn, comp, list(history))
        if isinstance(results, str):
            tr.error = results
            break
        tr.assertions = results
        weighted = [r for r in results if r.weight > 0]
        total = sum(r.weight for r in weighted)
        tr.passed = all(r.passed for r in weighted)
        tr.score = sum(r.weight * r.score for r in weighted) / total if total > 0 else 1.0
        history.append(comp.as_message())
        last = comp
    return done


def finish(sample: Sample, turns: list[TurnResult]) -> None:
    """Fill a conversation's sample from its turns."""
    sample.turns = turns
    answered = [t for t in turns if t.output is not None]
    if answered:
        sample.output, sample.tool_calls = answered[-1].output, answered[-1].tool_calls
        sample.refusal = answered[-1].refusal
    lat = [t.latency_ms for t in answered if t.latency_ms is not None]
    sample.latency_ms = sum(lat) if lat else None
    costs = [t.cost_usd for t in answered if t.cost_usd is not None]
    sample.cost_usd = sum(costs) if costs else None
    sample.cached = bool(answered) and all(t.cached for t in answered)
    sample.input_tokens = sum(t.input_tokens for t in turns)
    sample.output_tokens = sum(t.output_tokens for t in turns)
    sample.assertions = [
        replace(a, kind=f"turn {t.index}: {a.kind}") for t in turns for a in t.assertions
    ]
    errored = next((t for t in turns if t.error), None)
    if errored is not None and not any(t.passed is False for t in turns):
        sample.error = f"turn {errored.index}: {errored.error}"
        return
    scores = [t.score or 0.0 for t in turns if t.passed is not None]
    sample.passed = all(t.passed for t in turns)  # a failed turn decides, errors or not
    sample.score = sum(scores) / len(scores) if scores else 1.0
