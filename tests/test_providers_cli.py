"""``loomgit render ID --run`` as a user meets it: echo with nothing installed, a real
OpenAI-compatible server in a subprocess, bad provider settings from the corpus, and
faulty answers — always one line on stderr and the right exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS, ROOT
from provider_server import FakeAPI, Reply, ok
from test_providers import OPENAI_ANSWER

CONFIGS = sorted((CORPUS / "providers" / "config").glob("*.yaml"))
ANSWERS_DIR = CORPUS / "providers" / "answers"
ANSWERS = json.loads((ANSWERS_DIR / "expected.json").read_text(encoding="utf-8"))


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("loomgit: error: ") and "Traceback" not in err
    return lines[0][len("loomgit: error: ") :]


def test_run_with_echo_needs_no_server(sample_repo: Any, cli: Any) -> None:
    r = cli(["render", "support/summarize", "--run", "--model", "echo"], cwd=sample_repo.path)
    assert r.exit_code == 0, r.err
    assert r.out == (
        "You are an on-call assistant. Answer in a formal tone.\n\n"
        "Summarize this ticket: Printer on floor 3 is on fire\n"
    )
    assert r.err.startswith("echo · 26 → 27 tokens · ") and r.err.rstrip().endswith(
        "ms · $0 · stop"
    )


def test_run_json_adds_a_completion(sample_repo: Any, cli: Any) -> None:
    r = cli(
        [
            "render",
            "support/summarize",
            "--run",
            "--model",
            "echo",
            "--var",
            "ticket=VPN down",
            "--json",
        ],
        cwd=sample_repo.path,
    )
    assert r.exit_code == 0, r.err
    data = json.loads(r.out)
    assert set(data) == {"id", "version", "model", "params", "messages", "completion"}
    assert data["model"] == "openai/gpt-4o-mini"  # the prompt's own model
    c = data["completion"]
    assert c["text"].endswith("Summarize this ticket: VPN down") and c["model"] == "echo"
    assert set(c) == {
        "text",
        "model",
        "usage",
        "latency_ms",
        "cost_usd",
        "finish_reason",
        "cached",
        "attempts",
    }
    assert c["usage"]["total_tokens"] == c["usage"]["input_tokens"] + c["usage"]["output_tokens"]
    assert c["cost_usd"] == 0.0 and c["cached"] is False


def test_render_without_run_is_unchanged(sample_repo: Any, cli: Any) -> None:
    r = cli(["render", "support/summarize", "--json"], cwd=sample_repo.path)
    assert r.exit_code == 0 and "completion" not in json.loads(r.out)


def test_model_needs_run(sample_repo: Any, cli: Any) -> None:
    r = cli(["render", "support/summarize", "--model", "echo"], cwd=sample_repo.path)
    assert r.exit_code == 2
    assert (
        one_line_error(r.err)
        == "--model is used with --run or --format (loomgit render ID --run --model "
        "PROVIDER/MODEL)"
    )


def test_prompt_model_without_key(sample_repo: Any, cli: Any) -> None:
    r = cli(["render", "support/summarize", "--run"], cwd=sample_repo.path)
    assert r.exit_code == 2
    assert one_line_error(r.err).startswith(
        "openai/gpt-4o-mini: no API key: set the environment variable OPENAI_API_KEY"
    )


def test_no_model_anywhere(repo: Any, cli: Any) -> None:
    repo.commit("plain", {"prompts/hello.prompt": "Say hello to {{ name }}.\n"})
    r = cli(["render", "hello", "--var", "name=Ada", "--run"], cwd=repo.path)
    assert r.exit_code == 2 and "no model to run: pass --model PROVIDER/MODEL" in r.err
    repo.write({"loomgit.yaml": "defaults: {model: echo}\n"})
    r = cli(["render", "hello", "--var", "name=Ada", "--run"], cwd=repo.path)
    assert r.exit_code == 0 and r.out == "Say hello to Ada.\n"


@pytest.fixture
def mock_server() -> Iterator[str]:
    """bench/mock_openai.py as a real subprocess; yields its base URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "mock_openai.py"),
            "--port",
            "0",
            "--latency-ms",
            "5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("mock OpenAI server on http://127.0.0.1:"), line
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_run_against_a_local_openai_compatible_server(
    sample_repo: Any, cli: Any, mock_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", mock_server.removeprefix("http://").removesuffix("/v1"))
    r = cli(
        ["render", "support/summarize", "--run", "--model", "ollama/llama3.2"], cwd=sample_repo.path
    )
    assert r.exit_code == 0, r.err
    assert r.out == "Mock answer: Summarize this ticket: Printer on floor 3 is on fire\n"
    stats = r.err.strip()
    assert stats.startswith("ollama/llama3.2 · 21 → 12 tokens · ") and stats.endswith(
        " ms · $0 · stop"
    )


def test_run_through_a_providers_entry(sample_repo: Any, cli: Any, mock_server: str) -> None:
    sample_repo.write(
        {
            "loomgit.yaml": f'providers:\n  local: {{type: openai, base_url: "{mock_server}"}}\n'
            'pricing:\n  "local/*": {input: 1.0, output: 2.0}\n'
        }
    )
    r = cli(
        ["render", "support/summarize", "--run", "--model", "local/tiny", "--json"],
        cwd=sample_repo.path,
    )
    assert r.exit_code == 0, r.err
    c = json.loads(r.out)["completion"]
    assert c["model"] == "local/tiny" and c["usage"] == {
        "input_tokens": 21,
        "output_tokens": 12,
        "total_tokens": 33,
    }
    assert c["cost_usd"] == pytest.approx((21 * 1.0 + 12 * 2.0) / 1e6)


def test_retries_are_reported_and_the_answer_printed(sample_repo: Any, cli: Any) -> None:
    with FakeAPI() as api:
        api.queue(Reply(503, {"error": {"message": "overloaded"}}), ok(OPENAI_ANSWER))
        sample_repo.write(
            {
                "loomgit.yaml": f'providers:\n  srv: {{type: openai, base_url: "{api.base}/v1",'
                " backoff_s: 0.01}\n"
            }
        )
        r = cli(["render", "support/summarize", "--run", "--model", "srv/m"], cwd=sample_repo.path)
    assert r.exit_code == 0 and r.out == "Printer fire, floor 3.\n"
    warn, stats = r.err.strip().splitlines()
    assert warn.startswith("loomgit: warning: srv/m: server error from http://127.0.0.1:")
    assert "(HTTP 503: overloaded); retry 1/3 in " in warn
    assert stats.endswith("· stop · 2 attempts")


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_bad_provider_settings(path: Path, sample_repo: Any, cli: Any) -> None:
    text = path.read_text(encoding="utf-8")
    model = text.split("# model: ", 1)[1].split("\n", 1)[0]
    expected = text.split("# error: ", 1)[1].split("\n", 1)[0]
    sample_repo.write({"loomgit.yaml": text})
    r = cli(["render", "support/summarize", "--run", "--model", model], cwd=sample_repo.path)
    assert r.exit_code == 2, r.err
    msg = one_line_error(r.err)
    assert msg.startswith(expected), msg
    assert "DO-NOT-ECHO" not in r.err + r.out


@pytest.mark.parametrize("name", sorted(ANSWERS), ids=sorted(ANSWERS))
def test_faulty_answers(name: str, sample_repo: Any, cli: Any) -> None:
    status = int(name.split("-", 1)[0])
    body = (ANSWERS_DIR / name).read_bytes()
    with FakeAPI() as api:
        api.default = lambda req: Reply(status, body=body)
        sample_repo.write(
            {
                "loomgit.yaml": f'providers:\n  srv: {{type: openai, base_url: "{api.base}/v1",'
                " retries: 1, backoff_s: 0.01, timeout_s: 5}\n"
            }
        )
        r = cli(["render", "support/summarize", "--run", "--model", "srv/m"], cwd=sample_repo.path)
        port = api.base.rsplit(":", 1)[1]
    assert r.exit_code == 3, r.err
    errors = [ln for ln in r.err.splitlines() if not ln.startswith("loomgit: warning: ")]
    msg = one_line_error("\n".join(errors))
    assert msg.startswith("srv/m: ") and ANSWERS[name].replace("PORT", port) in msg, msg
