"""The report files loomgit writes for others to read: an eval's ``--output`` JSON,
``--junit`` XML and ``--markdown``, a compare's, and the HTML overview.

Each goes through one :class:`~loomgit.github.Redactor` before it is written: the data
first (so a cut-short output cannot show half a secret), then the finished text. A model
answer that echoes an API key, or a prompt that pulled in a credential, is written as
``***`` (or ``sk-***``, ``ghp_***``...), never as itself. Files are written whole or not
at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loomgit.errors import UsageError
from loomgit.evals.results import EvalReport
from loomgit.evals.spool import SpooledCases
from loomgit.fsutil import atomic_write
from loomgit.github.redact import Redactor
from loomgit.report.eval_json import batched, compare_json, report_json
from loomgit.report.junit import junit_parts, to_junit
from loomgit.report.markdown import compare_markdown, report_markdown
from loomgit.workspace import Workspace

if TYPE_CHECKING:
    from loomgit.evals.comparison import Comparison

__all__ = [
    "eval_json",
    "redacted",
    "redactor",
    "write_compare",
    "write_eval",
    "write_report",
    "write_text",
]


def redactor(ws: Workspace | None = None, environ: Mapping[str, str] | None = None) -> Redactor:
    """The secrets of this environment, with the providers' ``api_key_env`` of ``ws``."""
    names = ws.config.secret_env_names() if ws is not None else ()
    return Redactor(environ, names)


def write_text(path: str, text: str | Iterable[str]) -> None:
    """Write a finished (already redacted) report whole (given whole or in pieces), or
    raise a usage error."""
    try:
        atomic_write(Path(path), text)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from None


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def redacted(report: EvalReport, red: Redactor) -> EvalReport:
    """``report`` with every string redacted; spooled cases are redacted as they are read."""
    clean = red.data(report)
    for s in clean.suites:
        if isinstance(s.cases, SpooledCases):
            s.cases = s.cases.mapped(red.data)
    return clean


def eval_json(report: EvalReport, red: Redactor) -> Iterator[str]:
    """The redacted JSON report in pieces (what ``--json`` prints), no final newline."""
    return batched(report_json(report, red.json_data))


def write_eval(
    report: EvalReport,
    red: Redactor,
    output: str | None = None,
    junit: str | None = None,
    markdown: str | None = None,
) -> None:
    """Write an eval's report files, each streamed from the report's cases: the JSON
    (what ``--json`` prints, then each piece's text redacted), JUnit and Markdown."""
    if output:
        write_text(output, chain((red.text(p) for p in eval_json(report, red)), ["\n"]))
    if not (junit or markdown):
        return
    clean = redacted(report, red)
    if junit:
        write_text(junit, (red.text(p) for p in batched(junit_parts(clean))))
    if markdown:
        write_text(markdown, red.text(report_markdown(clean)))


def write_report(
    report: EvalReport,
    red: Redactor,
    output: str | None = None,
    junit: str | None = None,
    markdown: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Write an eval's report files; returns the (redacted) JSON data when it was given
    or written, for the CLI to print."""
    # one walk each: the JSON data, and the report itself only for JUnit and Markdown
    clean = redacted(report, red) if (junit or markdown or (output and data is None)) else report
    shown = red.data(data) if data is not None else None
    if output:
        shown = shown if shown is not None else red.data(clean.to_dict())
        write_text(output, red.text(_json(shown)))
    if junit:
        write_text(junit, red.text(to_junit(clean)))
    if markdown:
        write_text(markdown, red.text(report_markdown(clean)))
    return shown


def redacted_compare(cmp: Comparison, red: Redactor) -> Comparison:
    """``cmp`` with every string redacted (its reports' spooled cases as they are read)."""
    clean = red.data(cmp)
    clean.base, clean.head = redacted(cmp.base, red), redacted(cmp.head, red)
    return clean


def write_compare(
    cmp: Comparison,
    red: Redactor,
    output: str | None = None,
    junit: str | None = None,
    markdown: str | None = None,
) -> Iterator[str]:
    """Write a compare's report files; returns its (redacted) JSON text in pieces, to
    print (each read of it streams the reports again)."""
    clean = redacted_compare(cmp, red)

    def data() -> Iterator[str]:
        return batched(compare_json(clean, red.json_data))

    if output:
        write_text(output, chain((red.text(p) for p in data()), ["\n"]))
    if markdown:
        write_text(markdown, red.text(compare_markdown(clean)))
    if junit:
        write_text(junit, (red.text(p) for p in batched(junit_parts(clean.head))))
    return data()
