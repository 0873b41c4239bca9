"""`loomgit hook eval` (the opt-in loomgit-eval hook): suites of changed prompts, offline."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import GitRepo

SUITE = """providers: [local/tiny]
cases:
  - name: fire
    vars: {ticket: "Printer on floor 3 is on fire"}
    assert: [{icontains: fire}]
"""


class ModelServer:
    """A tiny OpenAI-compatible chat server on 127.0.0.1 that counts its requests."""

    def __init__(self) -> None:
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                outer.hits += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "model": "tiny",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {
                                    "role": "assistant",
                                    "content": "Urgent: the printer is on fire.",
                                },
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server() -> Iterator[ModelServer]:
    s = ModelServer()
    yield s
    s.close()


@pytest.fixture
def evalrepo(repo: GitRepo, cli, server: ModelServer) -> GitRepo:  # type: ignore[no-untyped-def]
    assert cli(["init"], cwd=repo.path).exit_code == 0
    repo.write(
        {
            "loomgit.yaml": "prompts: [prompts/**/*.prompt]\nproviders:\n"
            f"  local: {{type: openai, base_url: '{server.url}'}}\n",
            "prompts/support/summarize.tests.yaml": SUITE,
        }
    )
    repo.commit("init")
    return repo


def test_recorded_answers_are_replayed_without_the_network(
    evalrepo: GitRepo,
    cli,  # type: ignore[no-untyped-def]
    server: ModelServer,
) -> None:
    res = cli(["eval", "--record", "--no-log", "support/summarize"], cwd=evalrepo.path)
    assert res.exit_code == 0, res.out + res.err
    recorded = server.hits
    assert recorded >= 1
    res = cli(["hook", "eval", "prompts/support/summarize.prompt"], cwd=evalrepo.path)
    assert res.exit_code == 0, res.out + res.err
    assert re.search(r"^PASS +support/summarize +fire +local/tiny +1\.00", res.out, re.M)
    assert server.hits == recorded  # the hook answered from the recordings


def test_unrecorded_cases_are_reported_not_sent(
    evalrepo: GitRepo,
    cli,  # type: ignore[no-untyped-def]
    server: ModelServer,
) -> None:
    res = cli(["hook", "eval", "prompts/support/summarize.tests.yaml"], cwd=evalrepo.path)
    assert res.exit_code == 0
    assert "no recording for this request" in res.out
    assert (
        "loomgit-eval: some cases could not run offline (not counted; record them with "
        "'loomgit eval --record'); not blocking (--strict blocks)"
    ) in res.err
    res = cli(
        ["hook", "eval", "--strict", "prompts/support/summarize.tests.yaml"], cwd=evalrepo.path
    )
    assert res.exit_code == 3
    assert server.hits == 0


def test_failing_gate_blocks(evalrepo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    evalrepo.write(
        {
            "prompts/support/summarize.tests.yaml": SUITE.replace("local/tiny", "echo").replace(
                "icontains: fire", "icontains: flood"
            )
        }
    )
    evalrepo.git("add", "-A")
    res = cli(["hook", "eval"], cwd=evalrepo.path)  # the staged files
    assert res.exit_code == 1
    assert re.search(r"^FAIL +support/summarize +fire +echo", res.out, re.M)
    assert "loomgit-eval: a quality gate failed; the push (or commit) is blocked." in res.err


def test_prompt_without_suite_is_nothing_to_run(evalrepo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli(["new", "other/x"], cwd=evalrepo.path).exit_code == 0
    res = cli(["hook", "eval", "prompts/other/x.prompt", "README.md"], cwd=evalrepo.path)
    assert res.exit_code == 0
    assert res.out.strip() == "loomgit-eval: no test suite for the changed prompts"
