"""The parts of batch runs on their own: token and cost estimates, the budget, the result
files and their recovery, run records for lineage, and the HTML report (rendered in
headless Chromium when it is installed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import GitRepo

from loomgit.batch.cost import (
    Budget,
    estimate,
    estimate_tokens,
    message_tokens,
    output_basis,
    parse_budget,
)
from loomgit.batch.outputs import (
    DoneSet,
    OutputError,
    ResultLog,
    load_checkpoint,
    recover,
    save_checkpoint,
)
from loomgit.batch.prices import Price
from loomgit.report.html import render_html

ROOT = Path(__file__).resolve().parent.parent


# -- tokens and cost ---------------------------------------------------------------------


def test_token_estimate_is_documented_arithmetic() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2  # ceil(5 / 4)
    assert estimate_tokens("Summarize this ticket: printer on fire") == 10  # 38 chars
    assert estimate_tokens("日本語のテキスト") == 6  # 8 non-ASCII chars / 1.5
    msgs = [{"role": "system", "content": "abcd" * 10}, {"role": "user", "content": "hi"}]
    assert message_tokens(msgs) == (10 + 4) + (1 + 4) + 3


def test_estimate_prices_expected_and_worst_case() -> None:
    basis = output_basis(100, None)
    assert (basis.basis, basis.tokens) == ("max_tokens", 100.0)
    est = estimate(
        "p",
        "1.0.0",
        "in.csv",
        1000,
        3,
        250_000,
        [
            ("m/x", Price(2.0, 8.0), output_basis(100, (40.0, 12))),
            ("m/free", Price(0.0, 0.0), basis),
            ("m/unknown", None, basis),
        ],
        budget=1.0,
    )
    x, free, unknown = est.models
    assert x.output.basis == "recorded" and x.output_tokens == 40_000
    assert x.cost_usd == pytest.approx((250_000 * 2 + 40_000 * 8) / 1e6)  # 0.82
    assert x.max_cost_usd == pytest.approx((250_000 * 2 + 100_000 * 8) / 1e6)  # 1.3
    assert free.cost_usd == 0 and unknown.cost_usd is None
    assert not est.over_budget
    assert estimate(
        "p", None, "s", 1000, 0, 250_000, [("m/x", Price(2.0, 8.0), basis)], budget=1.0
    ).over_budget  # 0.5 + 0.8
    assert output_basis(None, None).basis == "assumed"
    d = est.to_dict()
    assert d["models"][0]["output_basis_detail"] == "recorded average of 12 answers"


def test_budget_reserves_worst_case_and_settles_actual() -> None:
    b = Budget(0.001, Price(1.0, 2.0), per_request_output=100)  # worst: 100 in -> 0.0003
    first = b.reserve(100)
    assert first == pytest.approx(0.0003)
    assert b.reserve(100) is not None and b.reserve(100) is not None
    assert b.reserve(100) is None  # 4 x 0.0003 > 0.001
    b.settle(first, 0.0001)
    assert b.spent == pytest.approx(0.0001) and b.reserve(100) is not None
    unlimited = Budget(None, None, 100)
    assert unlimited.reserve(10**9) == 0.0


@pytest.mark.parametrize("raw,value", [(5, 5.0), ("2.50", 2.5), ("$3", 3.0), (0, 0.0)])
def test_budget_values(raw: object, value: float) -> None:
    assert parse_budget(raw) == value


@pytest.mark.parametrize("raw", [-1, "lots", True, float("nan"), [1]])
def test_bad_budget_values(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_budget(raw)


# -- result files ------------------------------------------------------------------------


def test_done_set_is_a_bitmap() -> None:
    d = DoneSet()
    for i in (1, 7, 8, 1_000_000, 7):
        d.add(i)
    assert len(d) == 4 and 8 in d and 9 not in d and 1_000_000 in d and "1" not in d


def test_recover_cuts_torn_tail_and_drops_errors_for_retry(tmp_path: Path) -> None:
    out, q = tmp_path / "o.jsonl", tmp_path / "q.jsonl"
    with ResultLog(out, fresh=True) as log:
        log.append(
            {
                "index": 1,
                "score": 1.0,
                "lineage": {"cost_usd": 0.5, "latency_ms": 10, "tokens": {"input": 3, "output": 4}},
            }
        )
        log.append({"index": 3, "lineage": {"cost_usd": 0.25, "latency_ms": 30}})
    with open(out, "ab") as f:
        f.write(b'{"index": 4, "lin')
    with ResultLog(q, fresh=True) as log:
        log.append({"index": 2, "kind": "quarantine", "reason": "bad"})
        log.append({"index": 5, "kind": "error", "reason": "down"})
        log.append({"index": 6, "kind": "error", "reason": "down"})
    rv = recover(out, q)
    assert sorted(i for i in range(10) if i in rv.done) == [1, 2, 3]
    assert (rv.ok, rv.quarantined, rv.retried_errors, rv.torn) == (2, 1, 2, 1)
    assert rv.cost_usd == 0.75 and (rv.input_tokens, rv.output_tokens) == (3, 4)
    assert (rv.score_sum, rv.scored, rv.latency_sum, rv.answered) == (1.0, 1, 40.0, 2)
    assert out.read_bytes().endswith(b"}\n")
    assert [json.loads(x)["index"] for x in q.read_text().splitlines()] == [2]
    # a second recovery changes nothing
    rv2 = recover(out, q)
    assert (rv2.ok, rv2.quarantined, rv2.retried_errors, rv2.torn) == (2, 1, 0, 0)


def test_recover_refuses_files_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    out.write_text('{"index": 1}\nnot json at all\n{"index": 2}\n')
    with pytest.raises(OutputError) as ei:
        recover(out, None)
    assert str(ei.value) == f"{out}:2: not a loomgit result record; cannot resume into this file"


def test_checkpoint_is_replaced_atomically(tmp_path: Path) -> None:
    p = tmp_path / "o.jsonl.checkpoint.json"
    save_checkpoint(p, {"run_id": "a", "n": 1})
    save_checkpoint(p, {"run_id": "a", "n": 2})
    assert load_checkpoint(p) == {"run_id": "a", "n": 2}
    assert [x.name for x in tmp_path.iterdir()] == [p.name]  # no temporary files left
    p.write_text("{half")
    with pytest.raises(OutputError, match="unreadable checkpoint"):
        load_checkpoint(p)
    assert load_checkpoint(tmp_path / "none.json") is None


# -- run records and lineage -------------------------------------------------------------


def test_lineage_joins_history_stages_evals_and_batch_runs(repo: GitRepo) -> None:
    from loomgit.batch.lineage import lineage
    from loomgit.batch.model import BatchSummary
    from loomgit.batch.records import record_batch
    from loomgit.evals.records import connect, db_path
    from loomgit.workspace import Workspace

    prompt = "---\nmodel: echo/echo\nvariables: {t: {type: string}}\n---\nSay {{ t }}\n"
    repo.commit("add", {"prompts/p.prompt": prompt})
    repo.commit("change", {"prompts/p.prompt": prompt.replace("Say", "Tell")})
    ws = Workspace(repo.path)
    s = BatchSummary(
        run_id="r1",
        prompt="p",
        version="1.1.0",
        content_hash="h",
        commit="c",
        model="echo/echo",
        input="in.csv",
        output="o.jsonl",
        quarantine="q.jsonl",
        started_at="2026-01-01T00:00:00+00:00",
        records=10,
        ok=6,
        quarantined=3,
        errors=1,
        judged=8,
        cost_usd=0.02,
        latency_sum=80.0,
        answered=8,
        score_sum=6.0,
        scored=8,
    )
    assert record_batch(ws, s)
    s.ok, s.quarantined, s.judged = 7, 3, 10  # a resumed run updates its row
    s.errors = 0
    record_batch(ws, s)
    path = db_path(ws)
    assert path is not None
    with connect(path) as con, con:
        con.execute("INSERT INTO runs (run_id, started_at, status) VALUES ('e1', 'x', 'passed')")
        for passed, score in ((1, 1.0), (0, 0.5), (None, None)):
            con.execute(
                "INSERT INTO results (run_id, created_at, prompt, version, case_name, "
                "model, passed, score, latency_ms, cost_usd) VALUES "
                "('e1', 'x', 'p', '1.1.0', 'c', 'openai/m', ?, ?, 20, 0.01)",
                (passed, score),
            )
        kinds = con.execute(
            "SELECT kind, cases, passed, failed FROM runs ORDER BY run_id"
        ).fetchall()
    assert kinds == [("eval", 0, 0, 0), ("batch", 10, 7, 3)]
    data = lineage(ws, "p")
    assert [v["version"] for v in data["versions"]] == ["1.0.0", "1.1.0"]
    assert [v["bump"] for v in data["versions"]] == ["initial", "minor"]
    assert data["versions"][0]["runs"] is None
    r = data["versions"][1]["runs"]
    assert (r["evals"], r["batch_runs"], r["records"]) == (1, 1, 3 + 10)
    assert r["pass_rate"] == pytest.approx((1 + 7) / (2 + 10))
    assert r["mean_score"] == pytest.approx((1.5 + 6.0) / (2 + 8))
    assert r["cost_usd"] == pytest.approx(0.05)
    assert r["models"] == ["echo/echo", "openai/m"]
    assert data["stages"] == {"staging": None, "production": None}


# -- the HTML report ---------------------------------------------------------------------


def _data(n: int = 6) -> dict[str, object]:
    bumps = ["initial", "minor", "patch", "major", "minor", "patch"]
    versions = []
    for i in range(n):
        versions.append(
            {
                "version": f"1.{i}.0",
                "bump": bumps[i % len(bumps)],
                "commit": f"{i:040x}",
                "date": f"2026-01-0{i + 1}T00:00:00",
                "subject": f"<script>alert({i})</script>",
                "stages": ["production"] if i == 2 else ["staging"] if i == n - 1 else [],
                "runs": None
                if i == 1
                else {
                    "runs": 2,
                    "records": 100,
                    "pass_rate": 0.5 + i / 20,
                    "mean_score": 0.6 + i / 30,
                    "cost_usd": 0.001 * (i + 1),
                    "latency_ms": 100.0 * (i + 1),
                    "models": ["m/x"],
                },
            }
        )
    return {
        "title": "loomgit report: demo",
        "generated_at": "2026-01-09 10:00 UTC",
        "root": "/repo",
        "prompts": [
            {
                "id": "support/<b>summarize</b>",
                "stages": {"staging": "1.5.0", "production": "1.2.0"},
                "versions": versions,
            },
            {"id": "empty", "stages": {"staging": None, "production": None}, "versions": []},
        ],
    }


def test_html_is_self_contained_and_escapes_repository_text() -> None:
    page = render_html(_data())
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "alert(" in page  # subjects shown, as text
    assert "&lt;script&gt;alert(0)&lt;/script&gt;" in page
    assert "support/&lt;b&gt;summarize&lt;/b&gt;" in page
    assert "src=" not in page and 'href="http' not in page and "@import" not in page
    assert page.count("<svg") == 1 + 3  # the timeline and three charts of one prompt
    assert ">production</text>" in page and ">staging</text>" in page
    for bump in ("initial", "minor", "patch", "major"):
        assert f">{bump}</span>" in page
    assert "no versions" in page  # the prompt without history


def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    html = tmp_path / "report.html"
    html.write_text(render_html(_data()), encoding="utf-8")
    png = tmp_path / "report.png"
    proc = subprocess.run(
        ["bash", str(ROOT / "bench" / "screenshot_report.sh"), str(html), str(png), "1200", "1400"],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 1400)
    # a blank page compresses to almost nothing; the charts and tables do not
    assert len(data) > 40_000


def test_library_run_reports_progress_in_bytes(repo: GitRepo) -> None:
    from loomgit.batch.runner import BatchOptions, run_batch
    from loomgit.workspace import Workspace

    repo.commit("p", {"prompts/p.prompt": "---\nmodel: echo/echo\n---\nSay {{ t }}\n"})
    inp = repo.path / "in.jsonl"
    inp.write_text("".join(json.dumps({"t": f"n{i}"}) + "\n" for i in range(50)))
    seen: list[tuple[int, int, int | None]] = []
    s = run_batch(
        Workspace(repo.path),
        BatchOptions(ref="p", input=str(inp), output=str(repo.path / "o.jsonl"), record=False),
        progress=lambda summary, pos, size: seen.append((summary.ok, pos, size)),
    )
    assert s.ok == 50 and s.exit_code == 0
    assert seen[-1] == (50, inp.stat().st_size, inp.stat().st_size)
    outs = [json.loads(x) for x in (repo.path / "o.jsonl").read_text().splitlines()]
    assert sorted(o["output"] for o in outs) == sorted(f"Say n{i}" for i in range(50))
