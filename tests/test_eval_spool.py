"""Every report an eval writes is the same, byte for byte, however the results are held.

One repository exercises the features that touch the reports: two prompts, cases from a
CSV and a JSON Lines file beside inline ones, `repeat:`, a skipped case, a multi-turn
case with tool calls, a weighted gate, `distribution:` checks, `--compare` (with and
without `--repeat`, so with the significance tests), `--shard` and `report merge`, and the
run records. The answers come from a real OpenAI-shaped server on 127.0.0.1 recorded once,
then replayed with fixed latencies and costs, so every figure is deterministic. The
expected files under tests/fixtures/eval_spool/ were written by loomgit before results
were spooled to disk; regenerate them only for an intended change of a report
(``LOOMGIT_UPDATE_SNAPSHOTS=1``) and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from conftest import GitRepo
from provider_server import FakeAPI, Reply, Req, ok

from loomgit.evals.engine import evaluate
from loomgit.evals.spool import SpooledCases
from loomgit.workspace import Workspace

FIXTURES = Path(__file__).parent / "fixtures" / "eval_spool"

PROMPT_A = """---
model: srv/tiny
params: {temperature: 0}
variables:
  ticket: {type: string, required: true}
---
system:
You triage tickets. {{ 'Be brief.' if version == 2 else 'Be thorough.' }}

user:
{{ ticket }}
"""
PROMPT_B = """---
model: srv/tiny
variables:
  question: {type: string, required: true}
---
user:
Answer: {{ question }}
"""
SUITE_A = """\
providers: [srv/tiny]
gate: {weighted: true, threshold: 0.6}
distribution: ["mean(score) >= 0.4", "p95(latency_ms) <= 900", "error_rate <= 0.5",
               "count(score) >= 3", "max(cost_usd) < 1"]
defaults:
  assert: [{not_contains: "As an AI"}]
cases:
  - name: inline-one
    vars: {ticket: "printer on fire"}
    assert: [{icontains: fire}]
  - name: repeated
    repeat: 3
    weight: 2
    vars: {ticket: "maybe flaky"}
    assert: [{icontains: "yes"}]
  - name: style
    vars: {ticket: "style check"}
    assert: [{not_contains: short}]
  - name: skipped-one
    skip: true
    vars: {ticket: "never sent"}
  - name: order-then-refund
    vars: {ticket: "Where is order A1?"}
    turns:
      - assert: [{tool_called: {name: lookup_order, args: {order_id: A1}}}]
      - name: status
        tool_results: [{name: lookup_order, content: {status: shipped}}]
        assert: [{icontains: shipped}]
      - user: "Thanks. Please refund it."
        assert: [{tool_called: {name: refund}}]
  - file: data/golden.csv
    vars: {ticket: body}
    expected: answer
    name: id
    assert: [{icontains: "{{ expected }}"}, {max_length: 400}]
  - file: data/hard.jsonl
    vars: {ticket: t.body}
    weight: 0.5
    assert: [{regex: "yes|E[0-9]"}]
"""
SUITE_B = """\
providers: [srv/tiny]
gate: majority_pass
cases:
  - name: q1
    vars: {question: "is it yes?"}
    assert: [{icontains: "yes"}]
  - name: q2
    vars: {question: "is it no?"}
    assert: [{icontains: "yes"}]
  - file: data/golden.csv
    vars: {question: body}
    name: id
    assert: [{icontains: E}]
  - file: data/extra.jsonl
    assert: [{icontains: E}]
  - name: boom
    vars: {question: "boom"}
"""
EXTRA = '{"question": "fine E1"}\n{"question": "odd", "priority": "high"}\n'
CSV = "id,body,answer\n" + "".join(
    f't{i},"Ticket {i}: error E{i % 7} on floor {i % 3}",E{i % 7}\n' for i in range(16)
)
JSONL = "".join(json.dumps({"t": {"body": f"hard case {i} E{i}"}}) + "\n" for i in range(4))


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def model(req: Req) -> Reply:
    """A deterministic model: tool calls for the order conversation, else an answer that
    depends on the whole request and on how often that request was asked before."""
    msgs = req.json["messages"]
    last = msgs[-1]
    text = last.get("content") or ""
    if last["role"] == "tool":
        return ok(_answer(f"Your order is {json.loads(text)['status']}."))
    if "boom" in text:
        return Reply(400, {"error": {"message": "bad request: boom"}})
    if "refund" in text:
        return ok(_answer(None, [("call_9", "refund", '{"order_id": "A1", "amount": 20}')]))
    if "order A1" in text:
        return ok(_answer(None, [("call_1", "lookup_order", '{"order_id": "A1"}')]))
    key = json.dumps(msgs, sort_keys=True)
    n = ASKED[key] = ASKED.get(key, -1) + 1
    h = _digest(f"{key}|{n}")
    word = "yes" if h % 3 else "no"
    short = "short " if "brief" in json.dumps(msgs) and "style" in text else ""
    return ok(_answer(f"{short}{word}: {text[:60]} (E{h % 7})"))


ASKED: dict[str, int] = {}


def _answer(content: str | None, calls: list[tuple[str, str, str]] | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        msg["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
            for cid, name, args in calls
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 20 + len(str(content)) * 37,
            "completion_tokens": 5 + len(str(content)) % 11,
        },
    }


def _fix_recordings(root: Path) -> None:
    """Latency of every recorded answer from its file name (the request key)."""
    for path in sorted((root / ".loomgit/recordings").rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        h = _digest(path.name)
        doc["completion"]["latency_ms"] = 100 + (h % 7000) / 8
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _build(repo: GitRepo, api: FakeAPI, cli: Any) -> None:
    entry = {"type": "openai", "base_url": api.base + "/v1", "backoff_s": 0.01}
    files = {
        "loomgit.yaml": "providers:\n  srv: "
        + json.dumps(entry)
        + '\npricing: {"srv/tiny": {input: 0.15, output: 0.6}}\n',
        "prompts/triage.prompt": PROMPT_A.replace("version == 2", "false"),
        "prompts/triage.tests.yaml": SUITE_A,
        "prompts/answer.prompt": PROMPT_B,
        "prompts/answer.tests.yaml": SUITE_B,
        "data/golden.csv": CSV,
        "data/hard.jsonl": JSONL,
        "data/extra.jsonl": EXTRA,
    }
    repo.commit("base", files)
    repo.git("tag", "base")
    repo.commit("head", {"prompts/triage.prompt": PROMPT_A.replace("version == 2", "true")})
    ASKED.clear()
    for args in (
        ["eval", "--record", "--no-log", "--no-cache", "-j", "1", "--repeat", "2"],
        ["eval", "--record", "--no-log", "--no-cache", "-j", "1"],
        ["eval", "--record", "--no-log", "--no-cache", "-j", "1", "--compare", "base"],
        [
            *("eval", "--record", "--no-log", "--no-cache", "-j", "1"),
            *("--compare", "base", "--repeat", "2"),
        ],
    ):
        r = cli(args, cwd=repo.path)
        assert r.exit_code in (0, 1, 3), r.out + r.err
    _fix_recordings(repo.path)
    repo.commit("recordings")
    SHAS[:] = repo.git("rev-list", "--all").split()


SHAS: list[str] = []


def _scrub(text: str) -> str:
    """Wall-clock figures and commit ids (the server's port is in loomgit.yaml) are the
    only things that differ from run to run."""
    for i, sha in enumerate(SHAS):
        text = text.replace(sha, f"commit{i}".ljust(40, "0")).replace(sha[:7], f"commit{i}")
    text = re.sub(r'"duration_s": [0-9.e-]+', '"duration_s": 0', text)
    text = re.sub(r'(<testsuites [^>]*time=")[0-9.]+"', r'\g<1>0"', text)
    text = re.sub(r"· [0-9.]+ s$", "· 0 s", text, flags=re.M)
    text = re.sub(r"\| duration \| [0-9.]+ s", "| duration | 0 s", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "DATE UTC", text)
    return text


def _check(name: str, text: str, tmp: Path | None = None) -> None:
    path = FIXTURES / name
    text = _scrub(text.replace(str(tmp), "TMP") if tmp else text)
    if os.environ.get("LOOMGIT_UPDATE_SNAPSHOTS"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no expected file {path} (LOOMGIT_UPDATE_SNAPSHOTS=1 writes it)"
    want = path.read_text(encoding="utf-8")
    assert text == want, f"{name} differs from the report written before"


RUNS = {
    "eval": [],
    "eval_repeat": ["--repeat", "2"],
    "eval_shard1": ["--shard", "1/2"],
    "eval_shard2": ["--shard", "2/2"],
    "eval_verbose": ["-v"],
    "eval_case": ["--case", "t13", "--case", "repeated"],
    "compare": ["--compare", "base"],
    "compare_repeat": ["--compare", "base", "--repeat", "2"],
    "compare_gate": ["--compare", "base", "--repeat", "2", "--fail-on", "significant_regression"],
}


def test_reports_are_byte_for_byte_the_same(repo: GitRepo, cli: Any, tmp_path: Path) -> None:
    with FakeAPI() as api:
        api.default = model
        _build(repo, api, cli)
        api.default = lambda req: Reply(500, {"error": "offline"})  # replay only
        for name, extra in RUNS.items():
            base = ["eval", "--replay", "--no-log", *extra]
            r = cli([*base, "--json"], cwd=repo.path)
            assert r.exit_code in (0, 1, 3), r.err
            printed = r.out
            _check(f"{name}.json", f"exit {r.exit_code}\n{r.out}")
            out = tmp_path / name
            r = cli(
                [
                    *base,
                    *("-o", f"{out}.out.json", "--junit", f"{out}.xml"),
                    *("--markdown", f"{out}.md"),
                ],
                cwd=repo.path,
            )
            _check(f"{name}.txt", f"exit {r.exit_code}\n{r.out}")
            written = Path(f"{out}.out.json").read_text(encoding="utf-8")
            assert _scrub(written) == _scrub(printed), "-o FILE holds what --json prints"
            for ext in ("xml", "md"):
                _check(f"{name}.{ext}", Path(f"{out}.{ext}").read_text(encoding="utf-8"))
        r = cli(
            [
                *("report", "merge", str(tmp_path / "eval_shard1.out.json")),
                *(str(tmp_path / "eval_shard2.out.json"), "--json"),
            ],
            cwd=repo.path,
        )
        _check("merge.json", f"exit {r.exit_code}\n{r.out}")
        review = tmp_path / "review.html"
        r = cli(
            [
                *("report", "--html", str(review), "--results"),
                *(str(tmp_path / "eval.out.json"), "--results", str(tmp_path / "compare.out.json")),
            ],
            cwd=repo.path,
        )
        assert r.exit_code == 0, r.err
        _check("review.html", review.read_text(encoding="utf-8"))
        ci = tmp_path / "ci" / "report.md"
        for name, extra in (("ci", []), ("ci_repeat", ["--args", "--repeat 2"])):
            r = cli(
                [
                    *("ci", "--base", "base", "--no-comment", "--offline", "true"),
                    *(*extra, "--report", str(ci), "--json"),
                ],
                cwd=repo.path,
            )
            assert r.exit_code in (0, 1, 3), r.err
            _check(f"{name}.json", f"exit {r.exit_code}\n{r.out}", tmp_path)
            _check(f"{name}.md", ci.read_text(encoding="utf-8"))
            for other in sorted(ci.parent.iterdir()):
                if other != ci:
                    _check(f"{name}.{other.name}", other.read_text(encoding="utf-8"))
        r = cli(["eval", "--replay", "--repeat", "2", "--json"], cwd=repo.path)
        assert r.exit_code in (0, 1, 3), r.err
        db = repo.path / ".git/loomgit/runs.sqlite"
        con = sqlite3.connect(db)
        try:
            runs = con.execute(
                "SELECT commit_sha, shard, kind, status, cases, passed, failed, errors, "
                "cost_usd FROM runs"
            ).fetchall()
            rows = con.execute(
                "SELECT prompt, version, content_hash, commit_sha, suite, case_name, "
                "case_status, model, sample, passed, score, latency_ms, input_tokens, "
                "output_tokens, cost_usd, cached, error FROM results ORDER BY id"
            ).fetchall()
        finally:
            con.close()
        _check("records.json", json.dumps({"runs": runs, "results": rows}, indent=1) + "\n")


def test_a_large_suite_is_read_back_from_its_spool(repo: GitRepo, cli: Any, tmp_path: Path) -> None:
    """Results come back from disk in plan order, as often as a report asks, with every
    case counted once; the printed JSON is one document however it was written."""
    n = 300
    repo.commit(
        "a suite of many cases",
        {
            "prompts/p.prompt": "---\nmodel: echo\nvariables:\n  t: {type: string}\n---\n{{ t }}\n",
            "prompts/p.tests.yaml": (
                "providers: [echo]\ngate: majority_pass\n"
                "distribution: ['p50(tokens) >= 0', 'pass_rate >= 0.5']\n"
                "cases:\n  - file: data/d.csv\n    name: id\n    vars: {t: body}\n"
                "    assert: [{icontains: even}]\n"
            ),
            "data/d.csv": "id,body\n"
            + "".join(f"c{i},{'even' if i % 2 == 0 else 'odd'} {i}\n" for i in range(n)),
        },
    )
    report = evaluate(Workspace(repo.path), record=False)
    suite = report.suites[0]
    assert isinstance(suite.cases, SpooledCases) and len(suite.cases) == n
    names = [r.case for r in report.results]
    assert names == [f"c{i}" for i in range(n)]  # plan order, whatever finished first
    assert [r.case for r in report.results] == names  # and again
    assert suite.counts() == {"passed": n // 2, "failed": n // 2, "error": 0, "skipped": 0}
    assert suite.gate_status == "failed" and suite.check_status == [True, True]
    junit, out = tmp_path / "j.xml", tmp_path / "o.json"
    r = cli(
        ["eval", "--json", "--no-log", "-j", "8", "-o", str(out), "--junit", str(junit)],
        cwd=repo.path,
    )
    assert r.exit_code == 1, r.err
    data = json.loads(r.out)
    assert [x["case"] for x in data["results"]] == names
    assert data["summary"]["cases"] == n and data["suites"][0]["failed"] == n // 2
    assert json.loads(out.read_text(encoding="utf-8"))["results"] == data["results"]
    assert junit.read_text(encoding="utf-8").count("<testcase ") == n + 1 + 2  # gate, checks
