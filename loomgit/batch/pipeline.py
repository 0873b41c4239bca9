"""Pipeline files: ``pipelines/NAME.yaml`` makes a batch run declarative and reviewable.

```yaml
description: Sentiment of product reviews
prompt: reviews/sentiment@production     # ID or ID@VERSION|STAGE|COMMIT
input: data/reviews.csv                  # .jsonl, .json (array) or .csv/.tsv
map: {review: text}                      # variable: column (optional)
model: local/llama3                      # optional, default the prompt's model
params: {temperature: 0}                 # optional, merged over the prompt's params
concurrency: 8
assert:                                  # per record, the suite assertion syntax
  - is_json: true
gate: all_pass                           # over a record's assertions
suite: true                              # also the suite's defaults.assert (default true)
output: out/reviews.jsonl
quarantine: out/reviews.quarantine.jsonl # default: OUTPUT with .quarantine before .jsonl
budget: 2.50                             # USD; the run stops before exceeding it
limit: 1000                              # only the first N records (optional)
```

Paths are relative to the repository root. Problems are reported as ``file:line``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import loomgit._yaml as _yaml
from loomgit.batch.cost import parse_budget
from loomgit.config import did_you_mean
from loomgit.errors import LoomgitError, UsageError
from loomgit.evals.assertions import spec_problem
from loomgit.evals.gates import GateError, parse_gate
from loomgit.findings import Finding, error, warning
from loomgit.inputs.record import FORMATS
from loomgit.prompt.render import interface
from loomgit.refs import split_ref

if TYPE_CHECKING:
    from loomgit.workspace import Workspace

DEFAULT_FOLDER = "pipelines"
KEYS = {
    "description": "what the pipeline is for",
    "prompt": "ID or ID@REF of the prompt to run",
    "input": "the input file: .jsonl, .json, .csv or .tsv",
    "format": "jsonl | json | csv | tsv (default: from the file name)",
    "map": "{variable: column} when names differ",
    "model": "provider/model (default: the prompt's model)",
    "params": "generation parameters merged over the prompt's",
    "concurrency": "requests at once",
    "assert": "assertions applied to every record",
    "gate": "all_pass | majority_pass | any_pass | {weighted: true, threshold: 0.8}",
    "suite": "also apply the suite's defaults.assert (true/false)",
    "output": "JSON Lines file for passing records",
    "quarantine": "JSON Lines file for failing records",
    "budget": "USD limit for the run",
    "limit": "process only the first N records",
}
REQUIRED = ("prompt", "input", "output")


class PipelineError(UsageError):
    """A pipeline file is missing or invalid (exit 2)."""


@dataclass(frozen=True)
class Pipeline:
    name: str
    path: str  # relative to the repository root
    prompt: str
    input: str
    output: str
    quarantine: str | None = None
    format: str | None = None
    map: dict[str, str] = field(default_factory=dict)
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    concurrency: int | None = None
    asserts: tuple[dict[str, Any], ...] = ()
    gate: Any = None
    suite: bool | None = None
    budget: float | None = None
    limit: int | None = None
    description: str = ""
    lines: dict[str, int] = field(default_factory=dict)


def folder(ws: Workspace) -> str:
    raw = ws.config.raw.get("pipelines")
    if isinstance(raw, dict):
        raw = raw.get("dir") or raw.get("folder")
    return str(raw).strip("/") if isinstance(raw, str) and raw.strip() else DEFAULT_FOLDER


def is_pipeline_path(ws: Workspace, rel: str) -> bool:
    return rel.startswith(folder(ws) + "/") and rel.endswith((".yaml", ".yml"))


def pipeline_files(ws: Workspace) -> list[str]:
    base = ws.root / folder(ws)
    if not base.is_dir():
        return []
    return sorted(
        p.relative_to(ws.root).as_posix()
        for p in base.rglob("*")
        if p.is_file() and p.suffix in (".yaml", ".yml")
    )


def find_pipeline(ws: Workspace, name: str) -> str:
    """``NAME`` (``pipelines/NAME.yaml``) or a path -> the file, relative to the root."""
    candidates = [name] if name.endswith((".yaml", ".yml")) else []
    base = folder(ws)
    candidates += [f"{base}/{name}.yaml", f"{base}/{name}.yml"]
    for c in candidates:
        p = Path(c)
        full = p if p.is_absolute() else ws.root / c
        if not full.is_file() and not p.is_absolute() and (Path.cwd() / c).is_file():
            full = Path.cwd() / c
        if full.is_file():
            try:
                return full.resolve().relative_to(ws.root).as_posix()
            except ValueError:
                return str(full)
    known = [Path(f).stem for f in pipeline_files(ws)]
    hint = f" (pipelines: {', '.join(known)})" if known else f" (no files in {base}/)"
    raise PipelineError(f"no pipeline {name!r}{hint}")


def default_quarantine(output: str) -> str:
    """``out/x.jsonl`` -> ``out/x.quarantine.jsonl``."""
    p = Path(output)
    suffix = p.suffix if p.suffix in (".jsonl", ".ndjson", ".json") else ""
    stem = p.name[: -len(suffix)] if suffix else p.name
    return str(p.with_name(f"{stem}.quarantine{suffix or '.jsonl'}"))


def parse_pipeline(text: str, rel: str) -> tuple[Pipeline | None, list[Finding]]:
    """The pipeline in ``text`` and every problem found (None when unusable)."""
    try:
        data = _yaml.load(text, path=rel)
    except _yaml.YamlError as e:
        return None, [error(rel, e.line, e.message)]
    if not isinstance(data, dict):
        return None, [error(rel, 1, "a pipeline must be a mapping with prompt, input and output")]
    out: list[Finding] = []

    def at(key: str) -> int | None:
        return _yaml.line_of(data, key)

    def bad(key: str, msg: str) -> None:
        out.append(error(rel, at(key), f"{key}: {msg}"))

    for key in data:
        if key not in KEYS:
            hint = did_you_mean(key, KEYS)
            out.append(error(rel, at(key), f"unknown key {key!r}{hint}; known: {', '.join(KEYS)}"))
    for key in REQUIRED:
        if key not in data:
            out.append(error(rel, 1, f"missing required key {key!r} ({KEYS[key]})"))
    kw: dict[str, Any] = {}
    for key in ("prompt", "input", "output", "quarantine", "model", "description"):
        if key in data:
            v = data[key]
            if not isinstance(v, str) or not v.strip():
                bad(key, "must be a non-empty text")
            else:
                kw[key] = v.strip()
    if "format" in data:
        if data["format"] not in FORMATS:
            bad("format", f"must be one of {', '.join(FORMATS)}")
        else:
            kw["format"] = data["format"]
    if "map" in data:
        m = data["map"]
        if not isinstance(m, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in m.items()
        ):
            bad("map", "must map variable names to column (or field) names")
        else:
            kw["map"] = {str(k): str(v) for k, v in m.items()}
    if "params" in data:
        if not isinstance(data["params"], dict):
            bad("params", "must be a mapping such as {temperature: 0}")
        else:
            kw["params"] = _yaml.plain(data["params"])
    if "concurrency" in data:
        c = data["concurrency"]
        if not isinstance(c, int) or isinstance(c, bool) or not 1 <= c <= 1000:
            bad("concurrency", "must be a whole number from 1 to 1000")
        else:
            kw["concurrency"] = c
    if "limit" in data:
        lim = data["limit"]
        if not isinstance(lim, int) or isinstance(lim, bool) or lim < 1:
            bad("limit", "must be a whole number of records (1 or more)")
        else:
            kw["limit"] = lim
    if "suite" in data:
        if not isinstance(data["suite"], bool):
            bad("suite", "must be true or false")
        else:
            kw["suite"] = data["suite"]
    if "budget" in data:
        try:
            kw["budget"] = parse_budget(data["budget"])
        except ValueError as e:
            bad("budget", str(e))
    if "assert" in data:
        raw = data["assert"]
        if not isinstance(raw, list):
            bad("assert", "must be a list of assertions such as [{is_json: true}]")
        else:
            for i, a in enumerate(raw):
                problem = assertion_problem(a)
                if problem:
                    out.append(
                        error(rel, _yaml.line_of(raw, i, at("assert")), f"assert: {problem}")
                    )
            kw["asserts"] = tuple(_yaml.plain(raw))
    if "gate" in data:
        problem = gate_problem(_yaml.plain(data["gate"]))
        if problem:
            bad("gate", problem)
        else:
            kw["gate"] = _yaml.plain(data["gate"])
    if "output" in kw and "quarantine" in kw and kw["output"] == kw["quarantine"]:
        bad("quarantine", "must differ from output")
    if "input" in kw and kw["input"] in (kw.get("output"), kw.get("quarantine")):
        bad("output", "must differ from input")
    if any(f.level == "error" for f in out) or not all(k in kw for k in REQUIRED):
        return None, out
    lines = {str(k): _yaml.line_of(data, k) or 1 for k in data}
    name = Path(rel).stem
    return Pipeline(name=name, path=rel, lines=lines, **kw), out


def assertion_problem(a: Any) -> str | None:
    return spec_problem(a)


def gate_problem(raw: Any) -> str | None:
    try:
        parse_gate(raw)
    except GateError as e:
        return str(e)
    return None


def load_pipeline(ws: Workspace, name: str) -> Pipeline:
    """The pipeline called ``name``; the first problem raises :class:`PipelineError`."""
    rel = find_pipeline(ws, name)
    full = Path(rel) if Path(rel).is_absolute() else ws.root / rel
    try:
        text = full.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise PipelineError("not UTF-8 text", path=rel) from None
    except OSError as e:
        raise PipelineError(f"cannot read ({e.strerror})", path=rel) from None
    spec, problems = parse_pipeline(text, rel)
    errors = [f for f in problems if f.level == "error"]
    if errors or spec is None:
        first = errors[0] if errors else error(rel, None, "unusable pipeline")
        more = f" (and {len(errors) - 1} more; run loomgit check {rel})" if len(errors) > 1 else ""
        raise PipelineError(first.message + more, path=first.path, line=first.line)
    return spec


def check_pipeline_file(ws: Workspace, rel: str) -> list[Finding]:
    """Findings for ``loomgit check``: the file's own problems, then whether the prompt
    exists, the mapped variables are the prompt's, and the input file is there."""
    full = ws.root / rel
    try:
        text = full.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return [error(rel, None, "not UTF-8 text")]
    except OSError as e:
        return [error(rel, None, f"cannot read: {e.strerror}")]
    spec, out = parse_pipeline(text, rel)
    if spec is None:
        return out
    try:
        ident, _ = split_ref(spec.prompt)
        prompt = ws.prompt(ident)
    except LoomgitError as e:
        out.append(error(rel, spec.lines.get("prompt"), f"prompt: {e.message}"))
        return out

    try:
        names = set(interface(prompt, ws.loader))
    except LoomgitError:
        names = None  # the prompt's own check reports it
    if names is not None:
        for var in spec.map:
            if var not in names:
                out.append(
                    error(
                        rel,
                        spec.lines.get("map"),
                        f"map: {spec.prompt} has no "
                        f"variable {var!r} (variables: {', '.join(sorted(names)) or 'none'})",
                    )
                )
    if not (ws.root / spec.input).exists():
        out.append(
            warning(rel, spec.lines.get("input"), f"input: {spec.input} does not exist (yet)")
        )
    return out
