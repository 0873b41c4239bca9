"""`loomgit report --html FILE --results R.json`: the review page built from eval, compare
and ci results (what each cell says, what is highlighted, the word diffs, escaping, the
self-contained page), the chart fixes of the overview, and the command's errors. The same
pages in a real browser: tests/test_report_browser.py."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from pathlib import Path

import pytest
from conftest import CORPUS, GitRepo
from viewer_data import compare_result

from loomgit.report import charts
from loomgit.report.ci_result import CaseChange, CiReport, PromptChange, Side
from loomgit.report.html import render_html
from loomgit.report.review import review_html
from loomgit.report.worddiff import word_diff

# -- word diffs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("", ""),
        ("", "new text"),
        ("old text", ""),
        ("Summarize this ticket: fire", "Summarize this support ticket in two sentences: fire"),
        ("a, b; c\nd", "a b; c\n\nd!"),
        ("same", "same"),
        ("x " * 5000, "y " * 5000),  # past MAX_TOKENS: line by line
        ("end", "end "),
        ("a  b", "a b"),
    ],
)
def test_word_diff_reads_back_as_both_texts(old: str, new: str) -> None:
    segs = word_diff(old, new)
    assert "".join(t for op, t in segs if op != "del") == new
    assert "".join(t for op, t in segs if op != "ins") == old


def test_a_word_followed_by_other_white_space_or_punctuation_is_the_same_word() -> None:
    segs = word_diff(
        "Summarize this ticket: Printer", "Summarize this ticket in two sentences: Printer"
    )
    assert segs == [
        ("same", "Summarize this ticket"),
        ("ins", " in two sentences"),
        ("same", ": Printer"),
    ]


def test_word_diff_marks_whole_words() -> None:
    segs = word_diff("Summarize this ticket: fire", "Summarize this support ticket: fire!")
    assert [t.strip() for op, t in segs if op == "ins"] == ["support", "!"]
    assert not [s for s in segs if s[0] == "del"]


# -- the review page ---------------------------------------------------------------------


def _rows(page: str) -> dict[str, str]:
    """row class by case name (the row header's text)."""
    return {
        m.group(2): m.group(1)
        for m in re.finditer(r'<tr id="p\d+-c\d+" class="k-(\w+)"><th scope="row">([^<]*)', page)
    }


def test_a_compare_shows_base_and_head_with_changed_cells_highlighted() -> None:
    data = compare_result(40)
    page = review_html([("cmp.json", data)])
    rows = _rows(page)
    assert len(rows) == 40
    by_case = {c["case"]: c["change"] for c in data["cases"]}
    for case, change in by_case.items():
        shown = rows[case.replace("<", "&lt;").replace(">", "&gt;")]
        if change in ("regression", "fix", "error"):
            assert shown == change, case
    # a reworded answer with the same verdict is "changed", an identical one "same"
    assert rows["ticket-00005"] == "changed" and rows["ticket-00001"] == "same"
    # columns: prompt@ref (version) and the model, with each side's totals
    assert "<code>support/summarize@main</code> (1.4.0)" in page
    assert "<code>support/summarize@bbbbbbb</code> (1.5.0)" in page
    assert page.count('<th scope="col"') == 1 + 2
    assert "36/40 pass" in page  # the base: every 11th case failed (0, 11, 22, 33)
    # the head's answer against the base's, word by word
    assert "<ins>urgently needs</ins>" in page and "<del>" in page
    # failing assertions say why; errors say what happened
    assert "✗ max_length: " in page and "HTTP 503 from the provider" in page
    regressions = sum(c["change"] == "regression" for c in data["cases"])
    assert f"{regressions} regressions" in page


def test_the_page_is_self_contained_and_escapes_every_text_from_results() -> None:
    page = review_html([("cmp.json", compare_result(40))])
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<i>x</i>" not in page and "&lt;i&gt;x&lt;/i&gt;" in page
    assert "src=" not in page and "http://" not in page and "https://" not in page
    # one inline script, allowed by its hash and nothing else
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None and "default-src 'none'" in csp.group(1)
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp.group(1)
    # the filter is a checkbox and CSS: it needs no script
    assert 'id="only-changed"' in page and "#only-changed:checked ~ section tr.k-same" in page


def test_models_are_columns_and_each_head_is_compared_with_its_own_base() -> None:
    page = review_html([("cmp.json", compare_result(10, models=("openai/m1", "anthropic/m2")))])
    heads = re.findall(r'<span class="model">([^<]+)</span>', page)
    assert heads == ["openai/m1", "openai/m1", "anthropic/m2", "anthropic/m2"]
    assert _rows(page)["ticket-00007"] == "regression"


def test_a_ci_result_shows_answers_and_why_cases_failed() -> None:
    ci = CiReport(
        "a" * 40,
        "b" * 40,
        "main",
        "feature",
        "regression",
        (
            PromptChange(
                "support/summarize",
                "prompts/support/summarize.prompt",
                "modified",
                before=Side(version="1.0.0", gate="passed", passed=2),
                after=Side(version="1.1.0", gate="failed", passed=1, failed=1),
                cases=(
                    CaseChange(
                        "printer",
                        "echo",
                        "passed",
                        "failed",
                        1.0,
                        0.5,
                        "Printer on fire.",
                        "The printer is on fire, again.",
                        why_after="max_length: 31 chars > 20",
                        line=4,
                    ),
                    CaseChange(
                        "vpn", "echo", "passed", "passed", 1.0, 1.0, "VPN down.", "VPN down."
                    ),
                    CaseChange("new-one", "echo", None, "passed", None, 1.0, None, "Hello."),
                ),
            ),
        ),
    )
    page = review_html([("report.json", ci.to_dict())])
    rows = _rows(page)
    assert rows == {"printer": "regression", "vpn": "same", "new-one": "new"}
    assert "support/summarize@main</code> (1.0.0)" in page
    assert "support/summarize@feature</code> (1.1.0)" in page
    assert "max_length: 31 chars &gt; 20" in page and '<span class="line">line 4</span>' in page
    assert "<ins>The</ins>" in page or "<ins>The printer is</ins>" in page or "<ins>" in page


def test_two_eval_reports_are_compared_first_to_second(repo: GitRepo, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cmp = compare_result(12)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(cmp["before"]))
    b.write_text(json.dumps(cmp["after"]))
    out = tmp_path / "review.html"
    r = cli(["report", "--html", str(out), "--results", str(a), "--results", str(b)], cwd=repo.path)
    assert r.exit_code == 0, r.err
    assert f"wrote {out} (12 cases)" in r.out
    rows = _rows(out.read_text(encoding="utf-8"))
    assert rows["ticket-00007"] == "regression" and rows["ticket-00011"] == "fix"


def test_a_real_compare_from_the_cli(sample_repo: GitRepo, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sample_repo.commit(
        "suite",
        {
            "prompts/support/summarize.tests.yaml": "providers: [echo]\ncases:\n"
            "  - name: fire\n    vars: {ticket: printer on fire}\n"
            "    assert: [{contains: 'Summarize this ticket'}]\n"
            "  - name: vpn\n    vars: {ticket: vpn down}\n    assert: [{contains: vpn}]\n"
        },
    )
    path = sample_repo.path / "prompts/support/summarize.prompt"
    path.write_text(path.read_text().replace("Summarize this ticket:", "Sum up this ticket:"))
    cmp = tmp_path / "cmp.json"
    r = cli(
        ["eval", "support/summarize", "--compare", "HEAD", "-o", str(cmp)], cwd=sample_repo.path
    )
    assert r.exit_code == 1, r.out + r.err  # the first case regresses
    out = tmp_path / "review.html"
    r = cli(["report", "--html", str(out), "--results", str(cmp)], cwd=sample_repo.path)
    assert r.exit_code == 0, r.err
    page = out.read_text(encoding="utf-8")
    assert _rows(page) == {"fire": "regression", "vpn": "changed"}
    assert "<del>Summarize</del><ins>Sum up</ins>" in page
    assert "✗ contains: does not contain" in page


def test_secrets_in_answers_are_not_written(repo: GitRepo, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token = "ghp_" + "A1b2C3d4" * 5
    data = compare_result(3)
    data["after"]["results"][0]["output"] = f"your token is {token}"
    src = tmp_path / "cmp.json"
    src.write_text(json.dumps(data))
    out = tmp_path / "review.html"
    r = cli(["report", "--html", str(out), "--results", str(src)], cwd=repo.path)
    assert r.exit_code == 0, r.err
    page = out.read_text(encoding="utf-8")
    assert token not in page and "ghp_***" in page


def test_prompt_limits_the_review_to_some_prompts(repo: GitRepo, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = compare_result(3)
    other = compare_result(2, prompt="other/p")
    for key in ("before", "after"):
        data[key]["results"] += other[key]["results"]
    data["cases"] += other["cases"]
    src = tmp_path / "cmp.json"
    src.write_text(json.dumps(data))
    out = tmp_path / "r.html"
    r = cli(
        ["report", "--html", str(out), "--results", str(src), "--prompt", "other/p"], cwd=repo.path
    )
    assert r.exit_code == 0, r.err
    page = out.read_text(encoding="utf-8")
    assert "other/p@main" in page and "support/summarize" not in page


# -- bad input: one line, exit 2 ---------------------------------------------------------

BAD = {
    "not_json.json": (3, "not valid JSON"),
    "a_list.json": (None, "not a loomgit eval, compare or ci result"),
    "unknown_shape.json": (None, "not a loomgit eval, compare or ci result"),
    "results_without_case.json": (None, "malformed eval result (KeyError: 'case')"),
}


def test_corpus_is_complete() -> None:
    assert {p.name for p in (CORPUS / "report").iterdir()} == set(BAD)


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_results_file_is_one_line(repo: GitRepo, cli, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    line, text = BAD[name]
    src = CORPUS / "report" / name
    r = cli(["report", "--html", str(tmp_path / "r.html"), "--results", str(src)], cwd=repo.path)
    assert r.exit_code == 2, r.out + r.err
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], r.err
    where = f"{src}:{line}: " if line else f"{src}: "
    assert where in lines[0]
    assert "Traceback" not in r.err and not (tmp_path / "r.html").exists()


def test_results_need_html(repo: GitRepo, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli(["report", "--results", str(tmp_path / "x.json")], cwd=repo.path)
    assert r.exit_code == 2 and "--results goes with --html FILE" in r.err


def test_a_missing_results_file(repo: GitRepo, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nope.json"
    r = cli(
        ["report", "--html", str(tmp_path / "r.html"), "--results", str(missing)], cwd=repo.path
    )
    assert r.exit_code == 2 and f"{missing}: cannot read" in r.err


# -- the overview's charts ---------------------------------------------------------------


def _overview(latencies: list[float], versions: list[str] | None = None) -> dict[str, object]:
    names = versions or [f"1.{i}.0" for i in range(len(latencies))]
    return {
        "title": "t",
        "prompts": [
            {
                "id": "p",
                "stages": {"staging": names[-1]},
                "versions": [
                    {
                        "version": v,
                        "bump": "minor",
                        "commit": "0" * 40,
                        "stages": [],
                        "runs": {
                            "runs": 1,
                            "records": 10,
                            "pass_rate": 1.0,
                            "mean_score": 1.0,
                            "cost_usd": 0.0000004,
                            "latency_ms": ms,
                        },
                    }
                    for v, ms in zip(names, latencies)
                ],
            }
        ],
    }


def _y_labels(page: str, caption: str) -> list[str]:
    svg = page.split(f"{caption}</figcaption>", 1)[1].split("</svg>", 1)[0]
    return re.findall(r'text-anchor="end"[^>]*>([^<]+)<', svg)


@pytest.mark.parametrize("latencies", [[0.004, 0.006, 0.01, 0.003], [0.0004], [12.5, 1800.0]])
def test_latency_axis_ticks_are_distinct_and_ascending(latencies: list[float]) -> None:
    """The axis a user saw read `0, 0, 0, 0, 0.01`: five ticks, three of them equal."""
    labels = _y_labels(render_html(_overview(latencies)), "mean latency (ms)")
    assert len(labels) >= 3 and len(set(labels)) == len(labels), labels
    values = [float(s.replace(",", "")) for s in labels]
    assert values == sorted(values) and values[-1] >= max(latencies)


@pytest.mark.parametrize("v_max", [0.004, 0.01, 0.00025, 0.9, 1.0, 3.7, 1250.0, 0.0, 1e-9])
def test_ticks_are_round_numbers_with_the_decimals_they_need(v_max: float) -> None:
    ticks, decimals = charts.nice_ticks(v_max)
    labels = [charts.number_axis(decimals)(t) for t in ticks]
    assert len(set(labels)) == len(labels) and ticks[0] == 0 and ticks[-1] >= v_max
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1.0, 2.0, 5.0)


def test_tiny_latencies_are_slivers_not_full_bars() -> None:
    chart = charts.bar_chart(["a", "b"], [0.004, 0.01], "#000", min_top=1.0)
    assert chart["grid"][-1]["label"] == "1.0"
    assert [float(b["height"]) for b in chart["bars"]] == [1.0, 1.5]


def test_long_version_labels_are_shortened_and_thinned() -> None:
    names = [f"2.0.0-rc.{i}+build.2026120{i}" for i in range(8)]
    chart = charts.bar_chart(names, [1.0] * 8, "#000")
    shown = chart["x_labels"]
    assert all(len(t["text"]) <= charts.LABEL_CHARS for t in shown)
    assert {t["title"] for t in shown} <= set(names) and len(shown) < len(names)
    xs = [float(t["x"]) for t in shown]
    widths = [charts.text_px(t["text"]) for t in shown]
    assert all(x1 + w1 / 2 < x2 - w2 / 2 for x1, x2, w1, w2 in zip(xs, xs[1:], widths, widths[1:]))
    assert xs[0] - widths[0] / 2 >= 0 and xs[-1] + widths[-1] / 2 <= chart["width"]


def test_stage_flags_of_neighbouring_versions_do_not_cover_each_other() -> None:
    versions = [
        {
            "version": f"1.{i}.0",
            "bump": "patch",
            "stages": ["production", "canary"] if i == 38 else [],
        }
        for i in range(40)
    ]
    versions[39]["stages"] = ["staging"]
    versions[37]["stages"] = ["qa-eu-west"]
    t = charts.timeline(versions, {})
    assert t is not None
    flags = [f for d in t["dots"] for f in d["flags"]]
    assert len(flags) == 4
    boxes = [(float(f["rect_x"]), float(f["rect_x"]) + float(f["width"]), f["y"]) for f in flags]
    for i, (l1, r1, y1) in enumerate(boxes):
        assert l1 >= 0 and r1 <= t["width"] and y1 - 7 >= 0
        for l2, r2, y2 in boxes[:i]:
            assert y1 != y2 or r1 < l2 or r2 < l1, (boxes, i)


def test_tool_calls_are_shown_and_a_different_call_is_a_change() -> None:
    data = compare_result(2)
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "lookup", "arguments": '{"id": 7}'},
    }
    data["before"]["results"][1]["tool_calls"] = [call]
    data["after"]["results"][1]["tool_calls"] = [{"name": "lookup", "arguments": {"id": 8}}]
    page = review_html([("cmp.json", data)])
    assert "→ <code>lookup({&#34;id&#34;: 7})</code>" in page
    assert "→ <code>lookup({&#34;id&#34;: 8})</code>" in page
    assert _rows(page)["ticket-00001"] == "changed"


def test_column_names_in_css_cannot_end_the_string_or_the_style() -> None:
    data = compare_result(2, models=('m"}</style><script>alert(1)</script>\\',))
    page = review_html([("cmp.json", data)])
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(styles) == 2  # the page's, and the column names of the one prompt
    rule = styles[1]
    assert "<" not in rule and "\\22 " in rule and "\\5c " in rule
    assert rule.count('"') == 2 * 2  # two columns, each one string
