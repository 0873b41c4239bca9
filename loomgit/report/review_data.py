"""The results a review page shows, read from the JSON loomgit writes.

Three shapes are understood, told apart by their keys:

- an eval report (``loomgit eval --json`` / ``-o``; ``suites`` and ``results``): one side;
- a compare (``loomgit eval --compare BASE --json`` / ``-o``; ``before`` and ``after``
  eval reports and ``cases``): two sides, BASE and the working tree;
- a ``loomgit ci`` result (the ``report.json`` beside the job's report; ``prompts`` and
  ``fail_on``): two sides, the pull request's base and head (answers and why a case
  failed; its cases carry no assertions, latency or cost).

Several files give several sides. A side of a compare or ci result is compared with its
own base; a side from a lone eval report is compared with the first side of the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loomgit.errors import UsageError


@dataclass
class Cell:
    """One case of one prompt at one side on one model."""

    status: str  # passed | failed | error | skipped
    output: str | None = None
    score: float | None = None
    assertions: list[tuple[str, bool, str]] = field(default_factory=list)  # label, passed, msg
    latency_ms: float | None = None
    cost_usd: float | None = None
    repeat: int = 1
    pass_rate: float | None = None
    error: str | None = None
    why: str | None = None
    tool_calls: list[str] = field(default_factory=list)  # "name({...})", as called


@dataclass
class Side:
    label: str  # main, a1b2c3d, head...
    base: int | None = None  # the side this one is compared with


@dataclass
class PromptResults:
    id: str
    cases: list[str] = field(default_factory=list)  # in the order they were first seen
    lines: dict[str, int] = field(default_factory=dict)
    versions: dict[int, str] = field(default_factory=dict)  # side -> version
    models: list[str] = field(default_factory=list)
    cells: dict[tuple[int, str, str], Cell] = field(default_factory=dict)  # side, model, case
    changes: dict[tuple[int, str, str], str] = field(default_factory=dict)  # as compare said
    notes: dict[tuple[int, str, str], str] = field(default_factory=dict)  # e.g. a p-value
    seen: set[str] = field(default_factory=set)

    def row(self, case: str) -> None:
        if case not in self.seen:
            self.seen.add(case)
            self.cases.append(case)

    def add(self, side: int, model: str, case: str, cell: Cell) -> None:
        self.row(case)
        if model not in self.models:
            self.models.append(model)
        self.cells[(side, model, case)] = cell


@dataclass
class Review:
    title: str = "loomgit review"
    sides: list[Side] = field(default_factory=list)
    prompts: dict[str, PromptResults] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def prompt(self, pid: str) -> PromptResults:
        if pid not in self.prompts:
            self.prompts[pid] = PromptResults(pid)
        return self.prompts[pid]

    def side(self, label: str, base: int | None = None) -> int:
        if base is None and self.sides:
            base = 0
        self.sides.append(Side(label, base))
        return len(self.sides) - 1


def _f(v: Any) -> float | None:
    return None if v is None or isinstance(v, bool) else float(v)


def _tool_calls(calls: Any) -> list[str]:
    """``tool_calls`` of a result (OpenAI's shape or loomgit's ToolCall dict) as text."""
    out = []
    for c in calls if isinstance(calls, list) else ():
        if not isinstance(c, Mapping):
            continue
        inner = c.get("function")
        fn: Mapping[str, Any] = inner if isinstance(inner, Mapping) else c
        args = fn.get("arguments")
        if not isinstance(args, str):
            args = json.dumps(args, ensure_ascii=False, sort_keys=True)
        out.append(f"{fn.get('name', '?')}({args})")
    return out


def _eval_cell(r: Mapping[str, Any]) -> Cell:
    return Cell(
        tool_calls=_tool_calls(r.get("tool_calls")),
        status=str(r.get("status") or "error"),
        output=None if r.get("output") is None else str(r.get("output")),
        score=_f(r.get("score")),
        assertions=[
            (str(a.get("type", "")), bool(a.get("passed")), str(a.get("message") or ""))
            for a in r.get("assertions") or ()
            if isinstance(a, Mapping)
        ],
        latency_ms=_f(r.get("latency_ms")),
        cost_usd=_f(r.get("cost_usd")),
        repeat=int(r.get("repeat") or 1),
        pass_rate=_f(r.get("pass_rate")),
        error=None if r.get("error") is None else str(r.get("error")),
    )


def _add_eval(rv: Review, side: int, d: Mapping[str, Any]) -> None:
    for s in d.get("suites") or ():
        if s.get("version"):
            rv.prompt(str(s["prompt"])).versions.setdefault(side, str(s["version"]))
    for r in d.get("results") or ():
        p = rv.prompt(str(r["prompt"]))
        if r.get("version"):
            p.versions.setdefault(side, str(r["version"]))
        p.add(side, str(r.get("provider") or ""), str(r["case"]), _eval_cell(r))


def _short(commit: Any) -> str | None:
    return str(commit)[:7] if commit else None


def _add_compare(rv: Review, d: Mapping[str, Any]) -> None:
    before, after = d.get("before") or {}, d.get("after") or {}
    ref = str(d.get("base") or "")
    if re.fullmatch(r"[0-9a-f]{40}", ref):
        ref = ref[:7]  # a full commit id, as the demo and scripts pass it
    base = rv.side(ref or _short(before.get("commit")) or "base", None)
    rv.sides[base].base = None
    head = rv.side(_short(after.get("commit")) or "working tree", base)
    _add_eval(rv, base, before)
    _add_eval(rv, head, after)
    for c in d.get("cases") or ():
        p = rv.prompt(str(c["prompt"]))
        key = (head, str(c.get("provider") or ""), str(c["case"]))
        p.changes[key] = str(c.get("change") or "")
        if c.get("p_value") is not None:
            p.notes[key] = f"p = {float(c['p_value']):.3g}"


def _ci_cell(c: Mapping[str, Any], when: str) -> Cell | None:
    status = c.get(when)
    if status is None:
        return None
    out = c.get(f"output_{when}")
    why = c.get(f"why_{when}")
    return Cell(
        status=str(status),
        output=None if out is None else str(out),
        score=_f(c.get(f"score_{when}")),
        latency_ms=_f(c.get(f"latency_ms_{when}")),
        cost_usd=_f(c.get(f"cost_usd_{when}")),
        why=None if not why else str(why),
    )


def _add_ci(rv: Review, d: Mapping[str, Any]) -> None:
    base = rv.side(str(d.get("base_label") or _short(d.get("base")) or "base"), None)
    rv.sides[base].base = None
    head = rv.side(str(d.get("head_label") or _short(d.get("head")) or "head"), base)
    for pd in d.get("prompts") or ():
        p = rv.prompt(str(pd["id"]))
        for side, key in ((base, "before"), (head, "after")):
            version = (pd.get(key) or {}).get("version")
            if version:
                p.versions[side] = str(version)
        for c in pd.get("cases") or ():
            case, model = str(c["case"]), str(c.get("provider") or "")
            for side, when in ((base, "before"), (head, "after")):
                cell = _ci_cell(c, when)
                if cell is not None:
                    p.add(side, model, case, cell)
            p.row(case)  # a row even when neither side has an answer
            if c.get("line"):
                p.lines[case] = int(c["line"])
            p.changes[(head, model, case)] = str(c.get("change") or "")
            if c.get("p_value") is not None:
                p.notes[(head, model, case)] = f"p = {float(c['p_value']):.3g}"
        if pd.get("note"):
            rv.notes.append(f"{pd['id']}: {pd['note']}")
    for note in d.get("notes") or ():
        rv.notes.append(str(note))
    if d.get("offline"):
        rv.notes.append(f"offline providers: {d['offline']}")


def kind_of(d: Any) -> str:
    """eval | compare | ci, or '' for data that is none of them."""
    if not isinstance(d, Mapping):
        return ""
    if "before" in d and "after" in d and "cases" in d:
        return "compare"
    if "prompts" in d and "fail_on" in d:
        return "ci"
    if "suites" in d and "results" in d:
        return "eval"
    return ""


def load(results: Iterable[tuple[str, Any]], title: str | None = None) -> Review:
    """A review of ``(name, data)`` pairs (name: the file, for labels and errors)."""
    rv = Review(title or "loomgit review")
    for name, d in results:
        kind = kind_of(d)
        try:
            if kind == "compare":
                _add_compare(rv, d)
            elif kind == "ci":
                _add_ci(rv, d)
            elif kind == "eval":
                label = _short(d.get("commit")) or name.rsplit("/", 1)[-1].removesuffix(".json")
                _add_eval(rv, rv.side(label), d)
            else:
                raise UsageError(
                    f"{name}: not a loomgit eval, compare or ci result (write one with "
                    "'loomgit eval --json', 'loomgit eval --compare BASE --json' or "
                    "'loomgit ci')"
                )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise UsageError(f"{name}: malformed {kind} result ({type(e).__name__}: {e})") from None
    return rv
