"""The worked example in examples/support-triage: a prompt with two tools (one from a
shared tool file), JSON output and a conversation history, and its suite with a
multi-turn case, answered offline from the recordings committed beside it.

``LOOMGIT_UPDATE_RECORDINGS=1`` records them again from the scripted model below (a real
HTTP server on 127.0.0.1 in OpenAI's shape) and writes them into the example."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo
from provider_server import FakeAPI, Reply, Req, ok

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "support-triage"
RECORDINGS = ".loomgit/recordings"


def reply(content: str | None, calls: list[tuple[str, str, dict[str, Any]]] = ()) -> Reply:  # type: ignore[assignment]
    msg: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        msg["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
            for i, n, a in calls
        ]
    usage = {"prompt_tokens": 180, "completion_tokens": 24, "total_tokens": 204}
    finish = "tool_calls" if calls else "stop"
    choice = {"index": 0, "message": msg, "finish_reason": finish}
    return ok(
        {"id": "chatcmpl-x", "object": "chat.completion", "choices": [choice], "usage": usage}
    )


def triage_model(req: Req) -> Reply:
    """A deterministic support model: it reads the last turn (and the history)."""
    body = req.json
    msgs = body["messages"]
    last = msgs[-1]
    text = json.dumps(msgs)
    if last["role"] == "tool":
        status = json.loads(last["content"])
        answer = {
            "category": "shipping",
            "priority": "normal",
            "reply": f"Your order has {status['status']} and should arrive on {status['eta']}.",
        }
        return reply(json.dumps(answer))
    said = last.get("content") or ""
    if "gift" in said:
        why = {"team": "shipping", "reason": "needed by tomorrow"}
        return reply(None, [("call_2", "escalate", why)])
    if "order A1" in said:
        return reply(None, [("call_1", "lookup_order", {"order_id": "A1"})])
    if '\\"status\\": \\"lost\\"' in text:
        why = {"team": "shipping", "reason": "order A2 is lost"}
        return reply(None, [("call_3", "escalate", why)])
    answer = {
        "category": "billing",
        "priority": "normal",
        "reply": "Sorry! A refund is on its way.",
    }
    return reply(json.dumps(answer))


@pytest.fixture
def example(repo: GitRepo) -> Iterator[GitRepo]:
    for item in EXAMPLE.iterdir():
        dest = repo.path / item.name
        if item.is_dir():
            shutil.copytree(item, dest)
        else:
            shutil.copy(item, dest)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "support triage")
    yield repo


def test_the_example_checks_and_renders_without_a_key(example: GitRepo, cli: Any) -> None:
    r = cli(["check"], cwd=example.path)
    assert r.exit_code == 0, r.out + r.err
    r = cli(["render", "support/triage", "--json"], cwd=example.path)
    assert r.exit_code == 0, r.err
    got = json.loads(r.out)
    assert [m["role"] for m in got["messages"]] == ["system", "user", "assistant", "user"]
    assert got["messages"][-1]["content"] == "Where is my order A1?"
    r = cli(["render", "support/triage", "--format", "anthropic"], cwd=example.path)
    assert r.exit_code == 0, r.err
    body = json.loads(r.out)
    assert [t["name"] for t in body["tools"]] == ["lookup_order", "escalate"]
    assert body["tools"][0]["input_schema"]["required"] == ["order_id"]
    assert body["system"].startswith("You triage support tickets for Acme.")


def test_the_suite_passes_offline_from_the_recordings(
    example: GitRepo, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeAPI() as api:
        api.default = triage_model
        monkeypatch.setenv("OPENAI_BASE_URL", api.base + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
        if os.environ.get("LOOMGIT_UPDATE_RECORDINGS"):
            shutil.rmtree(example.path / RECORDINGS, ignore_errors=True)
            r = cli(["eval", "--record", "--no-log", "--no-cache"], cwd=example.path)
            assert r.exit_code == 0, r.out + r.err
            shutil.rmtree(EXAMPLE / RECORDINGS, ignore_errors=True)
            shutil.copytree(example.path / RECORDINGS, EXAMPLE / RECORDINGS)
        api.default = lambda req: Reply(500, {"error": "the example must not call the model"})
        r = cli(["eval", "--replay", "--json", "--no-log", "--no-cache"], cwd=example.path)
        assert api.requests == [] or os.environ.get("LOOMGIT_UPDATE_RECORDINGS") is not None
    assert r.exit_code == 0, r.out + r.err
    data = json.loads(r.out)
    cases = {c["case"]: c for c in data["results"]}
    assert {k: c["status"] for k, c in cases.items()} == {
        "broken-item": "passed",
        "late-order": "passed",
        "earlier-conversation": "passed",
    }
    turns = cases["late-order"]["turns"]
    assert [t["tool_calls"][0]["name"] if t["tool_calls"] else None for t in turns] == [
        "lookup_order",
        None,
        "escalate",
    ]
    assert json.loads(turns[1]["output"])["category"] == "shipping"
    for rec in (EXAMPLE / RECORDINGS).rglob("*.json"):
        assert "sk-test" not in rec.read_text()  # the key never reaches a recording
