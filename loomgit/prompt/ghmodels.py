"""GitHub Models prompt files (``*.prompt.yml`` / ``*.prompt.yaml``) as prompts.

The format (docs.github.com, "Storing prompts in GitHub repositories"; ``gh models``):
``name``, ``description``, ``model``, ``modelParameters`` (``maxTokens``, ``temperature``,
``topP``), ``responseFormat`` (``text`` | ``json_object`` | ``json_schema``), ``jsonSchema``
(a JSON text, or a mapping, with ``name`` and ``schema``), ``messages: [{role, content}]``
with ``{{name}}`` placeholders, and for ``gh models eval`` ``testData`` (a list of
mappings of variable values, ``expected`` among them) and ``evaluators`` (``string:``
``{contains | startsWith | endsWith | equals}``, ``llm:`` or ``uses: github/...``).

Placeholders are plain substitution: the message becomes a Jinja source where only
``{{ name }}`` is live (:mod:`loomgit.prompt.placeholders`). ``testData`` and
``evaluators`` are checked here (so ``check`` names a malformed one at its line) and turned
into a suite by :mod:`loomgit.evals.ghsuite`. Extra top-level keys are accepted, as
``gh models`` accepts them; ``check`` warns about them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import loomgit._yaml as _yaml
from loomgit.errors import PromptError
from loomgit.prompt.model import MessageTemplate, OutputSpec, Prompt
from loomgit.prompt.placeholders import github_source

SUFFIXES = (".prompt.yml", ".prompt.yaml")
KEYS = frozenset(
    {
        "name",
        "description",
        "model",
        "modelParameters",
        "responseFormat",
        "jsonSchema",
        "messages",
        "testData",
        "evaluators",
    }
)
PARAMS = {"maxTokens": "max_tokens", "temperature": "temperature", "topP": "top_p"}
ROLES = ("system", "user", "assistant")
STRING_CHECKS = ("contains", "startsWith", "endsWith", "equals")
BUILTIN_EVALUATORS = ("similarity", "coherence", "fluency", "relevance", "groundedness")
_RESPONSE_FORMATS = ("text", "json_object", "json_schema")
# keys that make up the prompt fields; the rest stay in ``meta``
_FIELD_KEYS = {"modelParameters", "responseFormat", "jsonSchema", "messages"}
_SUITE_KEYS = {"testData", "evaluators"}


def _err(message: str, path: str, line: int | None) -> PromptError:
    return PromptError(message, path=path, line=line)


def is_ghmodels(path: str) -> bool:
    return path.endswith(SUFFIXES)


def _line(node: Any, key: Any, default: int | None) -> int | None:
    return _yaml.line_of(node, key, default)


def _messages(
    data: dict[str, Any], path: str, lines: list[str]
) -> tuple[tuple[MessageTemplate, ...], list[str]]:
    raw = data.get("messages")
    mline = _line(data, "messages", 1)
    if not isinstance(raw, list) or not raw:
        raise _err("'messages' must be a non-empty list of {role, content}", path, mline)
    out = []
    names: list[str] = []
    for i, m in enumerate(raw):
        line = _line(raw, i, mline)
        if not isinstance(m, dict):
            raise _err(f"message {i + 1} must be a mapping {{role, content}}", path, line)
        role = m.get("role")
        if not isinstance(role, str) or role.lower() not in ROLES:
            raise _err(
                f"message {i + 1}: unknown role {role!r} (one of {', '.join(ROLES)})",
                path,
                _line(m, "role", line),
            )
        content = m.get("content")
        if not isinstance(content, str):
            what = "has no content" if content is None else "content must be a text"
            raise _err(f"message {i + 1} {what}", path, _line(m, "content", line))
        cline = _line(m, "content", line) or 1
        if re.match(
            r"^\s*(?:-\s+)?content\s*:\s*[|>]", lines[cline - 1] if cline <= len(lines) else ""
        ):
            cline += 1  # a block scalar starts on the next line
        source, used = github_source(content)
        names += [n for n in used if n not in names]
        out.append(MessageTemplate(role.lower(), source, cline))
    return tuple(out), names


def _params(data: dict[str, Any], path: str) -> dict[str, Any]:
    raw = data.get("modelParameters")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _err(
            "modelParameters must be a mapping such as {temperature: 0.5}",
            path,
            _line(data, "modelParameters", 1),
        )
    return {PARAMS.get(str(k), str(k)): _yaml.plain(v) for k, v in raw.items()}


def _output(data: dict[str, Any], path: str) -> OutputSpec | None:
    fmt = data.get("responseFormat")
    line = _line(data, "responseFormat", 1)
    if fmt is None or fmt == "text":
        return None
    if fmt not in _RESPONSE_FORMATS:
        raise _err(
            f"responseFormat {fmt!r} must be one of {', '.join(_RESPONSE_FORMATS)}", path, line
        )
    if fmt == "json_object":
        return OutputSpec("json", None)
    raw = data.get("jsonSchema")
    sline = _line(data, "jsonSchema", line)
    if raw is None:
        raise _err("jsonSchema is required when responseFormat is json_schema", path, line)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as e:
            raise _err(f"jsonSchema is not valid JSON: {e}", path, sline) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("schema"), dict) or "name" not in raw:
        raise _err("jsonSchema must have a 'name' and a 'schema' mapping", path, sline)
    return OutputSpec("json", _yaml.plain(raw["schema"]))


def check_suite_part(data: dict[str, Any], path: str) -> None:
    """Refuse a malformed ``testData`` or ``evaluators`` (at its line)."""
    tests = data.get("testData")
    tline = _line(data, "testData", 1)
    if tests is not None:
        if not isinstance(tests, list):
            raise _err("testData must be a list of mappings of variable values", path, tline)
        for i, t in enumerate(tests):
            if not isinstance(t, dict):
                raise _err(
                    f"testData item {i + 1} must be a mapping of variable values",
                    path,
                    _line(tests, i, tline),
                )
    evals = data.get("evaluators")
    eline = _line(data, "evaluators", 1)
    if evals is None:
        return
    if not isinstance(evals, list):
        raise _err("evaluators must be a list", path, eline)
    for i, ev in enumerate(evals):
        line = _line(evals, i, eline)
        if not isinstance(ev, dict):
            raise _err(f"evaluator {i + 1} must be a mapping", path, line)
        name = ev.get("name") or f"evaluator {i + 1}"
        kinds = [k for k in ("string", "llm", "uses") if k in ev]
        if len(kinds) != 1:
            others = sorted(str(k) for k in ev if k != "name")
            raise _err(
                f"evaluator {name!r}: unknown evaluator kind "
                f"({', '.join(others) or 'none given'}; expected one of string, llm, uses)",
                path,
                line,
            )
        kind = kinds[0]
        value = ev[kind]
        kline = _line(ev, kind, line)
        if kind == "string":
            checks = [k for k in STRING_CHECKS if isinstance(value, dict) and k in value]
            if not isinstance(value, dict) or len(checks) != 1 or len(value) != 1:
                raise _err(
                    f"evaluator {name!r}: string needs exactly one of {', '.join(STRING_CHECKS)}",
                    path,
                    kline,
                )
            if not isinstance(value[checks[0]], (str, int, float)):
                raise _err(f"evaluator {name!r}: {checks[0]} must be a text", path, kline)
        elif kind == "llm":
            if not isinstance(value, dict) or not isinstance(value.get("prompt"), str):
                raise _err(
                    f"evaluator {name!r}: llm needs a 'prompt' (and modelId, choices)",
                    path,
                    kline,
                )
        else:
            builtin = value[len("github/") :] if isinstance(value, str) else None
            if not (isinstance(value, str) and value.startswith("github/")) or (
                builtin not in BUILTIN_EVALUATORS
            ):
                raise _err(
                    f"evaluator {name!r}: unknown evaluator {value!r} (built in: "
                    f"{', '.join('github/' + b for b in BUILTIN_EVALUATORS)})",
                    path,
                    kline,
                )


def test_data_problems(text: str, path: str, used: set[str]) -> list[tuple[int | None, str]]:
    """(line, message) for each ``testData`` item that leaves a placeholder unset: its
    case cannot render (``gh models`` would send the ``{{name}}`` text)."""
    try:
        tests = load_data(text, path).get("testData")
    except PromptError:
        return []
    out: list[tuple[int | None, str]] = []
    for i, item in enumerate(tests if isinstance(tests, list) else []):
        missing = sorted(used - set(item)) if isinstance(item, dict) else []
        if missing:
            out.append(
                (
                    _line(tests, i, None),
                    f"testData item {i + 1} does not set {', '.join(map(repr, missing))}, "
                    "which the messages use",
                )
            )
    return out


def load_data(text: str, path: str) -> dict[str, Any]:
    data = _yaml.load(text, path=path)
    if not isinstance(data, dict):
        raise _err(
            "a .prompt.yml file must be a mapping with 'messages:'", path, 1 if data else None
        )
    return data


def parse_ghmodels(text: str, path: str, prompt_id: str) -> Prompt:
    """A parsed GitHub Models prompt file (``prompt_id`` from the glob or the path)."""
    data = load_data(text, path)
    messages, names = _messages(data, path, text.split("\n"))
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise _err("model must be a text like openai/gpt-4o-mini", path, _line(data, "model", 1))
    params = _params(data, path)
    output = _output(data, path)
    check_suite_part(data, path)
    sample = None
    tests = data.get("testData")
    if names and isinstance(tests, list) and tests and all(n in tests[0] for n in names):
        sample = {n: _yaml.plain(tests[0][n]) for n in names}
    meta = {str(k): _yaml.plain(v) for k, v in data.items() if k not in _FIELD_KEYS | _SUITE_KEYS}
    return Prompt(
        id=prompt_id,
        path=path,
        text=text,
        messages=messages,
        description=str(data.get("description") or data.get("name") or ""),
        model=model,
        params=params,
        variables=None,
        output=output,
        sample=sample,
        tags=(),
        meta=meta,
        meta_lines={
            **{str(k): _line(data, k, 1) or 1 for k in data},
            "output": _line(data, "jsonSchema", None) or _line(data, "responseFormat", 1) or 1,
            "sample": _line(data, "testData", 1) or 1,
        },
        kind="ghmodels",
        body_line=_line(data, "messages", 1) or 1,
    )


__all__ = [
    "BUILTIN_EVALUATORS",
    "KEYS",
    "STRING_CHECKS",
    "SUFFIXES",
    "check_suite_part",
    "is_ghmodels",
    "load_data",
    "parse_ghmodels",
    "test_data_problems",
]
