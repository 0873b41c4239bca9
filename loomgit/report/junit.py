"""JUnit XML (the Ant/Jenkins dialect GitHub, GitLab, Jenkins and Azure read).

One ``<testsuite>`` per prompt suite, one ``<testcase>`` per case and provider, plus one
for the gate and one per ``distribution:`` check so that a failed gate shows as a failure
even when every case passed on its own. Errored cases are ``<error>``, not ``<failure>``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loomgit.evals.results import CaseResult, EvalReport, SuiteResult

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MAX_OUTPUT = 10_000
_CASES = "loomgit-cases"  # the frame's placeholder for a suite's cases (data is escaped)


def clean(text: object) -> str:
    """Text safe for XML 1.0 (control characters dropped)."""
    return _INVALID_XML.sub("", str(text))


def _case(suite: SuiteResult, r: CaseResult) -> str:
    """One case's ``<testcase>``, indented for its place in the document."""
    tc = ET.Element(
        "testcase",
        {
            "classname": clean(suite.prompt),
            "name": clean(f"{r.case} [{r.provider}]"),
            "time": f"{(r.latency_ms or 0.0) / 1000:.3f}",
            "file": clean(r.file or suite.path),  # a data file's case: that file
        },
    )
    if r.line:
        tc.set("line", str(r.line))
    if r.status == "skipped":
        ET.SubElement(tc, "skipped")
    elif r.status == "error":
        el = ET.SubElement(tc, "error", {"message": clean(r.error or "error"), "type": "error"})
        el.text = clean(r.error or "")
    elif r.status == "failed":
        why = r.why()
        el = ET.SubElement(tc, "failure", {"message": clean(why), "type": "assertion"})
        s = r.shown_sample()
        lines = [f"score {r.score:.3f}" if r.score is not None else ""]
        if len(r.samples) > 1 and r.pass_rate is not None:
            lines.append(f"pass rate {r.pass_rate:.0%} over {len(r.samples)} samples")
        for a in s.assertions if s else []:
            lines.append(f"{'PASS' if a.passed else 'FAIL'} {a.kind}: {a.message}")
        el.text = clean("\n".join(x for x in lines if x))
    s = r.shown_sample()
    text = s.transcript() if s is not None else ""  # the answer, its tool calls, each turn
    if text:
        out = ET.SubElement(tc, "system-out")
        out.text = clean(text[:MAX_OUTPUT])
    ET.indent(tc, level=2)
    return ET.tostring(tc, encoding="unicode")


def to_junit(report: EvalReport) -> str:
    """The report as a JUnit XML document."""
    return "".join(junit_parts(report))


def junit_parts(report: EvalReport) -> Iterator[str]:
    """The JUnit XML document in pieces: the frame of suites, gates and checks is built
    whole (its counts come from each suite's tally), the cases one at a time in between."""
    root = ET.Element("testsuites", {"name": "loomgit eval"})
    tot = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in report.suites:
        ts = ET.SubElement(
            root, "testsuite", {"name": clean(suite.prompt), "file": clean(suite.path)}
        )
        if report.started_at:
            ts.set("timestamp", report.started_at)
        props = ET.SubElement(ts, "properties")
        for name, value in (
            ("version", suite.version),
            ("commit", suite.commit),
            ("gate", suite.gate.describe()),
            ("gate_status", suite.gate_status),
            ("status", suite.status),
        ):
            if value:
                ET.SubElement(props, "property", {"name": name, "value": clean(value)})
        t = suite.tally()
        n = {
            "tests": t.cases,
            "failures": t.counts["failed"],
            "errors": t.counts["error"],
            "skipped": t.counts["skipped"],
        }
        if t.cases:
            ET.SubElement(ts, _CASES)  # where the cases go
        gate = ET.SubElement(
            ts,
            "testcase",
            {
                "classname": clean(suite.prompt),
                "name": clean(f"gate: {suite.gate.describe()}"),
                "time": "0",
            },
        )
        n["tests"] += 1
        c = suite.counts()
        detail = f"{c['passed']} passed, {c['failed']} failed, {c['error']} errors"
        if suite.gate_status == "failed":
            ET.SubElement(gate, "failure", {"message": f"gate failed: {detail}", "type": "gate"})
            n["failures"] += 1
        elif suite.gate_status == "error":
            ET.SubElement(gate, "error", {"message": f"gate undecided: {detail}", "type": "gate"})
            n["errors"] += 1
        for ch, st in zip(suite.checks, suite.check_status):
            tc = ET.SubElement(
                ts,
                "testcase",
                {
                    "classname": clean(suite.prompt),
                    "name": clean(f"distribution: {ch.check}"),
                    "time": "0",
                },
            )
            n["tests"] += 1
            shown = "none" if ch.value is None else f"{ch.value:.6g}"
            if st is False:
                ET.SubElement(
                    tc, "failure", {"message": f"{ch.check}: value {shown}", "type": "distribution"}
                )
                n["failures"] += 1
            elif st is None:
                ET.SubElement(
                    tc,
                    "error",
                    {"message": f"{ch.check}: no data (errors)", "type": "distribution"},
                )
                n["errors"] += 1
        for k, v in n.items():
            ts.set(k, str(v))
            tot[k] += v
        ts.set("time", f"{sum(t.latency) / 1000:.3f}")
    for k, v in tot.items():
        root.set(k, str(v))
    root.set("time", f"{report.duration_s:.3f}")
    ET.indent(root)
    frame = ET.tostring(root, encoding="unicode").split(f"<{_CASES} />")
    yield '<?xml version="1.0" encoding="UTF-8"?>\n' + frame[0]
    parts = iter(frame[1:])
    for suite in report.suites:
        if not len(suite.cases):
            continue
        for i, r in enumerate(suite.cases):
            yield ("\n    " if i else "") + _case(suite, r)
        yield next(parts)
    yield "\n"
