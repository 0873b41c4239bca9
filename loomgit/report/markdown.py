"""Markdown reports for pull-request comments and job summaries.

Model output and case names come from outside: :func:`escape` makes them inert (no HTML,
no links or images, no @mentions, no table breaks) so a comment cannot hide or fake results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loomgit.report.escape import md_inline, md_text

if TYPE_CHECKING:
    from loomgit.evals.compare import Comparison
    from loomgit.evals.results import EvalReport

ICON = {"passed": "✅", "failed": "❌", "error": "⚠️", "skipped": "⏭️"}


def escape(text: object, limit: int = 200) -> str:
    """One line of inert Markdown (see :func:`loomgit.report.escape.md_text`)."""
    return md_text(text, limit)


def code(text: object, limit: int = 120) -> str:
    """An inline code span (nothing inside is interpreted; backticks cannot close it)."""
    return md_inline(text, limit)


def _num(v: float | None, fmt: str = "{:.2f}") -> str:
    return "–" if v is None else fmt.format(v)


def _cost(v: float | None) -> str:
    return "–" if v is None else f"${v:.4f}"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def summary_line(s: dict[str, Any]) -> str:
    rate = "–" if s["pass_rate"] is None else f"{s['pass_rate']:.1%}"
    return (
        f"{s['cases']} cases · {s['passed']} passed · {s['failed']} failed · "
        f"{s['errors']} errors · pass rate {rate} · {_cost(s['cost_usd'])} · {s['duration_s']:.1f} s"
    )


def report_markdown(report: EvalReport, *, title: str = "loomgit eval", max_rows: int = 50) -> str:
    """The whole run: a verdict line, one row per suite, then failures and errors."""
    s = report.summary()
    lines = [f"### {title}: {ICON.get(report.status, '')} {report.status}", "", summary_line(s), ""]
    rows = []
    for su in report.suites:
        c = su.counts()
        gate = f"{escape(su.gate.describe())} {ICON.get(su.gate_status, '')}"
        checks = (
            "<br>".join(
                f"{escape(ch.check)} → {_num(ch.value, '{:.4g}')} "
                f"{ICON['passed'] if st else ICON['failed'] if st is False else ICON['error']}"
                for ch, st in zip(su.checks, su.check_status)
            )
            or "–"
        )
        scores = su.tally().scores
        rows.append(
            [
                code(su.prompt),
                code(su.version) if su.version else "–",
                gate,
                checks,
                str(c["passed"]),
                str(c["failed"]),
                str(c["error"]),
                _num(sum(scores) / len(scores) if scores else None),
            ]
        )
    lines += _table(
        ["Prompt", "Version", "Gate", "Distribution", "Passed", "Failed", "Errors", "Mean score"],
        rows,
    )
    bad, n_bad = [], 0  # the first max_rows of them, and how many there are
    for r in report.results:
        if r.status in ("failed", "error"):
            n_bad += 1
            if n_bad <= max_rows:
                bad.append(r)
    if bad:
        lines += ["", f"<details><summary>Failures and errors ({n_bad})</summary>", ""]
        brow = [
            [
                code(r.prompt),
                escape(r.case),
                escape(r.provider),
                f"{ICON[r.status]} {r.status}",
                _num(r.score),
                escape(r.why(), 300),
            ]
            for r in bad
        ]
        lines += _table(["Prompt", "Case", "Provider", "Result", "Score", "Why"], brow)
        if n_bad > max_rows:
            lines += ["", f"…and {n_bad - max_rows} more (see the JSON report)."]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def significance_lines(cmp: Comparison) -> list[str]:
    """The suites' significance tests, the significant cases, and the note on noise."""
    out = [
        f"- {code(p.prompt)}: {p.significance.describe()}"
        for p in cmp.prompts
        if p.significance and p.significance.p_value is not None
    ]
    out += [
        f"- {code(c.prompt)} case {escape(c.case)} ({escape(c.provider)}): "
        f"{c.significance.describe()}"
        for c in cmp.cases
        if c.significance and c.significance.verdict in ("regression", "improvement")
    ]
    out += [f"> Note: {n}" for n in cmp.notes]
    return ["", *out] if out else []


def compare_markdown(
    cmp: Comparison, *, title: str = "loomgit eval --compare", max_rows: int = 50
) -> str:
    """Before → after per prompt, then the regressions and fixes case by case."""
    icon = {"regressed": "❌", "improved": "✅", "unchanged": "✅", "error": "⚠️"}[cmp.verdict]
    lines = [
        f"### {title}: {icon} {cmp.verdict}",
        "",
        f"Base {code(cmp.base_ref)} → working tree · {len(cmp.regressions)} regressions · "
        f"{len(cmp.fixes)} fixes · {len(cmp.prompts)} prompts compared",
        "",
    ]
    rows = []
    for p in cmp.prompts:
        rows.append(
            [
                code(p.prompt),
                f"{code(p.base_version) if p.base_version else '–'} → "
                f"{code(p.head_version) if p.head_version else '–'}",
                f"{_num(p.base_pass_rate, '{:.0%}')} → {_num(p.head_pass_rate, '{:.0%}')}",
                f"{_num(p.base_score)} → {_num(p.head_score)}",
                f"{ICON.get(p.base_status or '', '')} → {ICON.get(p.head_status or '', '')}",
                str(p.regressions),
                str(p.fixes),
            ]
        )
    lines += _table(
        ["Prompt", "Version", "Pass rate", "Mean score", "Gate", "Regressions", "Fixes"], rows
    )
    lines += significance_lines(cmp)
    changed = [c for c in cmp.cases if c.change in ("regression", "fix", "error", "new")]
    if changed:
        lines += ["", f"<details open><summary>Changed cases ({len(changed)})</summary>", ""]
        crow = [
            [
                code(c.prompt),
                escape(c.case),
                escape(c.provider),
                c.change,
                f"{_num(c.base_score)} → {_num(c.head_score)}",
                escape(c.why, 300),
            ]
            for c in changed[:max_rows]
        ]
        lines += _table(["Prompt", "Case", "Provider", "Change", "Score", "Why"], crow)
        if len(changed) > max_rows:
            lines += ["", f"…and {len(changed) - max_rows} more (see the JSON report)."]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
