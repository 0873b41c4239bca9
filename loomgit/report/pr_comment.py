"""The Markdown of ``loomgit ci``: the job summary and the pull-request comment.

Everything that comes from the pull request or a model (prompt ids, case names,
outputs, reasons) goes through :func:`loomgit.report.escape.md_text` or
:func:`loomgit.report.escape.md_code`, so it cannot add rows, links, images, HTML or a fake
verdict. The verdict line is written by loomgit alone, at the top.
"""

from __future__ import annotations

from loomgit.report.ci_result import CaseChange, CiReport, PromptChange, Side
from loomgit.report.escape import md_code, md_text, term_text, visible

ICON = {"passed": "✅", "failed": "❌", "error": "⚠️", "skipped": "⏭️", None: "—"}
MAX_ROWS = 50  # per table; the rest is counted, not listed
MAX_OUTPUTS = 20  # outputs shown in full, per prompt


def _html(text: object, limit: int) -> str:
    """Outside text inside loomgit's own HTML (a ``<summary>``), where Markdown is not
    read: one line, unsafe characters shown, HTML characters as entities, no mention,
    no autolink."""
    s = visible(text)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    s = s.replace("|", "&#124;")  # no table row, even if a renderer reads the line as one
    return s.replace("@", "@&#8203;").replace("://", "&#58;//")


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.0f}%"


def _score(v: float | None) -> str:
    return "" if v is None else f" {v:.2f}"


def _cost(v: float | None) -> str:
    if v is None:
        return "—"
    if v == 0:
        return "$0"
    return f"${v:.4f}" if v >= 0.0001 or v == 0 else f"${v:.2e}"


def _arrow(before: str, after: str) -> str:
    return after if before == after else f"{before} → {after}"


def headline(r: CiReport) -> str:
    n = len(r.prompts)
    what = f"{n} changed prompt{'s' if n != 1 else ''}"
    fixes = f", {r.fixes} fix{'es' if r.fixes != 1 else ''}" if r.fixes else ""
    if r.conflicts and r.verdict == "failed":
        k = len(r.conflicts)
        return f"❌ loomgit: {k} id{'s' if k != 1 else ''} used by more than one file"
    if n == 0:
        return "✅ loomgit: no prompt or suite changed"
    verdict = r.verdict
    if verdict == "failed":
        if r.fail_on == "gate":
            bad = sum(1 for p in r.prompts if p.after.gate == "failed")
            return f"❌ loomgit: {bad} of {what} fail{'s' if bad == 1 else ''} the gate"
        if r.fail_on == "significant_regression":
            bad = sum(1 for p in r.prompts if p.significant())
            return f"❌ loomgit: a significant regression in {bad} of {what}{fixes}"
        reg = r.regressions
        if reg:
            return f"❌ loomgit: {reg} regression{'s' if reg != 1 else ''} in {what}{fixes}"
        return f"❌ loomgit: a gate regressed in {what}{fixes}"
    if verdict == "error":
        return f"⚠️ loomgit: {r.errors} case{'s' if r.errors != 1 else ''} could not run in {what}"
    return f"✅ loomgit: no regressions in {what}{fixes}"


def render(r: CiReport, *, marker: str = "", run_url: str | None = None) -> str:
    """The report as GitHub-flavoured Markdown (``marker`` first, hidden)."""
    out: list[str] = []
    if marker:
        out.append(marker)
    out.append(f"## {headline(r)}")
    out.append("")
    out.append(
        f"Compared `{r.base[:7]}` ({md_text(r.base_label, 80)}) with `{r.head[:7]}` "
        f"({md_text(r.head_label, 80)}) · fail-on: `{r.fail_on}`"
        + (f" · cost {_cost(r.cost_usd)}" if r.cost_usd else "")
        + (f" · [run]({run_url})" if run_url else "")
    )
    if r.offline:
        out += [
            "",
            "> [!NOTE]",
            f"> Evaluated with the offline providers (replay where "
            f"recordings exist, else echo): {md_text(r.offline, 400)}. Scores show how the prompt "
            "renders, not how a model answers.",
        ]
    for note in r.notes:
        out += ["", f"> {note}"]  # loomgit's own Markdown, no outside text
    reasons = r.failure_reasons()
    if reasons:
        out += ["", "**Why it fails**", ""]
        out += [f"- {md_text(x, 400)}" for x in reasons[:MAX_ROWS]]
        if len(reasons) > MAX_ROWS:
            out.append(f"- … and {len(reasons) - MAX_ROWS} more")
    if r.prompts:
        out += [
            "",
            "| Prompt | Version | Pass rate | Gate | Regressions | Fixes | Cost |",
            "|---|---|---|---|---:|---:|---:|",
        ]
        for p in r.prompts[:MAX_ROWS]:
            out.append(_prompt_row(p))
        if len(r.prompts) > MAX_ROWS:
            out.append(f"| … {len(r.prompts) - MAX_ROWS} more | | | | | | |")
        for p in r.prompts:
            out += _prompt_section(p)
    out += [
        "",
        f"<sub>loomgit ci · python assertions {'allowed' if r.python_allowed else 'off'}</sub>",
        "",
    ]
    return "\n".join(out)


def _version(p: PromptChange) -> str:
    b, a = p.before.version, p.after.version
    if b and a and b != a:
        text = f"{md_text(b, 40)} → {md_text(a, 40)}"
    else:
        text = md_text(a or b or "—", 40)
    return f"{text} ({md_text(p.bump, 20)})" if p.bump else text


def _gate(s: Side) -> str:
    return ICON.get(s.gate, "—")


def _prompt_row(p: PromptChange) -> str:
    if p.note:
        return f"| {md_text(p.id, 120)} | {_version(p)} | — | — | — | — | — |"
    rate = _arrow(_pct(p.before.pass_rate), _pct(p.after.pass_rate))
    gate = _arrow(_gate(p.before), _gate(p.after))
    cost = _arrow(_cost(p.before.cost_usd), _cost(p.after.cost_usd))
    return (
        f"| {md_text(p.id, 120)} | {_version(p)} | {rate} | {gate} | "
        f"{len(p.regressions)} | {len(p.fixes)} | {cost} |"
    )


def _prompt_section(p: PromptChange) -> list[str]:
    out = ["", f"### {md_text(p.id, 200)}", ""]
    facts = [f"{md_text(p.status, 20)}"]
    if p.bump:
        facts.append(f"**{md_text(p.bump, 20)}**")
    out.append(
        " · ".join(facts) + (f" — {md_text('; '.join(p.reasons), 600)}" if p.reasons else "")
    )
    if p.note:
        out += ["", md_text(p.note, 400)]
        return out
    if p.suite:
        out.append("")
        out.append(
            f"Suite {md_text(p.suite, 200)}: {p.after.passed} passed, {p.after.failed} "
            f"failed, {p.after.errors} errors (base: {p.before.passed} passed, "
            f"{p.before.failed} failed, {p.before.errors} errors)"
        )
        if p.significance and p.significance.p_value is not None:
            out += ["", f"Significance of the change: {p.significance.describe()}"]
    for title, rows in (
        ("❌ Regressions", p.regressions),
        ("✅ Fixes", p.fixes),
        ("⚠️ Errors", p.errors),
        ("🆕 New cases", [c for c in p.cases if c.kind == "new"]),
    ):
        if rows:
            out += _case_table(title, rows)
            out += _group_outputs(title, rows)
    out += _unchanged(p)
    return out


def _group_outputs(title: str, rows: list[CaseChange]) -> list[str]:
    """The outputs under a group's table: one fold per regressed case, one fold for the
    fixes, the errors and the failing new cases."""
    if title == "❌ Regressions":
        return _regressed_outputs(rows)
    if title == "🆕 New cases":
        return _outputs(
            "Outputs of the failing new cases", [c for c in rows if c.after == "failed"]
        )
    return _outputs(f"Outputs of the {title.split(' ', 1)[1].lower()}", rows[:MAX_OUTPUTS])


def _regressed_outputs(rows: list[CaseChange]) -> list[str]:
    """One folded block per regressed case: why, and its output at the base and at the
    head (the first ``MAX_OUTPUTS``; the JSON report has the rest)."""
    out: list[str] = []
    for c in rows[:MAX_OUTPUTS]:
        why = f": {_html(c.why_after, 200)}" if c.why_after else ""
        out += [
            "",
            f"<details><summary>❌ {_html(c.case, 120)} · {_html(c.provider, 80)}{why}</summary>",
            "",
            "Base:",
            "",
            md_code(c.output_before if c.output_before is not None else c.why_before, 1500),
            "",
            "Head:",
            "",
            md_code(c.output_after if c.output_after is not None else c.why_after, 1500),
            "",
            "</details>",
        ]
    if len(rows) > MAX_OUTPUTS:
        out += ["", f"… the outputs of {len(rows) - MAX_OUTPUTS} more are in report.json"]
    return out


def _outputs(title: str, rows: list[CaseChange]) -> list[str]:
    """The head's outputs of ``rows`` in one folded block."""
    if not rows:
        return []
    out = ["", f"<details><summary>{title}</summary>", ""]
    for c in rows[:MAX_OUTPUTS]:
        out += [
            f"**{md_text(c.case, 120)}** · {md_text(c.provider, 80)} · "
            f"base {ICON.get(c.before, '—')} head {ICON.get(c.after, '—')}",
            "",
            md_code(c.output_after if c.output_after is not None else c.why_after, 1500),
            "",
        ]
    out.append("</details>")
    return out


def _unchanged(p: PromptChange) -> list[str]:
    """The cases whose result did not change, folded: how many pass, which still fail."""
    same = [c for c in p.cases if c.kind == "unchanged"]
    if not same:
        return []
    failing = [c for c in same if c.after == "failed"]
    passing = sum(1 for c in same if c.after == "passed")
    other = len(same) - passing - len(failing)
    parts = [f"{passing} pass"] + ([f"{len(failing)} still fail"] if failing else [])
    parts += [f"{other} skipped"] if other else []
    out = [
        "",
        f"<details><summary>Unchanged ({len(same)}): {', '.join(parts)}</summary>",
        "",
        "| Case | Provider | Base | Head | Why |",
        "|---|---|---|---|---|",
    ]
    ordered = failing + [c for c in same if c.after != "failed"]
    out += [_case_row(c) for c in ordered[:MAX_ROWS]]
    if len(same) > MAX_ROWS:
        out.append(f"| … {len(same) - MAX_ROWS} more | | | | |")
    out += ["", "</details>"]
    return out


def _case_table(title: str, rows: list[CaseChange]) -> list[str]:
    out = [
        "",
        f"**{title}** ({len(rows)})",
        "",
        "| Case | Provider | Base | Head | Why |",
        "|---|---|---|---|---|",
    ]
    out += [_case_row(c) for c in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        out.append(f"| … {len(rows) - MAX_ROWS} more | | | | |")
    return out


def _case_row(c: CaseChange) -> str:
    why = c.why_after or c.why_before
    return (
        f"| {md_text(c.case, 120)} | {md_text(c.provider, 60)} | "
        f"{ICON.get(c.before, '—')}{_score(c.score_before)} | "
        f"{ICON.get(c.after, '—')}{_score(c.score_after)} | {md_text(why, 200)} |"
    )


def _n(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "es" if word.endswith("x") else "s")


def artifact_line(url: str) -> str:
    """The line that links the uploaded workflow artifact (``url`` checked by the caller)."""
    return (
        f"📊 [Review page and full report]({url}) (workflow artifact: review.html, to open "
        "in a browser, report.md, report.json)"
    )


def link_artifact(markdown: str, url: str) -> str:
    """The report with :func:`artifact_line` under its headline (the first line)."""
    head, sep, rest = markdown.partition("\n")
    return f"{head}\n\n{artifact_line(url)}{sep}{rest}"


def plain(r: CiReport) -> list[str]:
    """Short plain-text lines for the log (the Markdown goes to the summary); names in
    them shown with :func:`~loomgit.report.escape.term_text`."""
    t = term_text
    lines = [
        headline(r).split(" ", 1)[1],
        f"base {r.base[:7]} ({t(r.base_label)}) -> head {r.head[:7]} ({t(r.head_label)}), "
        f"fail-on {r.fail_on}",
    ]
    if r.offline:
        lines.append(f"offline providers: {t(r.offline)}")
    for p in r.prompts:
        if p.note:
            lines.append(f"  {t(p.id)}: {t(p.note)}")
            continue
        lines.append(
            f"  {t(p.id)}: {_pct(p.before.pass_rate)} -> {_pct(p.after.pass_rate)}, "
            f"gate {p.before.gate or '-'} -> {p.after.gate or '-'}, "
            f"{_n(len(p.regressions), 'regression')}, {_n(len(p.fixes), 'fix')}"
        )
    lines += [f"  {t(x)}" for x in r.failure_reasons()]
    return lines
