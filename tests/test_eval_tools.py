"""Tool-call and structured-output assertions, and multi-turn cases, evaluated by
`loomgit eval` against a real OpenAI-shaped server on 127.0.0.1 (tests/provider_server.py)
that answers with tool calls: what is sent each turn (tools, the assistant's tool calls,
tool results), what each assertion says, and how gates, distribution checks and reports
count turns."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import GitRepo
from provider_server import FakeAPI, Reply, Req, ok

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Find an order",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string", "pattern": "^A[0-9]+$"}},
                "required": ["order_id"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "refund",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
                "required": ["order_id", "amount"],
            },
        },
    },
]
OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"type": "string"},
        "priority": {"enum": ["low", "high"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["status", "priority"],
}
PROMPT = (
    "---\nmodel: srv/tiny\nparams: "
    + json.dumps({"temperature": 0, "tools": TOOLS})
    + "\noutput: "
    + json.dumps({"format": "json", "schema": OUTPUT_SCHEMA})
    + "\nvariables:\n  ticket: {type: string}\n---\nsystem:\nYou triage support tickets.\n\n"
    "user:\n{{ ticket }}\n"
)


def answer(content: str | None = None, calls: list[tuple[str, str, str]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    msg: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        msg["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
            for cid, name, args in calls
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": msg, "finish_reason": "tool_calls" if calls else "stop"}
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
    }


def support_bot(req: Req) -> Reply:
    """A deterministic model: it looks at the last message."""
    last = req.json["messages"][-1]
    text = last.get("content") or ""
    if last["role"] == "tool":
        status = json.loads(text)["status"]
        return ok(answer(json.dumps({"status": status, "priority": "low", "tags": ["order"]})))
    if "refund" in text:
        return ok(answer(None, [("call_9", "refund", '{"order_id": "A1", "amount": 20}')]))
    if "order A1" in text:
        return ok(answer(None, [("call_1", "lookup_order", '{"order_id": "A1"}')]))
    if "order B7" in text:
        return ok(answer(None, [("call_2", "lookup_order", '{"order_id": "b7"}')]))
    if "cancel" in text:
        return ok(answer(None, [("call_3", "cancel_order", '{"order_id": "A1"}')]))
    if "garbled" in text:
        return ok(answer(None, [("call_4", "lookup_order", '{"order_id": "A1"')]))
    if "both" in text:
        return ok(
            answer(
                None,
                [
                    ("call_5", "lookup_order", '{"order_id": "A1"}'),
                    ("call_6", "lookup_order", '{"order_id": "A2"}'),
                ],
            )
        )
    return ok(answer('{"status": "open", "priority": "high", "tags": ["hello"]}'))


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    with FakeAPI() as server:
        server.default = support_bot
        yield server


def commit(repo: GitRepo, api: FakeAPI, suite: dict[str, Any]) -> None:
    entry = {"type": "openai", "base_url": api.base + "/v1", "backoff_s": 0.01}
    repo.commit(
        "triage prompt and suite",
        {
            "loomgit.yaml": "providers:\n  srv: " + json.dumps(entry) + "\n",
            "prompts/triage.prompt": PROMPT,
            "prompts/triage.tests.yaml": json.dumps(suite, indent=1),
        },
    )


def run(cli: Any, repo: GitRepo, *args: str) -> tuple[int, dict[str, Any], str]:
    r = cli(["eval", "--json", "--no-cache", "--no-log", *args], cwd=repo.path)
    return r.exit_code, json.loads(r.out) if r.out else {}, r.err


def by_case(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["case"]: r for r in data["results"]}


def messages(r: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    return {a["type"]: (a["passed"], a["message"]) for a in r["assertions"]}


def test_tool_called_subset_schema_and_declared_parameters(
    repo: GitRepo, api: FakeAPI, cli: Any
) -> None:
    called = {"tool_called": {"name": "lookup_order", "args": {"order_id": "A1"}}}
    schema = {
        "tool_called": {
            "name": "lookup_order",
            "args_schema": {"required": ["order_id"], "properties": {"order_id": {"const": "A1"}}},
        },
        "name": "by schema",
    }
    commit(
        repo,
        api,
        {
            "cases": [
                {
                    "name": "order",
                    "vars": {"ticket": "Where is order A1?"},
                    "assert": [
                        called,
                        schema,
                        {"tool_args_valid": True},
                        {"no_tool_call": "refund"},
                        {"not": {"no_tool_call": True}},
                    ],
                },
                {
                    "name": "wrong-args",
                    "vars": {"ticket": "Where is order B7?"},
                    "assert": [
                        called,
                        {"tool_args_valid": True},
                        {"tool_called": "refund", "name": "refund"},
                    ],
                },
                {
                    "name": "undeclared",
                    "vars": {"ticket": "please cancel"},
                    "assert": [{"tool_args_valid": True}, {"no_tool_call": ["cancel_order"]}],
                },
                {
                    "name": "garbled",
                    "vars": {"ticket": "garbled"},
                    "assert": [
                        called,
                        {"tool_args_valid": "lookup_order"},
                        {"tool_called": "lookup_order", "name": "by name"},
                    ],
                },
            ]
        },
    )
    code, data, err = run(cli, repo)
    assert code == 1, err
    res = by_case(data)
    assert res["order"]["status"] == "passed", res["order"]
    assert messages(res["order"]) == {
        "tool_called": (True, "called 'lookup_order' with matching arguments"),
        "by schema": (True, "called 'lookup_order' with matching arguments"),
        "tool_args_valid": (True, "1 tool call(s) match the declared parameters"),
        "no_tool_call": (True, "no call to 'refund'"),
        "not no_tool_call": (True, "negated: called 'lookup_order'"),
    }
    assert res["order"]["tool_calls"] == [
        {"id": "call_1", "name": "lookup_order", "arguments": {"order_id": "A1"}}
    ]
    wrong = messages(res["wrong-args"])
    assert wrong["tool_called"] == (
        False,
        'called \'lookup_order\', but its arguments differ: $.order_id: expected "A1", got "b7"',
    )
    assert wrong["tool_args_valid"][0] is False
    assert wrong["tool_args_valid"][1].startswith("'lookup_order': $.order_id: 'b7' does not match")
    assert wrong["refund"] == (False, "no call to 'refund' ('lookup_order')")
    undeclared = messages(res["undeclared"])
    assert undeclared["tool_args_valid"] == (
        False,
        "'cancel_order' is not a tool the prompt offers (lookup_order, refund)",
    )
    assert undeclared["no_tool_call"] == (False, "called 'cancel_order'")
    garbled = res["garbled"]
    (call,) = garbled["tool_calls"]
    assert call["arguments"] is None and call["arguments_text"] == '{"order_id": "A1"'
    assert "not valid JSON" in call["error"]
    g = messages(garbled)
    assert g["tool_called"][0] is False and "not valid JSON" in g["tool_called"][1]
    assert g["tool_args_valid"][0] is False and "not valid JSON" in g["tool_args_valid"][1]
    assert g["by name"] == (True, "called 'lookup_order'")
    # the prompt's tools and output schema went out with every request
    body = api.requests[0].json
    assert body["tools"] == TOOLS
    assert body["response_format"]["json_schema"]["schema"] == OUTPUT_SCHEMA


def test_json_assertions_on_structured_output(repo: GitRepo, api: FakeAPI, cli: Any) -> None:
    commit(
        repo,
        api,
        {
            "cases": [
                {
                    "name": "plain",
                    "vars": {"ticket": "hello there"},
                    "assert": [
                        {"no_tool_call": True},
                        {"output_schema": True},
                        {"json_subset": {"priority": "high", "tags": ["hello"]}},
                        {"json_path": {"path": "$.tags[0]", "equals": "hello"}},
                        {
                            "json_path": {"path": "priority", "one_of": ["high", "urgent"]},
                            "name": "p",
                        },
                        {"json_path": {"path": "status", "contains": "pe"}, "name": "c"},
                        {"json_path": {"path": "assignee", "exists": False}, "name": "e"},
                        {"json_path": {"path": "tags", "schema": {"maxItems": 1}}, "name": "s"},
                    ],
                },
                {
                    "name": "wrong",
                    "vars": {"ticket": "hello again"},
                    "assert": [
                        {"json_subset": {"priority": "low"}},
                        {"json_path": {"path": "tags[1]", "equals": "x"}},
                        {
                            "json_path": {"path": "tags", "schema": {"items": {"type": "integer"}}},
                            "name": "s",
                        },
                    ],
                },
                {
                    "name": "tool-answer",
                    "vars": {"ticket": "Where is order A1?"},
                    "assert": [{"output_schema": True}],
                },
            ]
        },
    )
    code, data, err = run(cli, repo)
    assert code == 1, err
    res = by_case(data)
    assert res["plain"]["status"] == "passed", res["plain"]["assertions"]
    assert "tool_calls" not in res["plain"]
    wrong = messages(res["wrong"])
    assert wrong["json_subset"] == (False, '$.priority: expected "low", got "high"')
    assert wrong["json_path"] == (False, "$.tags[1]: missing")
    assert wrong["s"] == (False, "$.tags[0]: 'hello' is not of type 'integer'")
    assert messages(res["tool-answer"])["output_schema"][0] is False


TURNS_CASE = {
    "name": "order-then-refund",
    "vars": {"ticket": "Where is order A1?"},
    "turns": [
        {"assert": [{"tool_called": {"name": "lookup_order", "args": {"order_id": "A1"}}}]},
        {
            "name": "status",
            "tool_results": [{"name": "lookup_order", "content": {"status": "shipped"}}],
            "assert": [
                {"json_path": {"path": "status", "equals": "shipped"}},
                {"output_schema": True},
            ],
        },
        {
            "user": "Thanks. Please refund it.",
            "assert": [{"tool_called": {"name": "refund", "args": {"order_id": "A1"}}}],
        },
    ],
}


def test_multi_turn_case_sends_history_and_scores_each_turn(
    repo: GitRepo, api: FakeAPI, cli: Any
) -> None:
    commit(
        repo,
        api,
        {
            "defaults": {"assert": [{"not_contains": "As an AI"}]},
            "distribution": ["count(score) == 4", "pass_rate >= 1"],
            "cases": [
                TURNS_CASE,
                {"name": "single", "vars": {"ticket": "hello"}, "assert": [{"no_tool_call": True}]},
            ],
        },
    )
    code, data, err = run(cli, repo, "-j", "1")
    assert code == 0, (err, data)
    assert len(api.requests) == 4  # three turns, one single-turn case
    first, second, third = (r.json["messages"] for r in api.requests[:3])
    assert [m["role"] for m in first] == ["system", "user"]
    assert second[2] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order_id": "A1"}'},
            }
        ],
    }
    assert second[3] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"status": "shipped"}',
    }
    assert third[:4] == second
    assert (
        third[4]["role"] == "assistant" and json.loads(third[4]["content"])["status"] == "shipped"
    )
    assert third[5] == {"role": "user", "content": "Thanks. Please refund it."}
    # the gate counts cases (a conversation is one), distribution checks count answers
    suite = data["suites"][0]
    assert (suite["cases"], suite["passed"]) == (2, 2)
    assert suite["checks"][0] == {"check": "count(score) == 4", "value": 4.0, "passed": True}
    r = by_case(data)["order-then-refund"]
    assert r["status"] == "passed" and r["tokens"] == {"input": 60, "output": 15, "total": 75}
    assert [t["turn"] for t in r["turns"]] == [1, 2, 3]
    assert [t["sent"] for t in r["turns"]] == [
        "",
        "tool results: lookup_order",
        "user: Thanks. Please refund it.",
    ]
    assert r["turns"][1]["name"] == "status"
    assert [a["type"] for a in r["turns"][1]["assertions"]] == [
        "not_contains",
        "json_path",
        "output_schema",
    ]
    assert (
        r["tool_calls"]
        == r["turns"][2]["tool_calls"]
        == [{"id": "call_9", "name": "refund", "arguments": {"order_id": "A1", "amount": 20}}]
    )
    assert r["assertions"][0]["type"] == "turn 1: not_contains"


def test_failing_turn_fails_the_case_and_a_turn_that_cannot_be_sent_stops_it(
    repo: GitRepo, api: FakeAPI, cli: Any
) -> None:
    bad_second = json.loads(json.dumps(TURNS_CASE))
    bad_second["name"] = "wrong-status"
    bad_second["turns"][1]["assert"] = [{"json_path": {"path": "status", "equals": "lost"}}]
    no_call = {
        "name": "no-call",
        "vars": {"ticket": "hello"},
        "turns": [
            {"assert": [{"is_json": True}]},
            {"tool_results": [{"content": "x"}], "assert": [{"is_json": True}]},
            {"user": "never sent"},
        ],
    }
    two_calls = {
        "name": "two-calls",
        "vars": {"ticket": "both orders"},
        "turns": [
            {},
            {"tool_results": [{"id": "call_6", "content": {"status": "lost"}}]},
        ],
    }
    commit(repo, api, {"cases": [bad_second, no_call, two_calls]})
    code, data, err = run(cli, repo, "-j", "1")
    assert code == 1, err
    res = by_case(data)
    assert res["wrong-status"]["status"] == "failed"
    failing = [a for a in res["wrong-status"]["assertions"] if not a["passed"]]
    assert [(a["type"], a["message"]) for a in failing] == [
        ("turn 2: json_path", '$.status: expected "lost", got "shipped"')
    ]
    assert len(res["wrong-status"]["turns"]) == 3  # later turns still run
    nc = res["no-call"]
    assert nc["status"] == "failed" and len(nc["turns"]) == 2
    assert nc["turns"][1]["assertions"] == [
        {
            "type": "turns",
            "passed": False,
            "score": 0.0,
            "weight": 1.0,
            "message": "tool_results: the answer before this turn called no tool",
            "value": None,
        }
    ]
    sent = [r.json["messages"][-1].get("content") for r in api.requests]
    assert "never sent" not in sent
    tc = res["two-calls"]["turns"][1]["assertions"][0]
    assert tc["message"] == "tool_results: no result for 'lookup_order' (id 'call_5')"


def test_provider_error_in_a_later_turn_is_an_error_not_a_failure(
    repo: GitRepo, api: FakeAPI, cli: Any
) -> None:
    commit(repo, api, {"cases": [TURNS_CASE]})
    api.default = None
    api.queue(
        ok(answer(None, [("call_1", "lookup_order", '{"order_id": "A1"}')])),
        Reply(400, {"error": {"message": "bad tool message"}}),
    )
    code, data, err = run(cli, repo)
    assert code == 3, (err, data)
    r = data["results"][0]
    assert r["status"] == "error"
    assert r["error"].startswith("turn 2: ") and "bad tool message" in r["error"]
    assert len(r["turns"]) == 2 and r["turns"][0]["passed"] is True


def test_turns_replay_offline_and_junit_shows_tool_calls(
    repo: GitRepo, api: FakeAPI, cli: Any, tmp_path: Any
) -> None:
    commit(repo, api, {"cases": [TURNS_CASE]})
    r = cli(["eval", "--record", "--no-log"], cwd=repo.path)
    assert r.exit_code == 0, r.out + r.err
    n = len(api.requests)
    assert n == 3
    api.default = lambda req: Reply(500, {"error": "offline"})
    junit = tmp_path / "junit.xml"
    code, data, err = run(cli, repo, "--replay", "--junit", str(junit))
    assert code == 0, (err, data)
    assert len(api.requests) == n  # nothing sent
    assert data["results"][0]["turns"][2]["tool_calls"][0]["name"] == "refund"
    out = ET.parse(junit).getroot().find(".//testcase/system-out")
    assert out is not None and out.text is not None
    assert '--- turn 2 (status)\n> tool results: lookup_order\n{"status": "shipped"' in out.text
    assert 'tool call refund({"amount": 20, "order_id": "A1"}) id=call_9' in out.text


def test_check_warns_about_tools_the_prompt_does_not_offer(
    repo: GitRepo, api: FakeAPI, cli: Any
) -> None:
    commit(
        repo,
        api,
        {
            "cases": [
                {
                    "name": "typo",
                    "vars": {"ticket": "x"},
                    "assert": [
                        {"tool_called": {"name": "lookup_ordr"}},
                        {"not": {"no_tool_call": ["refund", "delete"]}},
                    ],
                },
                {
                    "name": "fine",
                    "vars": {"ticket": "x"},
                    "turns": [{"assert": [{"tool_args_valid": "refund"}, {"output_schema": True}]}],
                },
            ]
        },
    )
    r = cli(["check", "prompts/triage.tests.yaml"], cwd=repo.path)
    assert r.exit_code == 0, r.out + r.err
    warnings = [ln for ln in r.out.splitlines() if ": warning: " in ln]
    assert warnings == [
        "prompts/triage.tests.yaml:3: warning: case 'typo': the prompt offers no tool "
        "'lookup_ordr' (it offers: lookup_order, refund) (did you mean 'lookup_order'?)",
        "prompts/triage.tests.yaml:3: warning: case 'typo': the prompt offers no tool "
        "'delete' (it offers: lookup_order, refund)",
    ]
    assert cli(["check", "--strict", "prompts/triage.tests.yaml"], cwd=repo.path).exit_code == 1


def test_report_merge_keeps_turns_and_counts_them_again(
    repo: GitRepo, api: FakeAPI, cli: Any, tmp_path: Any
) -> None:
    commit(
        repo,
        api,
        {
            "distribution": ["count(score) == 4"],
            "cases": [
                TURNS_CASE,
                {"name": "single", "vars": {"ticket": "hello"}, "assert": [{"no_tool_call": True}]},
            ],
        },
    )
    report = tmp_path / "r.json"
    code, data, err = run(cli, repo, "-o", str(report))
    assert code == 0, err
    r = cli(["report", "merge", str(report), "--json"], cwd=repo.path)
    assert r.exit_code == 0, r.out + r.err
    merged = json.loads(r.out)
    assert merged["suites"][0]["checks"] == data["suites"][0]["checks"]
    assert (
        by_case(merged)["order-then-refund"]["turns"] == by_case(data)["order-then-refund"]["turns"]
    )
    assert by_case(merged)["single"]["status"] == "passed"


def test_python_assertions_see_the_tool_calls_and_the_history(
    repo: GitRepo, api: FakeAPI, cli: Any
) -> None:
    repo.write(
        {
            "mychecks.py": "def looked_up(output, context):\n"
            "    (call,) = context['tool_calls']\n"
            "    roles = [m['role'] for m in context['messages']]\n"
            "    return call['name'] == 'lookup_order' and roles == ['system', 'user']\n"
        }
    )
    commit(
        repo,
        api,
        {
            "cases": [
                {
                    "name": "order",
                    "vars": {"ticket": "Where is order A1?"},
                    "assert": [{"python": "mychecks:looked_up"}],
                }
            ]
        },
    )
    code, data, err = run(cli, repo, "--allow-python")
    assert code == 0, (err, data["results"][0]["assertions"])


def test_turns_offline_with_echo_first_turn_user_message(sample_repo: GitRepo, cli: Any) -> None:
    """The first turn may add a user message to the rendered prompt; every later turn's
    history holds the answers before it (echo answers with the whole history)."""
    sample_repo.commit(
        "suite",
        {
            "prompts/support/summarize.tests.yaml": json.dumps(
                {
                    "providers": ["echo"],
                    "cases": [
                        {
                            "name": "chat",
                            "vars": {"ticket": "Printer on fire"},
                            "turns": [
                                {"user": "Which floor?", "assert": [{"ends_with": "Which floor?"}]},
                                {
                                    "user": "Thanks",
                                    "assert": [
                                        {"regex": "(?s)Which floor\\?.*Which floor\\?.*Thanks$"},
                                        {"contains": "nope"},
                                    ],
                                },
                            ],
                        }
                    ],
                }
            )
        },
    )
    r = cli(["eval", "--no-log"], cwd=sample_repo.path)
    assert r.exit_code == 1, r.out + r.err
    row = next(ln for ln in r.out.splitlines() if ln.startswith("FAIL"))
    assert row.split()[:5] == ["FAIL", "support/summarize", "chat", "echo", "0.75"]
    assert row.endswith("turn 2: contains: does not contain 'nope'")


def test_a_fallback_to_instructions_is_said_once_in_the_eval_output(
    repo: GitRepo, api: FakeAPI, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cohere cannot take tools and a response schema together: the schema goes as
    instructions, and the eval run says so on stderr, once for the model."""
    from test_providers import COHERE_ANSWER

    text = '{"status": "open", "priority": "high"}'
    reply = {
        **COHERE_ANSWER,
        "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
    }
    api.default = lambda req: ok(reply)
    entry = {"type": "cohere", "base_url": api.base + "/v2", "backoff_s": 0.01}
    suite = {
        "cases": [
            {"name": n, "vars": {"ticket": n}, "assert": [{"output_schema": True}]}
            for n in ("a", "b")
        ]
    }
    repo.commit(
        "a cohere model",
        {
            "loomgit.yaml": "providers:\n  srv: " + json.dumps(entry) + "\n",
            "prompts/triage.prompt": PROMPT,
            "prompts/triage.tests.yaml": json.dumps(suite),
        },
    )
    monkeypatch.setenv("CO_API_KEY", "k")
    code, data, err = run(cli, repo)
    notes = [ln for ln in err.splitlines() if "instructions" in ln]
    assert code == 0, err
    assert len(notes) == 1 and notes[0].startswith("loomgit: note: srv/tiny: structured output")
