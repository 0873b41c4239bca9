"""Test-suite files (``NAME.tests.yaml`` beside each prompt): parsing and validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PromptError
from ..findings import Finding, error

SUITE_KEYS = {"providers", "repeat", "gate", "defaults", "cases", "distribution", "prompt",
              "threshold", "description"}
CASE_KEYS = {"name", "vars", "assert", "description", "repeat", "skip", "tags", "expected"}
ASSERTIONS = {"equals", "contains", "icontains", "not_contains", "starts_with", "regex",
              "is_json", "json_schema", "one_of", "min_length", "max_length", "similar", "judge",
              "python", "max_latency_ms", "max_cost_usd", "not", "weight", "icontains_any",
              "contains_any", "contains_all", "ends_with"}
GATES = {"all_pass", "majority_pass", "any_pass"}


@dataclass(frozen=True)
class Case:
    name: str
    vars: dict[str, Any]
    asserts: tuple[dict[str, Any], ...]
    line: int | None = None
    repeat: int | None = None


@dataclass(frozen=True)
class Suite:
    path: str
    cases: tuple[Case, ...]
    providers: tuple[str, ...] = ()
    repeat: int = 1
    gate: Any = "all_pass"
    defaults: dict[str, Any] = field(default_factory=dict)
    distribution: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)


def parse_suite(text: str, path: str) -> tuple[Suite | None, list[Finding]]:
    """Parse a suite; returns it (None when unusable) and every problem found."""
    from .. import yamlio

    try:
        data = yamlio.load(text, path=path)
    except yamlio.YamlError as e:
        return None, [error(path, e.line, e.message)]
    if data is None:
        return None, [error(path, None, "empty test suite")]
    if not isinstance(data, dict):
        return None, [error(path, 1, "a test suite must be a mapping with a 'cases:' list")]
    out: list[Finding] = []
    for key in data:
        if key not in SUITE_KEYS:
            out.append(error(path, yamlio.line_of(data, key),
                             f"unknown key {key!r} (known: {', '.join(sorted(SUITE_KEYS))})"))
    cases_raw = data.get("cases")
    if not isinstance(cases_raw, list) or not cases_raw:
        out.append(error(path, yamlio.line_of(data, "cases", 1), "'cases:' must be a non-empty list"))
        return None, out
    repeat = data.get("repeat", 1)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= 1000:
        out.append(error(path, yamlio.line_of(data, "repeat"), "repeat must be a whole number 1..1000"))
        repeat = 1
    gate = data.get("gate", "all_pass")
    if not (gate in GATES or (isinstance(gate, dict) and "weighted" in gate)):
        out.append(error(path, yamlio.line_of(data, "gate"),
                         "gate must be all_pass, majority_pass, any_pass or "
                         "{weighted: {...}, threshold: 0.8}"))
    providers = data.get("providers", [])
    if isinstance(providers, str):
        providers = [providers]
    if not isinstance(providers, list) or not all(isinstance(p, str) for p in providers):
        out.append(error(path, yamlio.line_of(data, "providers"), "providers must be a list of names"))
        providers = []
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        out.append(error(path, yamlio.line_of(data, "defaults"), "defaults must be a mapping"))
        defaults = {}
    dist = data.get("distribution") or []
    if not isinstance(dist, list) or not all(isinstance(d, str) for d in dist):
        out.append(error(path, yamlio.line_of(data, "distribution"),
                         "distribution must be a list of checks like 'mean(score) >= 0.8'"))
        dist = []
    cases = []
    names: set[str] = set()
    for i, c in enumerate(cases_raw):
        cline = yamlio.line_of(cases_raw, i)
        if not isinstance(c, dict):
            out.append(error(path, cline, f"case {i + 1} must be a mapping with vars and assert"))
            continue
        for key in c:
            if key not in CASE_KEYS:
                out.append(error(path, yamlio.line_of(c, key, cline), f"case {i + 1}: unknown key {key!r}"))
        name = str(c.get("name") or f"case-{i + 1}")
        if name in names:
            out.append(error(path, cline, f"duplicate case name {name!r}"))
        names.add(name)
        cvars = c.get("vars") or {}
        if not isinstance(cvars, dict):
            out.append(error(path, yamlio.line_of(c, "vars", cline), f"case {name!r}: vars must be a mapping"))
            cvars = {}
        asserts = c.get("assert") or []
        if not isinstance(asserts, list):
            out.append(error(path, yamlio.line_of(c, "assert", cline), f"case {name!r}: assert must be a list"))
            asserts = []
        for j, a in enumerate(asserts):
            aline = yamlio.line_of(asserts, j, cline)
            problem = assertion_problem(a)
            if problem:
                out.append(error(path, aline, f"case {name!r}: {problem}"))
        cases.append(Case(name, yamlio.plain(cvars), tuple(yamlio.plain(asserts)), cline))
    suite = Suite(path, tuple(cases), tuple(providers), repeat, yamlio.plain(gate),
                  yamlio.plain(defaults), tuple(dist), yamlio.plain(data))
    return suite, out


def assertion_problem(a: Any) -> str | None:
    if not isinstance(a, dict) or not a:
        return "each assertion must be a mapping like {contains: text}"
    kinds = [k for k in a if k not in ("weight", "not", "name")]
    if "not" in a and isinstance(a["not"], dict):
        return assertion_problem(a["not"])
    if len(kinds) != 1:
        return f"an assertion names exactly one check, got {', '.join(map(str, kinds)) or 'none'}"
    if kinds[0] not in ASSERTIONS:
        import difflib

        close = difflib.get_close_matches(str(kinds[0]), sorted(ASSERTIONS), n=1)
        return f"unknown assertion {kinds[0]!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    return None


def check_suite_file(full: Path, display: str, prompt: Any = None) -> list[Finding]:
    """Findings for one suite file; with ``prompt``, case vars are checked against it."""
    from ..prompt.parse import decode

    try:
        text = decode(full.read_bytes(), display)
    except OSError as e:
        return [error(display, None, f"cannot read: {e.strerror}")]
    except PromptError as e:
        return [error(display, e.line, e.message)]
    suite, out = parse_suite(text, display)
    if suite is None or prompt is None:
        return out
    from ..errors import LoomgitError
    from ..prompt.render import resolve_variables

    for case in suite.cases:
        try:
            resolve_variables(prompt, case.vars)
        except LoomgitError as e:
            out.append(error(display, case.line, f"case {case.name!r}: {e.message}"))
    return out
