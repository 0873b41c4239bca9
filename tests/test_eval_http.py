"""`loomgit eval` against a real OpenAI-compatible server on 127.0.0.1 (bench/mock_openai.py):
flaky servers, a server that is down, repeats and the response cache, judges and
embeddings through the same server, run records and `stats`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ROOT, GitRepo

sys.path.insert(0, str(ROOT / "bench"))
from mock_openai import MockOpenAI  # noqa: E402

PROMPT = """---
model: mock/tiny
params: {temperature: 0}
variables:
  ticket: {type: string}
---
system:
You are an on-call assistant.

user:
Summarize: {{ ticket }}
"""


def suite(n: int, **extra: Any) -> str:
    doc = {
        "cases": [
            {
                "name": f"c{i}",
                "vars": {"ticket": f"printer {i} is on fire"},
                "assert": [{"icontains": "PRINTER"}, {"contains": f"printer {i} "}],
            }
            for i in range(n)
        ],
        **extra,
    }
    return json.dumps(doc)


def config(url: str, **settings: Any) -> str:
    entry = ", ".join(
        f"{k}: {v}" for k, v in {"type": "openai", "base_url": f'"{url}"', **settings}.items()
    )
    return f"providers:\n  mock: {{{entry}}}\n"


@pytest.fixture
def server() -> Iterator[MockOpenAI]:
    with MockOpenAI(seed=7) as srv:
        yield srv


@pytest.fixture
def eval_repo(repo: GitRepo, server: MockOpenAI) -> GitRepo:
    repo.commit(
        "a prompt and its suite",
        {
            "loomgit.yaml": config(server.url, backoff_s=0.01, breaker_failures=50),
            "prompts/triage.prompt": PROMPT,
            "prompts/triage.tests.yaml": suite(20),
        },
    )
    return repo


def run_json(cli: Any, repo: GitRepo, *args: str) -> tuple[int, dict[str, Any], str]:
    r = cli(["eval", "--json", *args], cwd=repo.path)
    return r.exit_code, json.loads(r.out) if r.out else {}, r.err


def test_suite_passes_against_a_local_server(
    eval_repo: GitRepo, server: MockOpenAI, cli: Any
) -> None:
    r = cli(["eval", "-v"], cwd=eval_repo.path)
    assert r.exit_code == 0, r.out + r.err
    assert server.requests == 20
    lines = r.out.splitlines()
    assert lines[0].split() == ["result", "prompt", "case", "provider", "score", "latency", "why"]
    assert sum(ln.startswith("PASS    triage  ") for ln in lines) == 20
    assert (
        "triage 1.0.0: gate all_pass passed (20 passed, 0 failed, 0 errors, 100% passed)" in r.out
    )
    assert lines[-1].startswith(
        "passed: 20 cases, 20 passed, 0 failed, 0 errors · pass rate 100.0% · $0.0000 · "
    )


def test_json_shape(eval_repo: GitRepo, cli: Any) -> None:
    code, data, _ = run_json(cli, eval_repo, "--case", "c3")
    assert code == 0
    s = data["summary"]
    assert {k: s[k] for k in ("cases", "passed", "failed", "errors", "pass_rate", "gate")} == {
        "cases": 1,
        "passed": 1,
        "failed": 0,
        "errors": 0,
        "pass_rate": 1.0,
        "gate": "passed",
    }
    assert isinstance(s["duration_s"], float) and s["cost_usd"] == 0.0
    (r,) = data["results"]
    assert set(r) >= {
        "prompt",
        "version",
        "case",
        "provider",
        "output",
        "passed",
        "score",
        "assertions",
        "latency_ms",
        "tokens",
        "cost_usd",
        "error",
    }
    assert (r["prompt"], r["version"], r["case"], r["provider"]) == (
        "triage",
        "1.0.0",
        "c3",
        "mock/tiny",
    )
    assert r["output"] == "Mock answer: Summarize: printer 3 is on fire"
    assert r["passed"] is True and r["score"] == 1.0 and r["error"] is None
    assert r["tokens"]["input"] > 0 and r["tokens"]["output"] > 0
    assert [a["type"] for a in r["assertions"]] == ["icontains", "contains"]
    assert data["suites"][0]["gate"] == "all_pass" and data["suites"][0]["gate_status"] == "passed"


@pytest.mark.parametrize("status", [429, 500])
def test_flaky_server_every_case_scored_or_an_error(
    eval_repo: GitRepo, server: MockOpenAI, cli: Any, status: int
) -> None:
    server.fail_rate, server.fail_status = 0.3, status
    eval_repo.write({"prompts/triage.tests.yaml": suite(60)})
    code, data, err = run_json(cli, eval_repo, "-j", "6", "--no-cache")
    assert server.failures > 5, "the server did fail on purpose"
    results = data["results"]
    assert sorted(r["case"] for r in results) == sorted(f"c{i}" for i in range(60))  # nothing lost
    for r in results:
        assert r["status"] in ("passed", "error"), r
        assert (r["output"] is not None) == (r["status"] == "passed")
        assert (r["error"] is not None) == (r["status"] == "error")
    s = data["summary"]
    assert s["passed"] + s["errors"] == 60 and s["failed"] == 0
    assert s["passed"] >= 55  # retries recovered (nearly) all of them
    assert code == (0 if s["errors"] == 0 else 3)


def test_server_down_exits_3_in_seconds_with_one_line(repo: GitRepo, cli: Any) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    repo.commit(
        "suite",
        {
            "loomgit.yaml": config(f"http://127.0.0.1:{port}/v1"),
            "prompts/triage.prompt": PROMPT,
            "prompts/triage.tests.yaml": suite(30),
        },
    )
    t0 = time.monotonic()
    r = cli(["eval"], cwd=repo.path)
    took = time.monotonic() - t0
    assert r.exit_code == 3
    assert took < 15, f"took {took:.1f} s"
    assert r.out == ""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith(
        "loomgit: error: 30 of 30 cases could not run: mock/tiny: cannot connect"
    )
    code, data, _ = run_json(cli, repo)
    assert code == 3 and data["summary"]["errors"] == 30 and data["summary"]["gate"] == "error"


def test_missing_api_key_stops_before_any_call(repo: GitRepo, cli: Any) -> None:
    repo.commit(
        "suite",
        {
            "prompts/triage.prompt": PROMPT.replace("mock/tiny", "openai/gpt-4o-mini"),
            "prompts/triage.tests.yaml": suite(3),
        },
    )
    r = cli(["eval"], cwd=repo.path)
    assert r.exit_code == 2
    assert r.err.startswith(
        "loomgit: error: openai/gpt-4o-mini: no API key: set the environment "
        "variable OPENAI_API_KEY"
    )


def test_repeat_samples_are_cached_apart(eval_repo: GitRepo, server: MockOpenAI, cli: Any) -> None:
    eval_repo.write({"prompts/triage.tests.yaml": suite(4)})
    code, data, _ = run_json(cli, eval_repo, "--repeat", "3")
    assert code == 0 and server.requests == 12  # 3 distinct samples per case
    r = data["results"][0]
    assert r["repeat"] == 3 and r["pass_rate"] == 1.0 and len(r["samples"]) == 3
    assert [s["sample"] for s in r["samples"]] == [0, 1, 2]
    assert not any(s["cached"] for s in r["samples"])
    code, data, _ = run_json(cli, eval_repo, "--repeat", "3")  # all 12 answers from the cache
    assert code == 0 and server.requests == 12
    assert all(s["cached"] for r in data["results"] for s in r["samples"])
    code, data, _ = run_json(cli, eval_repo, "--repeat", "4")  # only the new sample is asked
    assert server.requests == 16
    code, data, _ = run_json(cli, eval_repo, "--repeat", "2", "--no-cache")
    assert server.requests == 24


def test_judge_prompt_is_a_prompt_the_repo_overrides(
    eval_repo: GitRepo, server: MockOpenAI, cli: Any
) -> None:
    """The mock answers 'Mock answer: <last user message>': a judge prompt whose user message
    is a verdict makes the mock a judge that always says 0.9 — proof the override is used."""
    eval_repo.write(
        {
            "prompts/loomgit/judge.prompt": "---\nvariables:\n  criteria: {type: string}\n"
            "  output: {type: string}\n---\nuser:\n"
            '{"score": 0.9, "reason": "{{ criteria }}"}\n',
            "prompts/triage.tests.yaml": json.dumps(
                {
                    "cases": [
                        {
                            "name": "a",
                            "vars": {"ticket": "x"},
                            "assert": [
                                {"judge": {"criteria": "names the floor", "threshold": 0.8}},
                                {"judge": {"criteria": "strict", "threshold": 0.95}, "weight": 0},
                            ],
                        }
                    ]
                }
            ),
        }
    )
    code, data, _ = run_json(cli, eval_repo, "triage")
    (r,) = data["results"]
    assert code == 0, r
    a1, a2 = r["assertions"]
    assert (
        a1["passed"] and a1["score"] == 0.9 and a1["message"] == "judge 0.90 ≥ 0.8: names the floor"
    )
    assert not a2["passed"] and r["passed"]  # weight 0: reported, not counted
    assert server.requests == 3  # the answer and two judge calls


def test_builtin_judge_answer_without_score_is_an_error(eval_repo: GitRepo, cli: Any) -> None:
    eval_repo.write(
        {
            "prompts/triage.tests.yaml": json.dumps(
                {
                    "cases": [
                        {"name": "a", "vars": {"ticket": "x"}, "assert": [{"judge": "is polite"}]}
                    ]
                }
            )
        }
    )
    code, data, _ = run_json(cli, eval_repo)
    (r,) = data["results"]
    assert code == 3 and r["status"] == "error"
    assert r["error"].startswith("judge answer holds no score from 0 to 1: 'Mock answer: Rubric:")


def test_similar_uses_embeddings_from_the_server(
    eval_repo: GitRepo, server: MockOpenAI, cli: Any
) -> None:
    eval_repo.write(
        {
            "loomgit.yaml": config(server.url) + "eval: {embedding_model: mock/embed}\n",
            "prompts/triage.tests.yaml": json.dumps(
                {
                    "cases": [
                        {
                            "name": "a",
                            "vars": {"ticket": "printer on fire"},
                            "assert": [
                                {
                                    "similar": {
                                        "to": "Mock answer: Summarize: printer on fire",
                                        "threshold": 0.99,
                                    }
                                }
                            ],
                        }
                    ]
                }
            ),
        }
    )
    code, data, _ = run_json(cli, eval_repo)
    (r,) = data["results"]
    assert code == 0, r
    assert r["assertions"][0]["message"].startswith("cosine similarity 1.00")
    assert server.requests == 2


def test_python_assertions_are_off_unless_allowed(
    eval_repo: GitRepo, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    eval_repo.write(
        {
            "checks_eval.py": "def short(output, ctx):\n    return len(output) < 200\n",
            "prompts/triage.tests.yaml": json.dumps(
                {
                    "cases": [
                        {
                            "name": "a",
                            "vars": {"ticket": "x"},
                            "assert": [{"python": "checks_eval:short"}],
                        }
                    ]
                }
            ),
        }
    )
    code, data, err = run_json(cli, eval_repo)
    assert code == 2 and data == {}
    assert err == (
        "loomgit: error: prompts/triage.tests.yaml:1: python: assertions run local code; "
        "allow them with --allow-python or LOOMGIT_ALLOW_PYTHON=1\n"
    )
    monkeypatch.setenv("LOOMGIT_ALLOW_PYTHON", "1")
    code, data, _ = run_json(cli, eval_repo)
    assert code == 0 and data["results"][0]["passed"]
    monkeypatch.delitem(sys.modules, "checks_eval", raising=False)


def test_runs_are_recorded_and_stats_aggregate_them(eval_repo: GitRepo, cli: Any) -> None:
    assert (
        cli(["stats"], cwd=eval_repo.path).out
        == "no recorded runs yet (run 'loomgit eval' first)\n"
    )
    assert run_json(cli, eval_repo)[0] == 0
    assert run_json(cli, eval_repo, "--repeat", "2")[0] == 0
    assert run_json(cli, eval_repo, "--no-log")[0] == 0  # not recorded
    r = cli(["stats", "--json"], cwd=eval_repo.path)
    assert r.exit_code == 0
    (row,) = json.loads(r.out)["rows"]
    assert row["prompt"] == "triage" and row["runs"] == 2 and row["samples"] == 60
    assert row["pass_rate"] == 1.0 and row["errors"] == 0 and row["p95_latency_ms"] is not None
    by_version = json.loads(cli(["stats", "--by", "version", "--json"], cwd=eval_repo.path).out)
    assert [(x["prompt"], x["version"]) for x in by_version["rows"]] == [("triage", "1.0.0")]
    text = cli(["stats", "--by", "model"], cwd=eval_repo.path).out
    assert text.splitlines()[1].split()[:4] == ["mock/tiny", "2", "60", "100.0%"]
    import sqlite3

    con = sqlite3.connect(eval_repo.path / ".git/loomgit/runs.sqlite")
    try:
        (commit,) = {row[0] for row in con.execute("SELECT commit_sha FROM results")}
        kinds = [row[0] for row in con.execute("SELECT status FROM runs")]
    finally:
        con.close()
    assert commit == eval_repo.git("rev-parse", "HEAD") and kinds == ["passed", "passed"]
    assert cli(["stats", "--since", "yesterday"], cwd=eval_repo.path).exit_code == 2


def test_record_then_replay_offline(eval_repo: GitRepo, server: MockOpenAI, cli: Any) -> None:
    eval_repo.write({"prompts/triage.tests.yaml": suite(3)})
    code, data, _ = run_json(cli, eval_repo, "--record", "--repeat", "2")
    assert code == 0 and server.requests == 6
    eval_repo.write({"loomgit.yaml": config("http://127.0.0.1:9/v1")})  # the server is gone
    code, data, err = run_json(cli, eval_repo, "--replay", "--repeat", "2")
    assert code == 0, err
    assert [r["output"] for r in data["results"]] == [
        f"Mock answer: Summarize: printer {i} is on fire" for i in range(3)
    ]
    code, data, _ = run_json(
        cli, eval_repo, "--replay", "--repeat", "3"
    )  # sample 2 was never recorded
    assert code == 3
    errs = [r["error"] for r in data["results"]]
    assert all(e and "no recording for this request" in e for e in errs)
    assert "(triage case 'c0', sample 2)" in errs[0] and "run with --record" in errs[0]
    assert cli(["eval", "--record", "--replay"], cwd=eval_repo.path).exit_code == 2


def test_an_eval_from_the_command_line_loads_no_terminal_ui_for_httpx(
    eval_repo: GitRepo, server: MockOpenAI
) -> None:
    """httpx's own command-line client (rich, pygments) is not imported by loomgit's:
    about half of httpx's import time, in every command that calls a model."""
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(sorted(m for m in ('rich', 'pygments', 'httpx') "
        "if m in sys.modules), file=sys.stderr))\n"
        "sys.argv = ['loomgit', 'eval', '--no-log']\n"
        "from loomgit.entry import run\n"
        "run()\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script], cwd=eval_repo.path, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert server.requests == 20
    assert r.stderr.strip().splitlines()[-1] == "['httpx']"
