"""Checks made before a batch run starts (variables the input can fill, a resumed run
being the same run, the suite's assertions) and the output schema check per record.

The JSON Schema check imports ``jsonschema`` only when a prompt declares a schema."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loomgit.errors import UsageError
from loomgit.evals.suite import parse_suite
from loomgit.evals.suite_model import Suite
from loomgit.inputs.mapping import lookup
from loomgit.inputs.record import Record
from loomgit.prompt.schema import best_error
from loomgit.prompt.schema import validator as make_validator

if TYPE_CHECKING:
    from loomgit.prompt.model import Prompt
    from loomgit.workspace import Workspace


def prompt_suite(ws: Workspace, prompt: Prompt) -> tuple[Suite | None, str]:
    """The test suite beside ``prompt`` (None when there is none) and its path; a suite
    with errors is a usage error at its first problem."""
    rel = Path(prompt.path).with_suffix("").as_posix() + ".tests.yaml"
    full = ws.root / rel
    if not full.is_file():
        return None, rel
    suite, problems = parse_suite(full.read_text(encoding="utf-8", errors="replace"), rel)
    errs = [p for p in problems if p.level == "error"]
    if suite is None or errs:
        first = errs[0] if errs else None
        raise UsageError(
            first.message if first else "unusable test suite",
            path=rel,
            line=first.line if first else None,
        )
    return suite, rel


def suite_asserts(ws: Workspace, prompt: Prompt) -> tuple[list[dict[str, Any]], str | None]:
    """The suite's ``defaults: assert:`` (they apply to any answer) and its file."""
    suite, rel = prompt_suite(ws, prompt)
    if suite is None:
        return [], None
    return list(suite.defaults.get("assert") or []), rel


def check_fields(
    iface: Mapping[str, Any],
    mapping: Mapping[str, str],
    columns: tuple[str, ...] | None,
    head: list[Record],
    display: str,
) -> None:
    """A required variable no column (CSV) or none of the first records (JSON) holds is a
    usage error before the run, rather than a million quarantined records."""
    required = [n for n, v in iface.items() if getattr(v, "required", True)]
    if columns is not None:
        absent = sorted(n for n in required if mapping.get(n, n) not in columns)
        if absent:
            raise UsageError(
                f"{shown(display)}: no column for required variable(s) "
                f"{', '.join(absent)} (columns: {', '.join(columns)}); add "
                "--map VARIABLE=COLUMN"
            )
        return
    readable = [r.data for r in head if r.data is not None]
    if not readable:
        return
    absent = sorted(
        n for n in required if not any(lookup(d, mapping.get(n, n))[0] for d in readable)
    )
    if absent:
        fields = sorted({str(k) for d in readable for k in d})
        raise UsageError(
            f"{shown(display)}: none of the first {len(readable)} record(s) has a "
            f"field for required variable(s) {', '.join(absent)} (fields: "
            f"{', '.join(fields[:20])}); add --map VARIABLE=FIELD"
        )


def same_run(ckpt: dict[str, Any], identity: dict[str, Any], path: Path) -> None:
    labels = {
        "prompt": "the prompt",
        "content_hash": "the prompt's content",
        "model": "the model",
        "params": "the params",
        "input": "the input file",
        "input_fingerprint": "the input file's content",
        "mapping": "--map",
        "asserts": "the assertions",
        "gate": "the gate",
    }
    changed = [
        label
        for key, label in labels.items()
        if key in ckpt and _norm(ckpt.get(key)) != _norm(identity.get(key))
    ]
    if changed:
        raise UsageError(
            f"cannot resume: {', '.join(changed)} changed since the run started "
            f"(see {path}); start again with --overwrite or another --output"
        )


def _norm(v: Any) -> Any:
    return json.dumps(v, sort_keys=True, default=str)


def schema_validator(prompt: Prompt) -> Any:
    out = prompt.output
    if out is None or out.format != "json" or not out.schema:
        return None
    return make_validator(out.schema)


def schema_problem(validator: Any, value: Any) -> str | None:
    if validator is None:
        return None
    err = best_error(validator, value)
    if err is None:
        return None
    where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err[0])
    return f"{where}: {err[1]}"


def shown(path: str) -> str:
    return "<stdin>" if path == "-" else path
