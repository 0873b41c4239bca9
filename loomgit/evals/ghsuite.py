"""The suite of a GitHub Models prompt file: its ``testData`` cases checked by its
``evaluators`` (``gh models eval`` semantics, mapped to loomgit assertions).

- each ``testData`` item is a case: ``expected`` is the case's expected answer, the other
  keys its variables (keys no message uses are left out: ``gh models`` passes them only to
  evaluators);
- ``string: {contains}`` -> ``icontains``; ``startsWith`` / ``endsWith`` -> a
  case-insensitive ``regex`` anchored at the start / end (the answer's surrounding
  whitespace ignored); ``equals`` -> ``equals``. ``gh models`` compares case-insensitively
  for all but ``equals``; so does loomgit here;
- ``uses: github/similarity`` -> ``similar`` to the case's ``expected``; the other built-in
  ``github/`` evaluators (coherence, fluency, relevance, groundedness) and ``llm:``
  evaluators -> ``judge`` with a rubric (an ``llm:`` evaluator's ``prompt`` is its rubric,
  ``modelId`` its model; its ``choices`` scores are not used: the judge scores 0..1).

``{{name}}`` in an evaluator's text is filled from the case, as ``gh models`` does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import loomgit._yaml as _yaml
from loomgit.errors import PromptError
from loomgit.evals.suite_model import Case, Suite, SuiteError
from loomgit.prompt.ghmodels import check_suite_part, load_data
from loomgit.prompt.parse import decode
from loomgit.prompt.placeholders import github_source

RUBRICS = {
    "coherence": "Coherence: the answer reads as a whole, its sentences fit together, and "
    "it addresses the question.",
    "fluency": "Fluency: the answer is well-formed, grammatical, readable language.",
    "relevance": "Relevance: the answer addresses the question and its main points, with "
    "nothing off-topic.",
    "groundedness": "Groundedness: every claim in the answer follows from the context it "
    "was given; nothing is made up.",
}


_SPECIAL = re.compile(r"([.^$*+?{}\[\]\\|()])")


def _literal(text: str) -> str:
    """``text`` as a regular expression matching itself (only special characters escaped,
    so the pattern stays readable in reports)."""
    return _SPECIAL.sub(r"\\\1", text)


def _fill(text: str, values: dict[str, Any]) -> str:
    """``gh models``' substitution: each ``{{key}}`` replaced by the value, nothing else."""
    for key, value in values.items():
        text = text.replace("{{" + str(key) + "}}", value if isinstance(value, str) else str(value))
    return text


def assertion(ev: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The loomgit assertion for one (checked) evaluator, filled for one case."""
    name = str(ev.get("name") or "")
    out: dict[str, Any]
    if "string" in ev:
        ((check, raw),) = ev["string"].items()
        text = _fill(str(raw), values)
        if check == "contains":
            out = {"icontains": text}
        elif check == "equals":
            out = {"equals": text}
        elif check == "startsWith":
            out = {"regex": r"(?i)\A\s*" + _literal(text)}
        else:
            out = {"regex": "(?i)" + _literal(text) + r"\s*\Z"}
    elif "llm" in ev:
        spec = ev["llm"]
        judge: dict[str, Any] = {"criteria": _fill(spec["prompt"], values)}
        if isinstance(spec.get("modelId"), str):
            judge["model"] = spec["modelId"]
        out = {"judge": judge}
    else:
        builtin = str(ev["uses"])[len("github/") :]
        out = {"similar": {}} if builtin == "similarity" else {"judge": RUBRICS[builtin]}
    if name:
        out["name"] = name
    return out


def suite_from_data(data: dict[str, Any], path: str) -> Suite:
    """The suite of a loaded ``.prompt.yml`` mapping (:class:`SuiteError` when it has none)."""
    try:
        check_suite_part(data, path)
    except PromptError as e:
        raise SuiteError(e.message, path=e.path, line=e.line) from None
    tests = data.get("testData")
    if not tests:
        raise SuiteError(
            "no testData in this prompt file (add testData: [...] to evaluate it)",
            path=path,
            line=_yaml.line_of(data, "testData"),
        )
    used: set[str] = set()
    for m in data.get("messages") or []:
        if isinstance(m, dict) and isinstance(m.get("content"), str):
            used.update(github_source(m["content"])[1])
    evaluators = data.get("evaluators") or []
    cases = []
    for i, item in enumerate(tests):
        values = _yaml.plain(item)
        cases.append(
            Case(
                name=f"testData {i + 1}",
                vars={k: v for k, v in values.items() if k in used},
                asserts=tuple(assertion(ev, values) for ev in evaluators),
                line=_yaml.line_of(tests, i),
                expected=values.get("expected"),
            )
        )
    return Suite(path, tuple(cases), raw={"testData": _yaml.plain(tests)})


def load_ghsuite(full: Path, display: str) -> Suite:
    try:
        text = decode(full.read_bytes(), display)
    except OSError as e:
        raise SuiteError(f"cannot read: {e.strerror}", path=display) from None
    except PromptError as e:
        raise SuiteError(e.message, path=e.path or display, line=e.line) from None
    try:
        data = load_data(text, display)
    except PromptError as e:
        raise SuiteError(e.message, path=e.path or display, line=e.line) from None
    return suite_from_data(data, display)


_TEST_DATA = re.compile(r"^testData[ \t]*:", re.MULTILINE)


def has_test_data(full: Path) -> bool:
    """Whether a ``.prompt.yml`` file has a top-level ``testData:`` (read cheaply)."""
    try:
        return _TEST_DATA.search(full.read_text(encoding="utf-8", errors="replace")) is not None
    except OSError:
        return False


__all__ = ["RUBRICS", "assertion", "has_test_data", "load_ghsuite", "suite_from_data"]
