"""Shards and `report merge`, gates over whole suites, repeats, JUnit XML and Markdown."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo

PROMPT = "---\nvariables:\n  q: {type: string}\n---\nuser:\nAnswer: {{ q }}\n"


def suite(outcomes: str, gate: Any = "all_pass", **extra: Any) -> str:
    """One case per letter: P passes (the echo holds 'ok'), F fails."""
    cases = [
        {"name": f"c{i}", "vars": {"q": "ok" if o == "P" else "no"}, "assert": [{"contains": "ok"}]}
        for i, o in enumerate(outcomes)
    ]
    return json.dumps({"providers": ["echo"], "gate": gate, "cases": cases, **extra})


@pytest.fixture
def srepo(repo: GitRepo) -> GitRepo:
    repo.commit(
        "prompt",
        {"prompts/q.prompt": PROMPT, "prompts/q.tests.yaml": suite("PFPFFF", "majority_pass")},
    )
    return repo


def ev(cli: Any, repo: GitRepo, *args: str) -> tuple[int, dict[str, Any]]:
    r = cli(["eval", "--json", "--no-log", *args], cwd=repo.path)
    assert r.out, r.err
    return r.exit_code, json.loads(r.out)


def test_shards_split_cases_deterministically_and_merge_recomputes_gates(
    srepo: GitRepo, cli: Any
) -> None:
    a, b = srepo.path / "a.json", srepo.path / "b.json"
    c1, d1 = ev(cli, srepo, "--shard", "1/2", "-o", str(a))
    c2, d2 = ev(cli, srepo, "--shard", "2/2", "-o", str(b))
    names1 = [r["case"] for r in d1["results"]]
    names2 = [r["case"] for r in d2["results"]]
    assert names1 == ["c0", "c2", "c4"] and names2 == ["c1", "c3", "c5"]
    assert [r["case"] for r in ev(cli, srepo, "--shard", "1/2")[1]["results"]] == names1
    assert (c1, d1["summary"]["gate"]) == (0, "passed")  # P, P, F: a majority on its own
    assert (c2, d2["summary"]["gate"]) == (1, "failed")
    assert d1["shard"] == "1/2" and json.loads(a.read_text()) == d1
    r = cli(["report", "merge", str(a), str(b), "--json"], cwd=srepo.path)
    merged = json.loads(r.out)
    assert r.exit_code == 1  # 2 of 6 is no majority
    s = merged["summary"]
    assert (s["cases"], s["passed"], s["failed"], s["gate"]) == (6, 2, 4, "failed")
    assert merged["suites"][0]["gate_value"] == pytest.approx(2 / 6)
    assert sorted(x["case"] for x in merged["results"]) == [f"c{i}" for i in range(6)]
    text = cli(["report", "merge", str(a), str(b)], cwd=srepo.path).out
    assert "q 1.0.0: gate majority_pass failed (2 passed, 4 failed, 0 errors, 33% passed)" in text


def test_merge_refuses_bad_input(srepo: GitRepo, cli: Any) -> None:
    a = srepo.path / "a.json"
    ev(cli, srepo, "--shard", "1/2", "-o", str(a))
    r = cli(["report", "merge", str(a), str(a)], cwd=srepo.path)
    assert r.exit_code == 2 and "is the same shard given twice?" in r.err
    bad = srepo.path / "bad.json"
    bad.write_text('{"summary": {},\n "results": [}\n')
    r = cli(["report", "merge", str(bad)], cwd=srepo.path)
    assert r.exit_code == 2 and r.err.startswith(f"loomgit: error: {bad}:2: not valid JSON")
    other = srepo.path / "other.json"
    other.write_text('{"hello": 1}')
    r = cli(["report", "merge", str(other)], cwd=srepo.path)
    assert r.exit_code == 2 and "not a loomgit eval report" in r.err
    r = cli(["report", "merge", str(srepo.path / "missing.json")], cwd=srepo.path)
    assert r.exit_code == 2 and "cannot read" in r.err


@pytest.mark.parametrize(
    "outcomes,gate,code",
    [
        ("PPF", "all_pass", 1),
        ("PPP", "all_pass", 0),
        ("PPF", "majority_pass", 0),
        ("PFF", "majority_pass", 1),
        ("PF", "majority_pass", 1),
        ("FFP", "any_pass", 0),
        ("FFF", "any_pass", 1),
        ("PPPF", {"weighted": True, "threshold": 0.75}, 0),
        ("PPFF", {"weighted": {"c0": 3}, "threshold": 0.7}, 1),  # (3+1)/(3+1+1+1) = 0.67
        ("PPFF", {"weighted": {"c0": 3}, "threshold": 0.6}, 0),
    ],
)
def test_gates_decide_the_exit_code(
    repo: GitRepo, cli: Any, outcomes: str, gate: Any, code: int
) -> None:
    repo.commit("p", {"prompts/q.prompt": PROMPT, "prompts/q.tests.yaml": suite(outcomes, gate)})
    got, data = ev(cli, repo)
    assert got == code, data["suites"]


def test_distribution_checks_fail_the_run(repo: GitRepo, cli: Any) -> None:
    repo.commit(
        "p",
        {
            "prompts/q.prompt": PROMPT,
            "prompts/q.tests.yaml": suite(
                "PPPF",
                "majority_pass",
                distribution=["pass_rate >= 0.9", "mean(score) >= 0.5", "p95(latency_ms) <= 60000"],
            ),
        },
    )
    code, data = ev(cli, repo)
    assert code == 1
    checks = data["suites"][0]["checks"]
    assert [(c["check"], c["value"], c["passed"]) for c in checks] == [
        ("pass_rate >= 0.9", 0.75, False),
        ("mean(score) >= 0.5", 0.75, True),
        ("p95(latency_ms) <= 60000", checks[2]["value"], True),
    ]
    r = cli(["eval", "--no-log"], cwd=repo.path)
    assert "  pass_rate >= 0.9: 0.75 FAILED" in r.out and "  mean(score) >= 0.5: 0.75 ok" in r.out


def test_repeat_reports_pass_rate_per_case(repo: GitRepo, cli: Any) -> None:
    repo.commit("p", {"prompts/q.prompt": PROMPT, "prompts/q.tests.yaml": suite("PF")})
    code, data = ev(cli, repo, "--repeat", "3")
    assert code == 1
    by = {r["case"]: r for r in data["results"]}
    assert by["c0"]["pass_rate"] == 1.0 and by["c1"]["pass_rate"] == 0.0 and by["c1"]["repeat"] == 3
    r = cli(["eval", "--no-log", "--repeat", "3"], cwd=repo.path)
    assert "PASS    q       c0    echo      1.00   100% of 3" in r.out
    assert "FAIL    q       c1    echo      0.00   0% of 3" in r.out


def test_skipped_cases_and_weight_zero(repo: GitRepo, cli: Any) -> None:
    doc = {
        "providers": ["echo"],
        "cases": [
            {
                "name": "a",
                "vars": {"q": "ok"},
                "assert": [{"contains": "ok"}, {"contains": "zz", "weight": 0}],
            },
            {"name": "b", "vars": {"q": "ok"}, "skip": True, "assert": [{"contains": "zz"}]},
        ],
    }
    repo.commit("p", {"prompts/q.prompt": PROMPT, "prompts/q.tests.yaml": json.dumps(doc)})
    code, data = ev(cli, repo)
    assert code == 0
    assert data["summary"]["skipped"] == 1 and data["summary"]["cases"] == 1
    a = data["results"][0]
    assert a["passed"] and a["score"] == 1.0 and a["assertions"][1]["passed"] is False


def test_junit_xml(repo: GitRepo, cli: Any) -> None:
    repo.commit(
        "p",
        {
            "prompts/q.prompt": PROMPT,
            "prompts/q.tests.yaml": suite("PF", distribution=["pass_rate >= 0.9"]),
        },
    )
    out = repo.path / "reports" / "junit.xml"
    r = cli(["eval", "--no-log", "--junit", str(out)], cwd=repo.path)
    assert r.exit_code == 1
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "3", "0")
    (ts,) = root
    assert ts.get("name") == "q" and ts.get("file") == "prompts/q.tests.yaml"
    cases = {tc.get("name"): tc for tc in ts.iter("testcase")}
    assert set(cases) == {
        "c0 [echo]",
        "c1 [echo]",
        "gate: all_pass",
        "distribution: pass_rate >= 0.9",
    }
    assert cases["c0 [echo]"].find("failure") is None
    fail = cases["c1 [echo]"].find("failure")
    assert fail is not None and fail.get("message") == "contains: does not contain 'ok'"
    assert cases["c1 [echo]"].findtext("system-out") == "Answer: no"
    assert (
        cases["gate: all_pass"].find("failure").get("message")
        == "gate failed: 1 passed, 1 failed, 0 errors"
    )  # type: ignore[union-attr]
    props = {p.get("name"): p.get("value") for p in ts.iter("property")}
    assert props["version"] == "1.0.0" and props["gate_status"] == "failed"


def test_markdown_escapes_model_output(repo: GitRepo, cli: Any) -> None:
    evil = "|### <img src=x> @octocat [c](http://e.x)"
    doc = {
        "providers": ["echo"],
        "cases": [
            {"name": "inj<b>", "vars": {"q": evil}, "assert": [{"equals": "something else"}]}
        ],
    }
    repo.commit("p", {"prompts/q.prompt": PROMPT, "prompts/q.tests.yaml": json.dumps(doc)})
    md = repo.path / "report.md"
    assert cli(["eval", "--no-log", "--markdown", str(md)], cwd=repo.path).exit_code == 1
    text = md.read_text()
    assert text.startswith(
        "### loomgit eval: ❌ failed\n\n1 cases · 0 passed · 1 failed · 0 errors"
    )
    assert "<img" not in text and "<b>" not in text and "@octocat" not in text
    assert "&lt;img" in text and "@&#8203;octocat" in text and "inj&lt;b\\>" in text
    assert "](http" not in text and "\\|\\#\\#\\# &lt;img" in text
    row = next(ln for ln in text.splitlines() if "inj&lt;b\\>" in ln)
    assert row.count(" | ") == 5  # the injected pipe did not add a column


def test_no_suites_and_outside_git(tmp_path: Any, cli: Any) -> None:
    r = cli(["eval"], cwd=tmp_path)
    assert r.exit_code == 0 and r.err.strip() == "no test suites found"
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts/q.prompt").write_text(PROMPT)
    (tmp_path / "prompts/q.tests.yaml").write_text(suite("P"))
    r = cli(["eval"], cwd=tmp_path)  # outside git: runs, records nothing
    assert r.exit_code == 0, r.err
    assert cli(["stats"], cwd=tmp_path).out.startswith("no recorded runs yet")


def _run_in_pty(args: list[str], cwd: Any) -> tuple[int, str]:
    import os
    import pty
    import select
    import subprocess
    import sys
    from pathlib import Path

    exe = str(Path(sys.executable).with_name("loomgit"))
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="140", TERM="xterm")
    proc = subprocess.Popen([exe, *args], cwd=cwd, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    try:
        while select.select([master], [], [], 30)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        proc.wait(30)
    return proc.returncode, out.decode("utf-8", "replace")


@pytest.mark.skipif(not hasattr(__import__("os"), "openpty"), reason="needs a POSIX terminal")
def test_terminal_gets_a_progress_bar_and_a_rich_table(srepo: GitRepo) -> None:
    code, out = _run_in_pty(["eval", "--no-log", "-v"], srepo.path)
    assert code == 1
    assert "6/6" in out  # the progress bar's final state, on stderr
    assert "━" in out and "│" in out  # rich's table
    assert "FAIL" in out and "gate majority_pass failed" in out


def _random_data(rng: Any, depth: int = 0) -> Any:
    leaves = [
        lambda: rng.choice(["", "plain", "naïve — 東京", 'q"uote\\back\nline\ttab\x01', "\u2028"]),
        lambda: rng.randint(-(10**20), 10**20),
        lambda: rng.choice([0.0, -0.0, 1.5, 1e300, 1e-7, float("nan"), float("inf"), -1 / 3]),
        lambda: rng.choice([True, False, None]),
        lambda: rng.choice([Path("a/b"), frozenset()]),  # written as str()
    ]
    if depth > 3 or rng.random() < 0.4:
        return rng.choice(leaves)()
    if rng.random() < 0.5:
        keys = [rng.choice(["k", "é", 'x"y', 1, 2.5, True, False, None, ""]) for _ in range(4)]
        return {k: _random_data(rng, depth + 1) for k in keys[: rng.randint(0, 4)]}
    items = [_random_data(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return tuple(items) if rng.random() < 0.3 else items


def test_the_json_report_is_written_as_json_dumps_writes_it() -> None:
    """The report's own indenting writer gives json.dumps(indent=2)'s exact text."""
    import random

    from loomgit.report.eval_json import _dumps

    rng = random.Random(11)
    for _ in range(3000):
        data = _random_data(rng)
        assert _dumps(data) == json.dumps(data, indent=2, ensure_ascii=False, default=str)
    with pytest.raises(TypeError, match="keys must be"):
        _dumps({(1, 2): "tuple key"})
