"""``loomgit run`` end to end: a CSV of reviews through a sentiment prompt against a local
OpenAI-compatible server (a real HTTP server on 127.0.0.1), quarantine with reasons,
errors retried by --resume, budgets, pipelines, and a real subprocess killed midway."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo

ROOT = Path(__file__).resolve().parent.parent
POSITIVE = ("great", "love", "excellent", "good")


class SentimentServer:
    """OpenAI-compatible chat completions that classify the last user message.

    ``BROKEN`` in a review gives an answer that is not JSON, ``WEIRD`` one outside the
    schema's enum. ``fail`` makes every request a 500; ``delay`` slows each answer."""

    def __init__(self) -> None:
        self.fail = False
        self.delay = 0.0
        self.requests = 0
        self.phase = "first"
        self.seen: list[tuple[str, str]] = []  # (phase, last user message)
        self.lock = threading.Lock()
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with srv.lock:
                    srv.requests += 1
                    srv.seen.append((srv.phase, body["messages"][-1]["content"]))
                if srv.delay:
                    time.sleep(srv.delay)
                if srv.fail:
                    data = b'{"error": {"message": "the model is down", "type": "server_error"}}'
                    self.send_response(500)
                else:
                    text = body["messages"][-1]["content"]
                    if "BROKEN" in text:
                        answer = "I think it is positive"
                    elif "WEIRD" in text:
                        answer = json.dumps({"sentiment": "meh"})
                    else:
                        s = "positive" if any(w in text.lower() for w in POSITIVE) else "negative"
                        answer = json.dumps({"sentiment": s})
                    data = json.dumps(
                        {
                            "id": "c1",
                            "object": "chat.completion",
                            "model": body.get("model"),
                            "choices": [
                                {
                                    "index": 0,
                                    "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": answer},
                                }
                            ],
                            "usage": {
                                "prompt_tokens": 20 + len(text.split()),
                                "completion_tokens": 6,
                                "total_tokens": 26 + len(text.split()),
                            },
                        }
                    ).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client killed mid-request (the point of some tests)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server() -> Iterator[SentimentServer]:
    s = SentimentServer()
    yield s
    s.close()


SENTIMENT = """---
description: Sentiment of a product review
model: local/senti
params: {temperature: 0, max_tokens: 20}
variables:
  review: {type: string}
  stars: {type: integer, required: false, default: 0}
output:
  format: json
  schema:
    type: object
    required: [sentiment]
    properties:
      sentiment: {enum: [positive, negative, neutral]}
sample: {review: "Great kettle"}
---
system:
Classify the sentiment of the review. Answer with JSON {"sentiment": "positive|negative|neutral"}.

user:
{{ review }}
"""

REVIEWS = (
    b"id,text,stars\n"
    b"1,Great kettle love it,5\n"
    b"2,Broke after a week,1\n"
    b"3,BROKEN answer please,3\n"
    b"4,WEIRD one,3\n"
    b"5,short row\n"
    b'6,"bad \xff byte",2\n'
    b"7,Excellent value,x\n"
    b'8,"meh, fine",\n'
)


def config(url: str, extra: str = "") -> str:
    return (
        f'providers:\n  local: {{type: openai, base_url: "{url}", retries: 0, '
        "breaker_failures: 1000, max_concurrency: 16}\n"
        'pricing:\n  "local/*": {input: 1.0, output: 2.0}\n' + extra
    )


@pytest.fixture
def reviews_repo(repo: GitRepo, server: SentimentServer) -> GitRepo:
    repo.commit(
        "sentiment prompt and reviews",
        {
            "loomgit.yaml": config(server.url),
            "prompts/reviews/sentiment.prompt": SENTIMENT,
            "data/reviews.csv": REVIEWS,
        },
    )
    return repo


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def run_json(cli: Any, args: list[str], cwd: Path) -> tuple[int, dict[str, Any], str]:
    r = cli(["run", *args, "--json"], cwd=cwd)
    try:
        data = json.loads(r.out)
    except json.JSONDecodeError:
        raise AssertionError(f"exit {r.exit_code}: {r.out}\n{r.err}") from None
    return r.exit_code, data, r.err


def test_csv_of_reviews_runs_with_quarantine_reasons_and_lineage(
    reviews_repo: GitRepo, cli: Any
) -> None:
    code, s, _ = run_json(
        cli,
        [
            "reviews/sentiment",
            "--input",
            "data/reviews.csv",
            "--map",
            "review=text",
            "--output",
            "out/reviews.jsonl",
        ],
        reviews_repo.path,
    )
    assert code == 0
    c = s["counts"]
    assert (c["records"], c["ok"], c["quarantined"], c["errors"], c["not_run"]) == (8, 3, 5, 0, 0)
    assert c["records"] == c["ok"] + c["quarantined"] + c["errors"]
    out = {r["index"]: r for r in lines(reviews_repo.path / "out/reviews.jsonl")}
    assert sorted(out) == [1, 2, 8]
    assert out[1]["json"] == {"sentiment": "positive"}
    assert out[2]["json"] == {"sentiment": "negative"}
    assert out[8]["input"] == {"id": "8", "text": "meh, fine", "stars": ""}
    head = reviews_repo.git("rev-parse", "HEAD")
    lin = out[1]["lineage"]
    assert {k: lin[k] for k in ("prompt", "version", "commit", "model", "params")} == {
        "prompt": "reviews/sentiment",
        "version": "1.0.0",
        "commit": head,
        "model": "local/senti",
        "params": {"temperature": 0, "max_tokens": 20},
    }
    assert len(lin["content_hash"]) == 64 and lin["run_id"] == s["run_id"]
    assert lin["tokens"] == {"input": 24, "output": 6}
    assert lin["cost_usd"] == pytest.approx((24 * 1.0 + 6 * 2.0) / 1e6)
    assert lin["latency_ms"] > 0
    q = {r["index"]: r for r in lines(reviews_repo.path / "out/reviews.quarantine.jsonl")}
    assert {i: (r["kind"], r["stage"], r["reason"]) for i, r in q.items()} == {
        3: ("quarantine", "json", "output is not valid JSON (Expecting value)"),
        4: (
            "quarantine",
            "schema",
            "output does not match the prompt's schema: $.sentiment: "
            "'meh' is not one of ['positive', 'negative', 'neutral']",
        ),
        5: ("quarantine", "read", "missing column(s) 'stars' (the row has 2 of 3 fields)"),
        6: ("quarantine", "read", "not valid UTF-8 (byte 0xff in column 'text')"),
        7: ("quarantine", "variables", "column 'stars': 'x' is not a whole number"),
    }
    assert q[5]["source"] == "data/reviews.csv:6" and q[5]["raw"] == "5,short row"
    assert q[3]["output"] == "I think it is positive" and "lineage" in q[3]
    assert s["reasons"] == {"read": 2, "json": 1, "schema": 1, "variables": 1}
    assert s["pass_rate"] == pytest.approx(3 / 5)
    assert not (reviews_repo.path / "out/reviews.jsonl.checkpoint.json").exists()


def test_text_summary_says_the_counts_add_up(reviews_repo: GitRepo, cli: Any) -> None:
    r = cli(
        [
            "run",
            "reviews/sentiment",
            "-i",
            "data/reviews.csv",
            "--map",
            "review=text",
            "-o",
            "out/r.jsonl",
        ],
        cwd=reviews_repo.path,
    )
    assert r.exit_code == 0, r.err
    assert "counts: 8 = 3 ok + 5 quarantined + 0 errors" in r.out
    assert "quarantined at: read 2, json 1, schema 1, variables 1" in r.out


def test_inline_and_suite_assertions_gate_each_record(reviews_repo: GitRepo, cli: Any) -> None:
    reviews_repo.commit(
        "suite",
        {
            "prompts/reviews/sentiment.tests.yaml": "defaults:\n  assert: [{not_contains: negative}]\n"
            "cases:\n  - vars: {review: good}\n"
        },
    )
    code, s, _ = run_json(
        cli,
        [
            "reviews/sentiment",
            "-i",
            "data/reviews.csv",
            "--map",
            "review=text",
            "-o",
            "out/a.jsonl",
            "--assert",
            "icontains: sentiment",
        ],
        reviews_repo.path,
    )
    assert code == 0
    assert s["counts"]["ok"] == 1  # only the positive review passes not_contains: negative
    q = {r["index"]: r for r in lines(reviews_repo.path / "out/a.quarantine.jsonl")}
    assert q[2]["stage"] == "assertions"
    assert q[2]["reason"].startswith("not_contains: ")
    assert [a["type"] for a in q[2]["assertions"]] == ["icontains", "not_contains"]
    assert [a["passed"] for a in q[2]["assertions"]] == [True, False]
    assert q[2]["score"] == 0.5, q[2]
    ok = lines(reviews_repo.path / "out/a.jsonl")
    assert ok[0]["score"] == 1.0
    # a weighted gate lets a record through on its mean score
    code, s, _ = run_json(
        cli,
        [
            "reviews/sentiment",
            "-i",
            "data/reviews.csv",
            "--map",
            "review=text",
            "-o",
            "out/w.jsonl",
            "--assert",
            "icontains: sentiment",
            "--gate",
            "{weighted: true, threshold: 0.5}",
        ],
        reviews_repo.path,
    )
    assert code == 0 and s["counts"]["ok"] == 3
    # scored: the three answers that reached the assertions (1 passes both, 2 and 8 one)
    assert s["mean_score"] == pytest.approx((1.0 + 0.5 + 0.5) / 3)
    # --no-suite: only the inline assertion
    code, s, _ = run_json(
        cli,
        [
            "reviews/sentiment",
            "-i",
            "data/reviews.csv",
            "--map",
            "review=text",
            "-o",
            "out/b.jsonl",
            "--assert",
            "icontains: sentiment",
            "--no-suite",
        ],
        reviews_repo.path,
    )
    assert s["counts"]["ok"] == 3


def test_bad_usage_is_one_line_and_exit_2_before_writing(reviews_repo: GitRepo, cli: Any) -> None:
    p = reviews_repo.path
    base = ["run", "reviews/sentiment", "-i", "data/reviews.csv", "-o", "out/x.jsonl"]
    r = cli(base, cwd=p)
    assert r.exit_code == 2
    assert r.err.strip() == (
        "loomgit: error: data/reviews.csv: no column for required "
        "variable(s) review (columns: id, text, stars); add --map "
        "VARIABLE=COLUMN"
    )
    reviews_repo.write({"data/r.jsonl": '{"id": 1, "text": "good"}\n{"id": 2}\nbroken\n'})
    r = cli(["run", "reviews/sentiment", "-i", "data/r.jsonl", "-o", "out/x.jsonl"], cwd=p)
    assert r.exit_code == 2
    assert r.err.strip() == (
        "loomgit: error: data/r.jsonl: none of the first 2 record(s) has a "
        "field for required variable(s) review (fields: id, text); add "
        "--map VARIABLE=FIELD"
    )
    r = cli([*base, "--map", "review=txt"], cwd=p)
    assert r.exit_code == 2
    assert r.err.strip() == (
        "loomgit: error: data/reviews.csv:1: no column(s) 'txt' in the "
        "CSV header (columns: id, text, stars)"
    )
    r = cli([*base, "--map", "revew=text"], cwd=p)
    assert r.exit_code == 2 and "has no variable(s) revew" in r.err
    r = cli([*base, "--map", "review=text", "--assert", "{containz: x}"], cwd=p)
    assert r.exit_code == 2 and "unknown assertion 'containz'" in r.err
    r = cli(["run", "reviews/sentiment", "-i", "data/nope.csv", "-o", "out/x.jsonl"], cwd=p)
    assert r.exit_code == 2 and r.err.strip() == "loomgit: error: data/nope.csv: no such file"
    r = cli(
        [
            "run",
            "reviews/sentiment",
            "-i",
            "data/reviews.csv",
            "-o",
            "data/reviews.csv",
            "--map",
            "review=text",
        ],
        cwd=p,
    )
    assert r.exit_code == 2 and "is the input file" in r.err
    r = cli([*base, "--map", "review=text", "--model", "openai/gpt-4o-mini"], cwd=p)
    assert r.exit_code == 2 and "OPENAI_API_KEY" in r.err  # before any record, not per record
    assert not (p / "out").exists()  # nothing was written by any of these
    assert "Traceback" not in r.err


def test_existing_output_needs_resume_or_overwrite(reviews_repo: GitRepo, cli: Any) -> None:
    p = reviews_repo.path
    args = [
        "reviews/sentiment",
        "-i",
        "data/reviews.csv",
        "--map",
        "review=text",
        "-o",
        "out/r.jsonl",
    ]
    assert cli(["run", *args], cwd=p).exit_code == 0
    before = (p / "out/r.jsonl").read_bytes()
    r = cli(["run", *args], cwd=p)
    assert r.exit_code == 2
    assert "out/r.jsonl already exists; pass --resume" in r.err
    assert (p / "out/r.jsonl").read_bytes() == before
    r = cli(["run", *args, "--resume"], cwd=p)
    assert r.exit_code == 2 and "nothing to resume" in r.err
    code, s, _ = run_json(cli, [*args, "--overwrite"], p)
    assert code == 0 and s["counts"]["ok"] == 3 and len(lines(p / "out/r.jsonl")) == 3


def test_provider_errors_stop_the_run_and_resume_retries_them(
    reviews_repo: GitRepo, cli: Any, server: SentimentServer
) -> None:
    p = reviews_repo.path
    many = b"id,text\n" + b"".join(b"%d,good thing %d\n" % (i, i) for i in range(1, 41))
    reviews_repo.write({"data/many.csv": many})
    args = [
        "reviews/sentiment",
        "-i",
        "data/many.csv",
        "--map",
        "review=text",
        "-o",
        "out/m.jsonl",
        "-j",
        "2",
    ]
    server.fail = True
    code, s, _ = run_json(cli, args, p)
    assert code == 3
    assert s["stopped"] == "provider" and "provider errors in a row" in s["stop_detail"]
    assert s["counts"]["errors"] >= 10 and s["counts"]["ok"] == 0
    errs = lines(p / "out/m.quarantine.jsonl")
    assert errs and all(e["kind"] == "error" and e["stage"] == "model" for e in errs)
    assert "the model is down" in errs[0]["reason"]
    assert (p / "out/m.jsonl.checkpoint.json").exists()
    server.fail = False
    code, s, _ = run_json(cli, [*args, "--resume"], p)
    assert code == 0, s
    c = s["counts"]
    assert (c["records"], c["ok"], c["quarantined"], c["errors"]) == (40, 40, 0, 0)
    assert c["retried"] == len(errs)
    assert sorted(r["index"] for r in lines(p / "out/m.jsonl")) == list(range(1, 41))
    assert lines(p / "out/m.quarantine.jsonl") == []
    assert not (p / "out/m.jsonl.checkpoint.json").exists()


def test_budget_stops_before_it_is_exceeded_and_resume_continues(
    reviews_repo: GitRepo, cli: Any
) -> None:
    p = reviews_repo.path
    many = b"id,text\n" + b"".join(b"%d,good thing %d\n" % (i, i) for i in range(1, 31))
    reviews_repo.write({"data/many.csv": many})
    args = [
        "reviews/sentiment",
        "-i",
        "data/many.csv",
        "--map",
        "review=text",
        "-o",
        "out/b.jsonl",
        "-j",
        "1",
    ]
    # worst case per record: ~40 input tokens x $1/M + 20 max_tokens x $2/M, about $0.00008
    code, s, _ = run_json(cli, [*args, "--budget", "0.0008"], p)
    assert code == 1
    assert s["stopped"] == "budget" and "over the budget of $0.0008" in s["stop_detail"]
    assert 0 < s["counts"]["ok"] < 30
    assert s["cost_usd"] <= 0.0008
    assert s["counts"]["not_run"] == s["counts"]["records"] - s["counts"]["ok"]
    code, s2, _ = run_json(cli, [*args, "--resume", "--budget", "1"], p)
    assert code == 0 and s2["counts"]["ok"] == 30 and s2["counts"]["resumed"] == s["counts"]["ok"]
    assert s2["cost_usd"] == pytest.approx(
        sum(r["lineage"]["cost_usd"] for r in lines(p / "out/b.jsonl"))
    )


def test_budget_without_a_price_is_refused(
    reviews_repo: GitRepo, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    r = cli(
        [
            "run",
            "reviews/sentiment",
            "-i",
            "data/reviews.csv",
            "--map",
            "review=text",
            "-o",
            "out/x.jsonl",
            "--budget",
            "1",
            "--model",
            "openai/not-a-priced-model",
        ],
        cwd=reviews_repo.path,
    )
    assert r.exit_code == 2
    assert r.err.strip() == (
        "loomgit: error: no price known for openai/not-a-priced-model, so "
        "the budget cannot be enforced; add it under 'pricing:' in "
        "loomgit.yaml"
    )
    assert not (reviews_repo.path / "out").exists()


def test_resume_refuses_a_changed_prompt(
    reviews_repo: GitRepo, cli: Any, server: SentimentServer
) -> None:
    p = reviews_repo.path
    args = [
        "reviews/sentiment",
        "-i",
        "data/reviews.csv",
        "--map",
        "review=text",
        "-o",
        "out/r.jsonl",
    ]
    server.fail = True
    assert cli(["run", *args], cwd=p).exit_code == 3
    (p / "prompts/reviews/sentiment.prompt").write_text(SENTIMENT.replace("Classify", "Judge"))
    r = cli(["run", *args, "--resume"], cwd=p)
    assert r.exit_code == 2
    assert "cannot resume: the prompt's content changed since the run started" in r.err


def test_a_torn_last_line_is_cut_and_its_record_redone(
    reviews_repo: GitRepo, cli: Any, server: SentimentServer
) -> None:
    p = reviews_repo.path
    args = [
        "reviews/sentiment",
        "-i",
        "data/reviews.csv",
        "--map",
        "review=text",
        "-o",
        "out/r.jsonl",
    ]
    server.fail = True
    cli(["run", *args], cwd=p)
    server.fail = False
    # what a crash in the middle of a write would leave
    with open(p / "out/r.jsonl", "ab") as f:
        f.write(b'{"index": 1, "line": 2, "input": {"id": "1", "te')
    code, s, err = run_json(cli, [*args, "--resume"], p)
    assert code == 0
    assert "cut 1 half-written line(s)" in err
    out = lines(p / "out/r.jsonl")
    assert sorted(r["index"] for r in out) == [1, 2, 8]


def test_pipeline_file_runs_declaratively(reviews_repo: GitRepo, cli: Any) -> None:
    p = reviews_repo.path
    reviews_repo.commit(
        "pipeline",
        {
            "pipelines/reviews.yaml": (
                "description: Sentiment of product reviews\n"
                "prompt: reviews/sentiment@1.0.0\n"
                "input: data/reviews.csv\n"
                "map: {review: text}\n"
                "concurrency: 3\n"
                "assert:\n  - icontains: sentiment\n"
                "output: out/pipe.jsonl\n"
                "budget: 1.00\n"
            )
        },
    )
    r = cli(["check", "pipelines/reviews.yaml"], cwd=p)
    assert r.exit_code == 0 and r.out == ""
    sub = p / "data"
    code, s, _ = run_json(cli, ["--pipeline", "reviews"], sub)  # paths are from the root
    assert code == 0
    assert s["pipeline"] == "reviews" and s["version"] == "1.0.0"
    assert s["counts"]["ok"] == 3
    out = lines(p / "out/pipe.jsonl")
    assert out[0]["lineage"]["pipeline"] == "reviews"
    assert len(lines(p / "out/pipe.quarantine.jsonl")) == 5


def test_cost_before_lineage_and_report_after(
    reviews_repo: GitRepo, cli: Any, tmp_path: Path
) -> None:
    p = reviews_repo.path
    r = cli(
        ["cost", "reviews/sentiment", "-i", "data/reviews.csv", "--map", "review=text", "--json"],
        cwd=p,
    )
    assert r.exit_code == 0, r.err
    est = json.loads(r.out)
    assert (est["records"], est["skipped"]) == (5, 3)
    m = est["models"][0]
    assert m["model"] == "local/senti" and m["output_basis"] == "max_tokens"
    assert m["output_tokens"] == 5 * 20
    assert m["cost_usd"] == pytest.approx((m["input_tokens"] * 1.0 + 100 * 2.0) / 1e6, abs=1e-6)
    r = cli(
        [
            "cost",
            "reviews/sentiment",
            "-i",
            "data/reviews.csv",
            "--map",
            "review=text",
            "--budget",
            "0.0001",
        ],
        cwd=p,
    )
    assert r.exit_code == 1 and "over budget" in r.out

    assert (
        cli(
            [
                "run",
                "reviews/sentiment",
                "-i",
                "data/reviews.csv",
                "--map",
                "review=text",
                "-o",
                "out/r.jsonl",
            ],
            cwd=p,
        ).exit_code
        == 0
    )
    # after a run, cost uses the recorded average output (6 tokens), not max_tokens
    r = cli(
        ["cost", "reviews/sentiment", "-i", "data/reviews.csv", "--map", "review=text", "--json"],
        cwd=p,
    )
    m = json.loads(r.out)["models"][0]
    assert m["output_basis"] == "recorded" and m["output_tokens"] == 5 * 6

    r = cli(["lineage", "reviews/sentiment", "--json"], cwd=p)
    assert r.exit_code == 0, r.err
    lin = json.loads(r.out)
    v = lin["versions"][0]
    assert v["version"] == "1.0.0" and v["bump"] == "initial"
    assert v["runs"]["batch_runs"] == 1 and v["runs"]["records"] == 8
    assert v["runs"]["pass_rate"] == pytest.approx(3 / 5)
    assert v["runs"]["models"] == ["local/senti"]
    assert lin["batch"][0]["ok"] == 3 and lin["batch"][0]["status"] == "complete"
    assert lin["promotions"] == []
    assert cli(["promote", "reviews/sentiment", "1.0.0", "--to", "staging"], cwd=p).exit_code == 0
    r = cli(["lineage", "reviews/sentiment", "--json"], cwd=p)
    lin = json.loads(r.out)
    assert lin["stages"] == {"staging": "1.0.0", "production": None}
    assert lin["stage_details"]["staging"]["source_commit"] == reviews_repo.git("rev-parse", "HEAD")
    assert [(x["stage"], x["version"]) for x in lin["promotions"]] == [("staging", "1.0.0")]
    assert lin["versions"][0]["stages"] == ["staging"]
    r = cli(["lineage", "reviews/sentiment"], cwd=p)
    assert "  staging: 1.0.0 from " in r.out and "staging <- 1.0.0  promoted by" in r.out
    assert "local/senti" in r.out

    html = tmp_path / "report.html"
    r = cli(["report", "--html", str(html)], cwd=p)
    assert r.exit_code == 0, r.err
    page = html.read_text(encoding="utf-8")
    assert "reviews/sentiment" in page and "<svg" in page and "1.0.0" in page
    assert ">staging</text>" in page  # the stage flag on the timeline
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in page


# -- a real process, killed ------------------------------------------------------------


def _loomgit_cmd() -> list[str]:
    return [sys.executable, "-m", "loomgit"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _wait_for_lines(path: Path, n: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(
                f"loomgit ended early: {proc.returncode}: "
                f"{proc.stderr.read().decode() if proc.stderr else ''}"
            )
        time.sleep(0.02)
    raise AssertionError("no progress")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_a_run_killed_midway_resumes_without_redoing_or_losing_records(
    reviews_repo: GitRepo, server: SentimentServer, how: str
) -> None:
    p = reviews_repo.path
    n = 120
    rows = b"id,text\n" + b"".join(
        b"%d,%s review %d\n" % (i, b"good" if i % 3 else b"bad", i) for i in range(1, n + 1)
    )
    reviews_repo.write({"data/big.csv": rows})
    server.delay = 0.02
    args = [
        *_loomgit_cmd(),
        "run",
        "reviews/sentiment",
        "-i",
        "data/big.csv",
        "--map",
        "review=text",
        "-o",
        "out/big.jsonl",
        "-j",
        "4",
        "--json",
    ]
    proc = subprocess.Popen(args, cwd=p, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_lines(p / "out/big.jsonl", 20, proc)
        proc.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if how == "SIGINT":
        assert proc.returncode == 130, err
        s = json.loads(out)
        assert s["stopped"] == "interrupted" and s["status"] == "interrupted"
    else:
        assert proc.returncode == -signal.SIGKILL
    first = lines(p / "out/big.jsonl")
    assert 20 <= len(first) < n
    server.delay = 0.0
    server.phase = "resume"
    done = subprocess.run([*args, "--resume"], cwd=p, env=_env(), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    s = json.loads(done.stdout)
    assert s["counts"]["ok"] == n and s["counts"]["resumed"] == len(first)
    final = lines(p / "out/big.jsonl")
    indexes = [r["index"] for r in final]
    assert sorted(indexes) == list(range(1, n + 1))  # each record exactly once
    assert final[: len(first)] == first  # finished records were kept as they were
    # nothing finished is asked again; everything unfinished is (a request the killed
    # process had already sent may still arrive late: it is for an unfinished record)
    asked_again = [t for ph, t in server.seen if ph == "resume"]
    finished = {r["input"]["text"] for r in first}
    assert not finished & set(asked_again)
    assert set(asked_again) == {r["input"]["text"] for r in final} - finished
    for r in final:
        want = "negative" if r["index"] % 3 == 0 else "positive"
        assert r["json"] == {"sentiment": want}


def test_cost_of_a_suite_counts_cases_times_repeat(reviews_repo: GitRepo, cli: Any) -> None:
    reviews_repo.commit(
        "suite",
        {
            "prompts/reviews/sentiment.tests.yaml": (
                "repeat: 2\ncases:\n  - vars: {review: good}\n"
                "  - vars: {review: bad}\n    repeat: 3\n  - vars: {review: x, stars: many}\n"
            )
        },
    )
    r = cli(
        ["cost", "reviews/sentiment", "--cases", "--model", "openai/gpt-4o-mini", "--json"],
        cwd=reviews_repo.path,
    )
    assert r.exit_code == 0, r.err
    est = json.loads(r.out)
    assert (est["records"], est["skipped"]) == (5, 1)
    assert "variable 'stars' must be of type integer" in est["problems"][0]
    m = est["models"][0]
    assert m["price_per_1m"] == {"input": 0.15, "output": 0.6}
    assert m["cost_usd"] == pytest.approx((m["input_tokens"] * 0.15 + 5 * 20 * 0.6) / 1e6, abs=1e-6)


def test_standard_input(reviews_repo: GitRepo) -> None:
    proc = subprocess.run(
        [*_loomgit_cmd(), "run", "reviews/sentiment", "-i", "-", "-o", "out/s.jsonl", "--json"],
        cwd=reviews_repo.path,
        env=_env(),
        input=b'{"review": "great"}\nnot json\n',
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["counts"]["ok"] == 1
    q = lines(reviews_repo.path / "out/s.quarantine.jsonl")
    assert q[0]["source"] == "<stdin>:2"


def test_two_runs_cannot_write_the_same_files(reviews_repo: GitRepo, cli: Any) -> None:
    from loomgit.batch.outputs import RunLock

    p = reviews_repo.path
    held = RunLock(p / "out" / "r.jsonl")  # as a run in another process would
    try:
        r = cli(
            [
                "run",
                "reviews/sentiment",
                "-i",
                "data/reviews.csv",
                "--map",
                "review=text",
                "-o",
                "out/r.jsonl",
            ],
            cwd=p,
        )
    finally:
        held.close()
    assert r.exit_code == 2
    assert r.err.strip() == (
        "loomgit: error: out/r.jsonl: another loomgit run is writing this "
        "file; wait for it or stop it first"
    )
    assert (
        cli(
            [
                "run",
                "reviews/sentiment",
                "-i",
                "data/reviews.csv",
                "--map",
                "review=text",
                "-o",
                "out/r.jsonl",
            ],
            cwd=p,
        ).exit_code
        == 0
    )
