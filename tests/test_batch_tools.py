"""``loomgit run`` on a prompt that offers tools, against a real OpenAI-shaped server on
127.0.0.1 (tests/provider_server.py): output lines carry the answer's tool calls, and a
tool call the caller could not make (arguments that do not parse, an undeclared tool,
arguments outside the declared parameters) quarantines its record with the reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import GitRepo
from provider_server import FakeAPI, Reply, Req, ok
from test_eval_tools import TOOLS, answer

PROMPT = (
    "---\nmodel: srv/tiny\nparams: "
    + json.dumps({"tools": TOOLS})
    + "\noutput: "
    + json.dumps({"format": "json", "schema": {"type": "object", "required": ["status"]}})
    + "\nvariables:\n  ticket: {type: string}\n---\nuser:\n{{ ticket }}\n"
)


def bot(req: Req) -> Reply:
    text = req.json["messages"][-1]["content"]
    calls = {
        "good": [("c1", "lookup_order", '{"order_id": "A1"}')],
        "two": [
            ("c2", "lookup_order", '{"order_id": "A1"}'),
            ("c3", "refund", '{"order_id": "A1", "amount": 5}'),
        ],
        "garbled": [("c4", "lookup_order", '{"order_id": ')],
        "undeclared": [("c5", "delete_account", "{}")],
        "invalid": [("c6", "lookup_order", '{"order_id": 7}')],
    }.get(text)
    if calls:
        return ok(answer(None, calls))
    return ok(answer('{"status": "open"}'))


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    with FakeAPI() as server:
        server.default = bot
        yield server


def test_tool_calls_in_output_lines_and_bad_calls_quarantined(
    repo: GitRepo, api: FakeAPI, cli: Any
) -> None:
    entry = {"type": "openai", "base_url": api.base + "/v1", "backoff_s": 0.01}
    rows = ["good", "two", "garbled", "undeclared", "invalid", "plain text"]
    repo.commit(
        "prompt",
        {
            "loomgit.yaml": "providers:\n  srv: " + json.dumps(entry) + "\n",
            "prompts/triage.prompt": PROMPT,
            "in.jsonl": "".join(json.dumps({"ticket": t}) + "\n" for t in rows),
        },
    )
    r = cli(
        ["run", "triage", "--input", "in.jsonl", "--output", "out.jsonl", "-j", "1"],
        cwd=repo.path,
    )
    assert r.exit_code == 0, r.out + r.err
    out = [json.loads(x) for x in (repo.path / "out.jsonl").read_text().splitlines()]
    assert [o["input"]["ticket"] for o in out] == ["good", "two", "plain text"]
    assert out[0]["tool_calls"] == [
        {"id": "c1", "name": "lookup_order", "arguments": {"order_id": "A1"}}
    ]
    assert out[0]["output"] == "" and "json" not in out[0]  # a tool call is not checked as JSON
    assert [c["name"] for c in out[1]["tool_calls"]] == ["lookup_order", "refund"]
    assert "tool_calls" not in out[2] and out[2]["json"] == {"status": "open"}
    q = [json.loads(x) for x in (repo.path / "out.quarantine.jsonl").read_text().splitlines()]
    assert [(x["input"]["ticket"], x["stage"]) for x in q] == [
        ("garbled", "tool_call"),
        ("undeclared", "tool_call"),
        ("invalid", "tool_call"),
    ]
    garbled = q[0]
    assert garbled["reason"].startswith(
        "tool call c4: 'lookup_order': arguments are not valid JSON"
    )
    assert garbled["tool_calls"][0]["arguments_text"] == '{"order_id": '
    assert garbled["tool_calls"][0]["arguments"] is None
    assert q[1]["reason"] == (
        "tool call c5: 'delete_account' is not a tool the prompt offers (lookup_order, refund)"
    )
    assert q[2]["reason"] == "tool call c6: 'lookup_order': $.order_id: 7 is not of type 'string'"
    assert "tool_call" in r.out  # the summary counts quarantine reasons by stage
    assert api.requests[0].json["tools"] == TOOLS
