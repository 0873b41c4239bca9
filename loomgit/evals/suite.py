"""Test-suite files (``NAME.tests.yaml`` beside each prompt): parsing and validation.

Every problem is reported with the file and line it is on, all at once, so that
``loomgit check`` can list them; :func:`load_suite` raises on the first error instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import loomgit._yaml as _yaml
from loomgit._version import __version__
from loomgit.config import closest
from loomgit.errors import LoomgitError, PromptError
from loomgit.evals.assertions import spec_problem
from loomgit.evals.assertions.python import PYTHON_WARNING, uses_python
from loomgit.evals.dataset_model import Dataset
from loomgit.evals.distribution import DistributionError, parse_check
from loomgit.evals.gates import GateError, parse_gate
from loomgit.evals.ghsuite import load_ghsuite
from loomgit.evals.suite_cache import CACHE_FORMAT, cached_suite, store_suite
from loomgit.evals.suite_model import (
    CASE_KEYS,
    DEFAULT_KEYS,
    MAX_REPEAT,
    SUITE_KEYS,
    Case,
    Suite,
    SuiteError,
)
from loomgit.evals.toolcheck import tool_warnings
from loomgit.findings import Finding, error, warning
from loomgit.prompt.parse import decode
from loomgit.prompt.render import resolve_variables

__all__ = [
    "Case",
    "Suite",
    "SuiteError",
    "assertion_problem",
    "check_suite_file",
    "load_suite",
    "parse_suite",
    "read_suite_text",
]


def _repeat_ok(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_REPEAT


def _asserts(path: str, raw: Any, line: int | None, where: str, out: list[Finding]) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        out.append(error(path, line, f"{where}assert must be a list"))
        return []
    for j, a in enumerate(raw):
        problem = spec_problem(a)
        if problem:
            out.append(error(path, _yaml.line_of(raw, j, line), f"{where}{problem}"))
        elif uses_python(a):
            out.append(warning(path, _yaml.line_of(raw, j, line), f"{where}{PYTHON_WARNING}"))
    return raw


def parse_suite(text: str, path: str) -> tuple[Suite | None, list[Finding]]:
    """Parse a suite; returns it (None when unusable) and every problem found.

    ``_yaml.load`` reads with libyaml first; when the suite has a problem it is read again
    with ruamel alone, so that messages and lines are ruamel's own."""
    try:
        data = _yaml.load(text, path=path)
    except _yaml.YamlError as e:
        return None, [error(path, e.line, e.message)]
    suite, out = _from_data(data, path)
    if suite is not None and not out:
        return suite, out
    try:
        data = _yaml.load_roundtrip(text, path=path)
    except _yaml.YamlError as e:
        return None, [error(path, e.line, e.message)]
    return _from_data(data, path)


def _from_data(data: Any, path: str) -> tuple[Suite | None, list[Finding]]:
    if data is None:
        return None, [error(path, None, "empty test suite")]
    if not isinstance(data, dict):
        return None, [error(path, 1, "a test suite must be a mapping with a 'cases:' list")]
    out: list[Finding] = []

    def at(key: str, node: Any = data, default: int | None = None) -> int | None:
        return _yaml.line_of(node, key, default)

    for key in data:
        if key not in SUITE_KEYS:
            close = closest(key, sorted(SUITE_KEYS))
            hint = f"did you mean {close!r}? " if close else ""
            out.append(
                error(
                    path,
                    at(key),
                    f"unknown key {key!r} ({hint}known: {', '.join(sorted(SUITE_KEYS))})",
                )
            )
    cases_raw = data.get("cases")
    if not isinstance(cases_raw, list) or not cases_raw:
        out.append(error(path, at("cases", default=1), "'cases:' must be a non-empty list"))
        return None, out
    repeat = data.get("repeat", 1)
    if not _repeat_ok(repeat):
        out.append(error(path, at("repeat"), f"repeat must be a whole number 1..{MAX_REPEAT}"))
        repeat = 1
    threshold = data.get("threshold")
    gate = data.get("gate", "all_pass")
    try:
        parse_gate(_yaml.plain(gate), threshold)
    except GateError as e:
        out.append(error(path, at("gate") or at("threshold"), str(e)))
    providers = data.get("providers", [])
    if isinstance(providers, str):
        providers = [providers]
    if not isinstance(providers, list) or not all(isinstance(p, str) and p for p in providers):
        out.append(error(path, at("providers"), "providers must be a list of names"))
        providers = []
    prompt_ref = data.get("prompt")
    if prompt_ref is not None and not isinstance(prompt_ref, str):
        out.append(error(path, at("prompt"), "prompt must be a prompt id"))
        prompt_ref = None
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        out.append(error(path, at("defaults"), "defaults must be a mapping"))
        defaults = {}
    dline = at("defaults")
    for key in defaults:
        if key not in DEFAULT_KEYS:
            out.append(
                error(
                    path,
                    at(key, defaults, dline),
                    f"defaults: unknown key {key!r} (known: {', '.join(sorted(DEFAULT_KEYS))})",
                )
            )
    _asserts(path, defaults.get("assert"), at("assert", defaults, dline), "defaults: ", out)
    for key in ("vars", "params"):
        if defaults.get(key) is not None and not isinstance(defaults[key], dict):
            out.append(error(path, at(key, defaults, dline), f"defaults: {key} must be a mapping"))
            defaults = {k: v for k, v in defaults.items() if k != key}
    dist = data.get("distribution") or []
    if not isinstance(dist, list):
        out.append(
            error(
                path,
                at("distribution"),
                "distribution must be a list of checks like 'mean(score) >= 0.8'",
            )
        )
        dist = []
    for i, d in enumerate(dist):
        try:
            parse_check(d)
        except DistributionError as e:
            out.append(
                error(path, _yaml.line_of(dist, i, at("distribution")), f"distribution: {e}")
            )
    dist = [d for d in dist if isinstance(d, str)]
    cases: list[Case] = []
    datasets: list[Dataset] = []
    names: set[str] = set()
    for i, c in enumerate(cases_raw):
        cline = _yaml.line_of(cases_raw, i)
        if not isinstance(c, dict):
            out.append(error(path, cline, f"case {i + 1} must be a mapping with vars and assert"))
            continue
        if "file" in c:  # {file: data.csv, ...}: its records are cases (evals.datasets)
            from loomgit.evals.datasets import parse_dataset  # the readers, only for data files

            label = f"data file {c['file']!r}: "
            ds_asserts = _asserts(path, c.get("assert"), at("assert", c, cline), label, out)
            ds = parse_dataset(
                path, c, cline, len(cases), _yaml.plain(ds_asserts), _at(c, cline), out
            )
            datasets += [ds] if ds is not None else []
            continue
        for key in c:
            if key not in CASE_KEYS:
                out.append(error(path, at(key, c, cline), f"case {i + 1}: unknown key {key!r}"))
        name = str(c.get("name") or f"case-{i + 1}")
        if name in names:
            out.append(error(path, cline, f"duplicate case name {name!r}"))
        names.add(name)
        cvars = c.get("vars") or {}
        if not isinstance(cvars, dict):
            out.append(error(path, at("vars", c, cline), f"case {name!r}: vars must be a mapping"))
            cvars = {}
        asserts = _asserts(path, c.get("assert"), at("assert", c, cline), f"case {name!r}: ", out)
        crepeat = c.get("repeat")
        if crepeat is not None and not _repeat_ok(crepeat):
            out.append(
                error(
                    path,
                    at("repeat", c, cline),
                    f"case {name!r}: repeat must be a whole number 1..{MAX_REPEAT}",
                )
            )
            crepeat = None
        weight = c.get("weight", 1.0)
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0:
            out.append(
                error(
                    path,
                    at("weight", c, cline),
                    f"case {name!r}: weight must be a number (0 or more)",
                )
            )
            weight = 1.0
        tags = c.get("tags") or []
        if isinstance(tags, str):
            tags = [tags]
        if not isinstance(tags, list):
            out.append(error(path, at("tags", c, cline), f"case {name!r}: tags must be a list"))
            tags = []
        cases.append(
            Case(
                name,
                _yaml.plain(cvars),
                tuple(_yaml.plain(asserts)),
                cline,
                crepeat,
                _yaml.plain(c.get("expected")),
                float(weight),
                bool(c.get("skip")),
                tuple(str(t) for t in tags),
                str(c.get("description") or ""),
                _turns(path, c, cline, name, out),
            )
        )
    th = (
        threshold
        if isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
        else None
    )
    suite = Suite(
        path,
        tuple(cases),
        tuple(providers),
        repeat,
        _yaml.plain(gate),
        _yaml.plain(defaults),
        tuple(dist),
        _yaml.plain(data),
        None if th is None else float(th),
        prompt_ref,
        tuple(datasets),
    )
    return suite, out


def _at(node: Any, default: int | None) -> Any:
    return lambda key: _yaml.line_of(node, key, default)


def assertion_problem(a: Any) -> str | None:
    """Why the raw assertion ``a`` is unusable, or None (kept for callers of the old name)."""
    return spec_problem(a)


def read_suite_text(full: Path, display: str) -> str:
    try:
        return decode(full.read_bytes(), display)
    except OSError as e:
        raise SuiteError(f"cannot read: {e.strerror}", path=display) from None
    except PromptError as e:
        raise SuiteError(e.message, path=e.path or display, line=e.line) from None


def load_suite(full: Path, display: str, cache_dir: Path | None = None) -> Suite:
    """A suite ready to run; :class:`SuiteError` (file:line) on the first problem.

    With ``cache_dir``, a valid suite's parse is kept there keyed by the sha256 of its
    text: YAML with line numbers is slow to parse (about 1 ms a case), JSON is not."""
    if display.endswith((".prompt.yml", ".prompt.yaml")):
        return load_ghsuite(full, display)  # a GitHub Models file: testData + evaluators
    text = read_suite_text(full, display)
    key = None
    if cache_dir is not None:
        key = hashlib.sha256(
            f"{CACHE_FORMAT}\0{__version__}\0{display}\0{text}".encode("utf-8", "surrogatepass")
        ).hexdigest()
        cached = cached_suite(cache_dir / f"{key}.json")
        if cached is not None:
            return _rooted(cached, full, display)
    suite, findings = parse_suite(text, display)
    errors = [f for f in findings if f.level == "error"]
    if errors or suite is None:
        first = errors[0] if errors else error(display, None, "unusable test suite")
        more = (
            f" (and {len(errors) - 1} more; run 'loomgit check {display}')"
            if len(errors) > 1
            else ""
        )
        raise SuiteError(first.message + more, path=first.path, line=first.line)
    if cache_dir is not None and key is not None:
        store_suite(cache_dir / f"{key}.json", suite)
    return _rooted(suite, full, display)


def _rooted(suite: Suite, full: Path, display: str) -> Suite:
    if not suite.datasets:
        return suite
    from loomgit.evals.datasets import rooted  # the record readers load only for data files

    return rooted(suite, full, display)


def _turns(path: str, c: dict[str, Any], line: int | None, name: str, out: list[Finding]) -> Any:
    if "turns" not in c:
        return ()
    from loomgit.evals.turns import parse_turns  # only for multi-turn cases

    return parse_turns(path, c, line, name, out, _asserts)


def check_suite_file(
    full: Path, display: str, prompt: Any = None, opener: Any = None
) -> list[Finding]:
    """Findings for one suite file; with ``prompt``, case vars are checked against it.
    ``opener`` reads its data files (default: the checkout's, tracked files only)."""
    try:
        text = read_suite_text(full, display)
    except PromptError as e:
        return [error(display, e.line, e.message)]
    suite, out = parse_suite(text, display)
    data_ok = False
    if suite is not None and suite.datasets and not any(f.level == "error" for f in out):
        from loomgit.evals.datasets import check_datasets  # the readers, only for data files

        suite = _rooted(suite, full, display)
        found = check_datasets(suite, opener, getattr(prompt, "variables", None))
        out += found
        data_ok = not found
    if suite is None or prompt is None:
        return out

    broken = {f.message.split(":", 1)[0] for f in out}
    cases: Iterator[Case] = iter(suite.cases)
    if data_ok:
        from loomgit.evals.datasets import readable, suite_cases

        cases = readable(suite_cases(suite, opener, prompt.variables))
    from_data = 0
    for case in cases:
        if f"case {case.name!r}" in broken:
            continue  # already reported; its vars are not worth checking
        try:
            resolve_variables(prompt, suite.case_vars(case))
        except LoomgitError as e:
            from_data += case.file is not None
            if from_data > MAX_DATA_FINDINGS:
                out.append(error(case.file or display, case.line, "more cases do not fit"))
                break
            out.append(error(case.file or display, case.line, f"case {case.name!r}: {e.message}"))
    return out + tool_warnings(suite, prompt)


MAX_DATA_FINDINGS = 10  # cases of data files `check` names before it stops listing
