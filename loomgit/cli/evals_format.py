"""What ``loomgit eval`` and ``loomgit stats`` print: the progress bar, the results
table, a comparison, and one line when errors kept every case from running."""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from loomgit.cli.output import color, echo, is_tty, style

if TYPE_CHECKING:
    from loomgit.evals.cases import CaseResult
    from loomgit.evals.compare import Comparison
    from loomgit.evals.results import EvalReport
    from loomgit.evals.significance import Significance


MAX_ROWS = 40


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x9b]")


RESULT_COLOUR = {"passed": "green", "failed": "red", "error": "yellow", "skipped": "blue"}


RESULT_WORD = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "skipped": "SKIP"}


def clean(text: object, limit: int = 120) -> str:
    """One printable line (model output can hold terminal escapes)."""
    s = " ".join(_CONTROL.sub(" ", str(text)).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def rich_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], colours: Sequence[str | None]
) -> None:
    """Rich on a terminal (cells as Text, never markup), aligned columns otherwise."""
    if is_tty():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        t = Table(show_edge=False, header_style="bold", pad_edge=False)
        for h in headers:
            t.add_column(h, overflow="fold")
        for r, c in zip(rows, colours):
            cells = [Text(x) for x in r]
            if c:
                cells[0].stylize(c)
            t.add_row(*cells)
        Console(no_color=not color(), highlight=False, soft_wrap=False).print(t)
        return
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    echo("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for r in rows:
        echo("  ".join(x.ljust(w) for x, w in zip(r, widths)).rstrip())


@contextmanager
def progress_bar(enabled: bool, label: str = "eval") -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr when it is a terminal; None otherwise."""
    if not (enabled and sys.stderr.isatty() and is_tty()):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def fmt_ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.0f} ms"


def fmt_score(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def print_report(report: EvalReport, verbose: bool = False) -> None:
    def listed() -> Iterator[CaseResult]:  # read from the spool once per pass
        return (r for r in report.results if r.status != "skipped" or verbose)

    n_res = n_passed = 0
    repeat = False
    errs: Counter[str] = Counter()  # the samples' errors, then the cases' that did not run
    case_errs: Counter[str] = Counter()
    for r in report.results:
        errs.update(clean(s.error, 160) for s in r.samples if s.error)
        if r.error_msg:
            case_errs[clean(r.error_msg, 160)] += 1
        if r.status != "skipped" or verbose:
            n_res += 1
            n_passed += r.status == "passed"
            repeat = repeat or len(r.samples) > 1
    errs.update(case_errs)
    every = verbose or n_res <= MAX_ROWS
    some = every or n_passed < n_res  # a second pass only when it shows something
    shown = (r for r in listed() if every or r.status != "passed") if some else iter(())
    headers = (
        ["result", "prompt", "case", "provider", "score"]
        + (["pass rate"] if repeat else [])
        + ["latency", "why"]
    )
    rows, colours = [], []
    for r in shown:
        row = [
            RESULT_WORD[r.status],
            clean(r.prompt, 40),
            clean(r.case, 40),
            clean(r.provider, 30),
            fmt_score(r.score),
        ]
        if repeat:
            row.append("–" if r.pass_rate is None else f"{r.pass_rate:.0%} of {len(r.samples)}")
        row += [fmt_ms(r.latency_ms), clean(r.why(), 100)]
        rows.append(row)
        colours.append(RESULT_COLOUR[r.status])
    if rows:
        rich_table(headers, rows, colours)
    hidden = 0 if every else n_passed
    if hidden:
        echo(f"({hidden} passed cases not shown; -v shows every case)")
    echo()
    for su in report.suites:
        c = su.counts()
        val = su.gate_value
        shown_val = (
            ""
            if val is None
            else (f", score {val:.2f}" if su.gate.rule == "weighted" else f", {val:.0%} passed")
        )
        word = style(su.gate_status, fg=RESULT_COLOUR[su.gate_status], bold=True)
        version = f" {su.version}" if su.version else ""
        echo(
            f"{su.prompt}{version}: gate {su.gate.describe()} {word} "
            f"({c['passed']} passed, {c['failed']} failed, {c['error']} errors{shown_val})"
        )
        for ch, st in zip(su.checks, su.check_status):
            mark = {
                True: style("ok", fg="green"),
                False: style("FAILED", fg="red", bold=True),
                None: style("no data", fg="yellow"),
            }[st]
            value = "–" if ch.value is None else f"{ch.value:.4g}"
            echo(f"  {ch.check}: {value} {mark}")
    if errs:
        echo(style(f"errors ({sum(errs.values())} samples, not counted as failures):", fg="yellow"))
        for msg, n in errs.most_common(5):
            echo(f"  {n} × {msg}")
        if len(errs) > 5:
            echo(f"  … and {len(errs) - 5} other errors (see --json)")
    for line in report.pace:
        echo(style(line, fg="yellow"))
    s = report.summary()
    rate = "–" if s["pass_rate"] is None else f"{s['pass_rate']:.1%}"
    verdict = style(report.status, fg=RESULT_COLOUR[report.status], bold=True)
    echo(
        f"{verdict}: {s['cases']} cases, {s['passed']} passed, {s['failed']} failed, "
        f"{s['errors']} errors · pass rate {rate} · ${s['cost_usd']:.4f} · {s['duration_s']:.1f} s"
    )


def print_comparison(cmp: Comparison, verbose: bool = False) -> None:
    if cmp.unchanged:
        echo(f"unchanged since {cmp.base_ref} (not evaluated): {', '.join(cmp.unchanged)}")
    if not cmp.prompts:
        echo(f"no prompt with a suite changed since {cmp.base_ref}")
        return
    rows = []
    for p in cmp.prompts:

        def rate(v: float | None) -> str:
            return "–" if v is None else f"{v:.0%}"

        rows.append(
            [
                clean(p.prompt, 40),
                f"{p.base_version or '–'} → {p.head_version or '–'}",
                f"{rate(p.base_pass_rate)} → {rate(p.head_pass_rate)}",
                f"{fmt_score(p.base_score)} → {fmt_score(p.head_score)}",
                f"{p.base_status or 'new'} → {p.head_status}",
                str(p.regressions),
                str(p.fixes),
            ]
        )
    rich_table(
        ["prompt", "version", "pass rate", "score", "gate", "regressions", "fixes"],
        rows,
        [None] * len(rows),
    )
    tested = cmp.repeated
    changed = [
        c
        for c in cmp.cases
        if verbose
        or c.change in ("regression", "fix", "error")
        or (c.significance and c.significance.verdict in ("regression", "improvement"))
    ]
    if changed:
        echo()
        colour = {"regression": "red", "fix": "green", "error": "yellow"}
        rich_table(
            ["change", "prompt", "case", "provider", "score"]
            + (["pass rate", "significance"] if tested else [])
            + ["why"],
            [
                [
                    c.change,
                    clean(c.prompt, 40),
                    clean(c.case, 40),
                    clean(c.provider, 30),
                    f"{fmt_score(c.base_score)} → {fmt_score(c.head_score)}",
                ]
                + (_significance_cells(c.significance) if tested else [])
                + [clean(c.why, 100)]
                for c in changed
            ],
            [colour.get(c.change) for c in changed],
        )
    echo()
    for p in cmp.prompts:
        if p.significance and p.significance.p_value is not None:
            echo(f"{clean(p.prompt, 80)}: {p.significance.describe()}")
    for note in cmp.notes:
        echo(style(f"note: {note}", fg="yellow"))
    verdict = style(
        cmp.verdict, fg={"regressed": "red", "error": "yellow"}.get(cmp.verdict, "green"), bold=True
    )
    extra = ""
    if cmp.fail_on == "significant_regression":
        n = len(cmp.significant("regression"))
        extra = f", {n} significant regression{'s' if n != 1 else ''}"
    echo(
        f"{verdict}: {len(cmp.regressions)} regressions, {len(cmp.fixes)} fixes{extra} "
        f"against {cmp.base_ref}"
    )


def _significance_cells(s: Significance | None) -> list[str]:
    if s is None:
        return ["–", "–"]
    rate = f"{fmt_rate(s.before)} → {fmt_rate(s.after)}" if s.metric == "pass_rate" else "–"
    return [rate, s.describe()]


def fmt_rate(v: float | None) -> str:
    return "–" if v is None else f"{v:.0%}"


def all_errored_line(report: EvalReport) -> str | None:
    """One line when errors kept every case from running (server down, no key...)."""
    s = report.summary()
    if not s["errors"] or s["passed"] or s["failed"]:
        return None
    msgs: Counter[str] = Counter()
    for r in report.results:
        if r.status == "error":
            msgs.update([s.error for s in r.samples if s.error] or [r.error or "error"])
    derived = ("not sent: ", ": not sent: ", "; not retried: circuit open")
    root = [m for m in msgs if not any(d in m for d in derived)]
    first = max(root, key=lambda m: msgs[m]) if root else msgs.most_common(1)[0][0]
    return f"{s['errors']} of {s['cases']} cases could not run: {clean(first, 300)}"


def print_stats(by: str, rows: Sequence[dict[str, Any]]) -> None:
    """The table of ``loomgit stats``."""
    if not rows:
        echo("no recorded runs yet (run 'loomgit eval' first)")
        return
    keys = {
        "prompt": ["prompt"],
        "version": ["prompt", "version"],
        "day": ["day"],
        "model": ["model"],
        "case": ["prompt", "case_name"],
    }[by]

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{v:.1%}"

    table_rows = [
        [clean(r.get(k) or "–", 40) for k in keys]
        + [
            str(r["runs"]),
            str(r["samples"]),
            pct(r["pass_rate"]),
            fmt_score(r["mean_score"]),
            fmt_ms(r["p50_latency_ms"]),
            fmt_ms(r["p95_latency_ms"]),
            str(r["tokens"]),
            f"${r['cost_usd']:.4f}",
            str(r["errors"]),
        ]
        for r in rows
    ]
    rich_table(
        [k.replace("case_name", "case") for k in keys]
        + ["runs", "samples", "pass rate", "score", "p50", "p95", "tokens", "cost", "errors"],
        table_rows,
        [None] * len(table_rows),
    )
