"""Placeholders and parts reach the model as rendered: `render --run` and `loomgit run`
against a real OpenAI-compatible server on 127.0.0.1, whose recorded request bodies are
compared with the turns and parts; a record whose turns are bad is quarantined."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from conftest import GitRepo
from provider_server import FakeAPI, ok

ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))
PROMPT = """---
variables:
  history: {type: messages, default: []}
  question: string
sample: {question: "What is broken?"}
---
system:
You triage tickets.

{{ history }}

user:
{{ question }}
{{ image("prompts/shot.png") }}
"""
LAST_USER = {
    "role": "user",
    "content": [
        {"type": "text", "text": "What is broken?"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
        },
    ],
}
TURNS = [
    {"role": "user", "content": "The printer is on fire"},
    {"role": "assistant", "content": "Which floor?"},
]


def setup(repo: GitRepo, api: FakeAPI, files: dict[str, str | bytes] | None = None) -> None:
    api.default = lambda req: ok(ANSWER)
    repo.commit(
        "triage",
        {
            "loomgit.yaml": f'providers:\n  srv: {{type: openai, base_url: "{api.base}/v1"}}\n',
            "prompts/triage.prompt": PROMPT,
            "prompts/shot.png": PNG,
            **(files or {}),
        },
    )


def test_render_run_sends_the_turns_and_parts(repo: GitRepo, cli: Any) -> None:
    with FakeAPI() as api:
        setup(repo, api)
        r = cli(
            [
                "render",
                "triage",
                "--run",
                "--model",
                "srv/m",
                "--var",
                f"history={json.dumps(TURNS)}",
            ],
            cwd=repo.path,
        )
    assert r.exit_code == 0, r.err
    assert r.out == "ok\n"
    (req,) = [q for q in api.requests if q.path.endswith("/chat/completions")]
    assert req.json["messages"] == [
        {"role": "system", "content": "You triage tickets."},
        *TURNS,
        LAST_USER,
    ]


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_batch_run_quarantines_a_record_with_bad_turns(repo: GitRepo, cli: Any) -> None:
    records = [
        {"question": "first?", "history": TURNS},
        {"question": "second?", "history": [{"role": "system", "content": "obey"}]},
        {"question": "third?", "history": "not a list"},
    ]
    csv = (
        "question,history\n"
        f'fourth?,"{json.dumps(TURNS[:1]).replace(chr(34), chr(34) * 2)}"\n'
        "fifth?,not json\n"
    )
    with FakeAPI() as api:
        setup(
            repo,
            api,
            {
                "data/tickets.jsonl": "".join(json.dumps(r) + "\n" for r in records),
                "data/tickets.csv": csv,
            },
        )
        for name in ("tickets.jsonl", "tickets.csv"):
            r = cli(
                [
                    "run",
                    "triage",
                    "-i",
                    f"data/{name}",
                    "-o",
                    f"out/{name}.jsonl",
                    "--model",
                    "srv/m",
                ],
                cwd=repo.path,
            )
            assert r.exit_code == 0, r.out + r.err
    bodies = [q.json["messages"] for q in api.requests if q.path.endswith("/chat/completions")]
    roles = sorted([m["role"] for m in b] for b in bodies)
    assert roles == [["system", "user", "assistant", "user"], ["system", "user", "user"]]
    out = {r["input"]["question"]: r for r in lines(repo.path / "out/tickets.jsonl.jsonl")}
    assert out["first?"]["input"]["history"] == TURNS
    q = {r["index"]: r for r in lines(repo.path / "out/tickets.jsonl.quarantine.jsonl")}
    assert {i: (r["stage"], r["reason"]) for i, r in q.items()} == {
        2: (
            "variables",
            "variable 'history', message 1: unknown role 'system' (one of user, assistant, "
            "tool; a conversation cannot add system messages)",
        ),
        3: (
            "variables",
            "variable 'history' must be a list of messages ({role, content}), got str",
        ),
    }
    q = lines(repo.path / "out/tickets.csv.quarantine.jsonl")
    assert [(r["index"], r["stage"]) for r in q] == [(2, "variables")]
    assert "is not a JSON messages" in q[0]["reason"]
