"""``tools:`` end to end on real repositories: what a request carries, the version each
kind of tool change gets (inline and through a shared ``$ref`` file), ``diff`` and
``status``, the export bundle and ``loomgit.load()``, and the Prompty and GitHub Models
fields that map to tools and structured output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo

import loomgit
from loomgit.app.bundle import clear_cache
from loomgit.prompt.parse import parse_prompt

LOOKUP = {
    "name": "lookup_order",
    "description": "Find an order by its id",
    "parameters": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
}
ESCALATE_YAML = """\
name: escalate
description: Hand the ticket to a person
parameters:
  type: object
  properties:
    reason: {type: string}
  required: [reason]
"""


def triage(tools: str = "", params: str = "{temperature: 0}", output: str = "") -> str:
    return (
        "---\nmodel: openai/gpt-4o-mini\n"
        f"params: {params}\n"
        + (f"tools:\n{tools}" if tools else "")
        + output
        + "variables:\n  ticket: string\nsample: {ticket: where is order 42}\n---\n"
        "system:\nYou triage support tickets.\n\nuser:\n{{ ticket }}\n"
    )


INLINE = """  - name: lookup_order
    description: Find an order by its id
    parameters:
      type: object
      properties:
        order_id: {type: string}
      required: [order_id]
"""
SHARED = "  - $ref: prompts/tools/escalate.yaml\n"


def log(cli, repo: GitRepo, ident: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    r = cli(["log", ident, "--json"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    return list(json.loads(r.out))


@pytest.fixture
def tool_repo(repo: GitRepo) -> GitRepo:
    repo.commit(
        "triage with tools",
        {
            "prompts/triage.prompt": triage(INLINE + SHARED),
            "prompts/reply.prompt": triage(SHARED),
            "prompts/tools/escalate.yaml": ESCALATE_YAML,
        },
    )
    return repo


def test_a_request_carries_inline_and_shared_tools(tool_repo: GitRepo) -> None:
    ws = loomgit.Workspace(tool_repo.path)
    params = ws.prompt("triage").call_params()
    assert params["temperature"] == 0
    assert [t["function"]["name"] for t in params["tools"]] == ["lookup_order", "escalate"]
    assert params["tools"][0] == {"type": "function", "function": LOOKUP}
    escalate = params["tools"][1]["function"]
    assert escalate["parameters"]["required"] == ["reason"]
    assert escalate["description"] == "Hand the ticket to a person"


def test_check_passes_a_good_tools_block(tool_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["check"], cwd=tool_repo.path)
    assert r.exit_code == 0, r.out


def _bump(
    cli, repo: GitRepo, files: dict[str, str], ident: str = "triage"
) -> tuple[str, str, list[str]]:  # type: ignore[no-untyped-def]
    repo.commit("change", files)
    top = log(cli, repo, ident)[0]
    return top["version"], top["change"], top["reasons"]


@pytest.mark.parametrize(
    ("new_tools", "change", "reason"),
    [
        (
            INLINE.replace("Find an order by its id", "Look an order up"),
            "patch",
            'tool "lookup_order": description changed',
        ),
        (
            INLINE.replace(
                "order_id: {type: string}", "order_id: {type: string}\n        lang: {type: string}"
            ),
            "minor",
            'tool "lookup_order": parameter "lang" added (optional)',
        ),
        (
            INLINE.replace(
                "order_id: {type: string}", "order_id: {type: string}\n        lang: {type: string}"
            ).replace("[order_id]", "[order_id, lang]"),
            "major",
            'tool "lookup_order": parameter "lang" added (required)',
        ),
        (
            INLINE.replace("order_id: {type: string}", "order_id: {type: integer}"),
            "major",
            'tool "lookup_order": parameter "order_id": type "string" -> "integer"',
        ),
        (
            INLINE.replace("\n      required: [order_id]", ""),
            "minor",
            'tool "lookup_order": parameter "order_id" is now optional',
        ),
        ("", "major", 'tool "lookup_order" removed'),
        (
            INLINE.replace("name: lookup_order", "name: find_order"),
            "major",
            'tool "lookup_order" renamed to "find_order"',
        ),
        (INLINE + "  - name: refund\n", "minor", 'tool "refund" added'),
    ],
    ids=[
        "description",
        "optional",
        "required",
        "retyped",
        "made-optional",
        "removed",
        "renamed",
        "added",
    ],
)
def test_each_kind_of_tool_change_gets_its_version(  # type: ignore[no-untyped-def]
    tool_repo: GitRepo, cli, new_tools: str, change: str, reason: str
) -> None:
    version, got, reasons = _bump(
        cli, tool_repo, {"prompts/triage.prompt": triage(new_tools + SHARED)}
    )
    assert got == change, reasons
    assert reason in reasons
    assert version == {"patch": "1.0.1", "minor": "1.1.0", "major": "2.0.0"}[change]


def test_a_shared_tool_file_versions_every_prompt_that_uses_it(tool_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    tool_repo.commit(
        "escalate gains a priority",
        {
            "prompts/tools/escalate.yaml": ESCALATE_YAML.replace(
                "    reason: {type: string}",
                "    reason: {type: string}\n    priority: {type: integer}",
            )
        },
    )
    for ident in ("triage", "reply"):
        top = log(cli, tool_repo, ident)[0]
        assert (top["version"], top["change"]) == ("1.1.0", "minor"), top
        assert top["reasons"] == ['tool "escalate": parameter "priority" added (optional)']
        assert top["subject"] == "escalate gains a priority"
    # the file's own formatting is a patch, not a tool change
    tool_repo.commit(
        "reformat", {"prompts/tools/escalate.yaml": "# shared\n" + log_text(tool_repo)}
    )
    top = log(cli, tool_repo, "reply")[0]
    assert (top["version"], top["change"]) == ("1.1.1", "patch"), top


def log_text(repo: GitRepo) -> str:
    return (repo.path / "prompts/tools/escalate.yaml").read_text()


def test_status_and_the_commit_hook_see_a_staged_tool_file(tool_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    tool_repo.write({"prompts/tools/escalate.yaml": ESCALATE_YAML.replace("[reason]", "[]")})
    tool_repo.git("add", "-A")
    r = cli(["status", "--staged", "--json"], cwd=tool_repo.path)
    assert r.exit_code == 0, r.err
    rows = {row["id"]: row for row in json.loads(r.out)}
    assert set(rows) == {"triage", "reply"}
    assert rows["reply"]["change"] == "minor"
    assert 'tool "escalate": parameter "reason" is now optional' in rows["reply"]["reasons"]


def test_tool_choice_is_a_params_change(tool_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    version, change, reasons = _bump(
        cli,
        tool_repo,
        {
            "prompts/triage.prompt": triage(
                INLINE + SHARED, "{temperature: 0, tool_choice: required}"
            )
        },
    )
    assert (version, change) == ("1.1.0", "minor")
    assert reasons == ['params.tool_choice set to "required"']
    r = cli(["check", "prompts/triage.prompt"], cwd=tool_repo.path)
    assert r.exit_code == 0, r.out


def test_diff_shows_tool_changes(tool_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    tool_repo.commit(
        "tools",
        {
            "prompts/triage.prompt": triage(
                INLINE.replace("Find an order by its id", "Look it up") + "  - name: refund\n"
            )
        },
    )
    r = cli(["diff", "triage@1.0.0", "triage@latest", "--json"], cwd=tool_repo.path)
    assert r.exit_code == 0, r.err
    d = json.loads(r.out)
    assert d["change"] == "major"
    tools = d["tools"]
    assert [t["name"] for t in tools["added"]] == ["refund"]
    assert [t["name"] for t in tools["removed"]] == ["escalate"]
    assert tools["removed"][0]["from"]["ref"] == "prompts/tools/escalate.yaml"
    assert tools["added"][0]["to"] == {
        "name": "refund",
        "parameters": {"type": "object", "properties": {}},
    }
    (changed,) = tools["changed"]
    assert changed["name"] == "lookup_order"
    assert changed["to"]["description"] == "Look it up"
    assert '+  "description": "Look it up",' in changed["diff"]
    text = cli(["diff", "triage@1.0.0", "triage@latest"], cwd=tool_repo.path).out
    assert "+++ tool refund (after)" in text and "--- tool escalate (before)" in text
    assert '-  "description": "Find an order by its id",' in text


def test_a_tool_file_change_in_the_working_tree_shows_in_diff(tool_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    tool_repo.write({"prompts/tools/escalate.yaml": ESCALATE_YAML.replace("[reason]", "[]")})
    r = cli(["diff", "reply", "--json"], cwd=tool_repo.path)
    assert r.exit_code == 0, r.err
    d = json.loads(r.out)
    assert d["change"] == "minor"
    assert [c["name"] for c in d["tools"]["changed"]] == ["escalate"]


# --- export and loomgit.load() ------------------------------------------------------------


@pytest.fixture
def promoted(tool_repo: GitRepo, cli) -> GitRepo:  # type: ignore[no-untyped-def]
    clear_cache()
    output = (
        "output:\n  format: json\n  schema: {type: object, required: [queue], "
        "properties: {queue: {type: string}}}\n"
    )
    tool_repo.commit("json", {"prompts/triage.prompt": triage(INLINE + SHARED, output=output)})
    r = cli(["promote", "triage", "latest", "--to", "staging"], cwd=tool_repo.path)
    assert r.exit_code == 0, r.err
    r = cli(["promote", "triage", "staging", "--to", "production"], cwd=tool_repo.path)
    assert r.exit_code == 0, r.err
    # a later edit of the shared file must not reach what production serves
    tool_repo.commit(
        "escalate renamed",
        {"prompts/tools/escalate.yaml": ESCALATE_YAML.replace("escalate", "handoff")},
    )
    return tool_repo


def _check_loaded(p: Any) -> None:
    assert [t.name for t in p.tools] == ["lookup_order", "escalate"]
    assert p.tools[1].ref == "prompts/tools/escalate.yaml"
    assert p.output.schema["required"] == ["queue"]
    params = p.request_params()
    assert [t["function"]["name"] for t in params["tools"]] == ["lookup_order", "escalate"]
    assert params["response_format"]["type"] == "json_schema"
    assert params["response_format"]["json_schema"]["schema"]["required"] == ["queue"]
    assert params["temperature"] == 0
    assert p.render(ticket="x")[-1] == {"role": "user", "content": "x"}


def test_load_from_the_repository_carries_tools_and_output(promoted: GitRepo) -> None:
    _check_loaded(loomgit.load("triage", stage="production", repo=promoted.path))


def test_the_bundle_carries_tools_and_output(promoted: GitRepo, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "bundle.json"
    r = cli(["export", "--stage", "production", "-o", str(out)], cwd=promoted.path)
    assert r.exit_code == 0, r.err
    entry = json.loads(out.read_text())["prompts"]["triage"]
    assert "prompts/tools/escalate.yaml" in entry["includes"]
    assert [t["function"]["name"] for t in entry["tools"]] == ["lookup_order", "escalate"]
    assert entry["tools"][0] == {"type": "function", "function": LOOKUP}
    assert entry["output"]["format"] == "json"
    p = loomgit.load("triage", stage="production", bundle=out)
    _check_loaded(p)
    assert p.to_dict()["tools"][1]["ref"] == "prompts/tools/escalate.yaml"


# --- other formats ------------------------------------------------------------------------

PROMPTY = """---
name: Triage
model:
  id: gpt-4o-mini
  provider: openai
tools:
  - name: lookup_order
    kind: function
    description: Find an order
    parameters:
      - name: order_id
        kind: string
        required: true
      - name: lines
        kind: array
        items: {kind: object, properties: [{name: sku, kind: string, required: true}]}
  - name: web
    kind: bing_search
    connection: {kind: key, endpoint: "https://example.invalid"}
inputs:
  ticket: {kind: string}
---
user:
{{ticket}}
"""


def test_prompty_function_tools_map_to_tools_and_server_tools_are_left_out() -> None:
    p = parse_prompt(PROMPTY, "prompts/triage.prompty")
    (tool,) = p.tools
    assert tool.name == "lookup_order" and tool.description == "Find an order"
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "order_id": {"type": "string"},
            "lines": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"sku": {"type": "string"}},
                    "required": ["sku"],
                },
            },
        },
        "required": ["order_id"],
    }


def test_prompty_legacy_parameters_tools_map_to_tools() -> None:
    legacy = """---
name: Legacy
model:
  api: chat
  configuration: {type: openai, name: gpt-4o-mini}
  parameters:
    max_tokens: 100
    tools:
      - type: function
        function: {name: lookup_order, parameters: {type: object, properties: {}}}
---
user:
hi
"""
    p = parse_prompt(legacy, "prompts/legacy.prompty")
    assert [t.name for t in p.tools] == ["lookup_order"]
    assert p.call_params() == {
        "max_tokens": 100,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup_order",
                    "parameters": {"type": "object", "properties": {}},
                },
            }
        ],
    }


def test_github_models_json_schema_is_sent_as_response_format() -> None:
    text = """name: Triage
model: openai/gpt-4o-mini
responseFormat: json_schema
jsonSchema: |
  {"name": "triage", "strict": true, "schema": {"type": "object", "properties": {"queue": {"type": "string"}}}}
messages:
  - role: user
    content: "{{ticket}}"
"""
    p = parse_prompt(text, "prompts/triage.prompt.yml")
    fmt = p.call_params()["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"]["properties"] == {"queue": {"type": "string"}}


def test_the_commit_hook_reads_tool_files_from_the_index(tool_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    # a staged prompt naming a tool file that is written but not staged: blocked
    tool_repo.write(
        {
            "prompts/refund.prompt": triage("  - $ref: prompts/tools/refund.json\n"),
            "prompts/tools/refund.json": json.dumps({**LOOKUP, "name": "refund"}),
        }
    )
    tool_repo.git("add", "prompts/refund.prompt")
    r = cli(["hook", "check"], cwd=tool_repo.path)
    assert r.exit_code == 1, r.out + r.err
    # the index has no such file: as for an include, it is not found
    expected = "prompts/refund.prompt:5: error: tool file 'prompts/tools/refund.json' not found"
    assert r.out.startswith(expected), r.out
    # staged, it passes; a staged bad schema in the file is caught
    tool_repo.git("add", "prompts/tools/refund.json")
    assert cli(["hook", "check"], cwd=tool_repo.path).exit_code == 0
    bad = {**LOOKUP, "name": "refund", "parameters": {"type": "object", "required": "order_id"}}
    tool_repo.write({"prompts/tools/refund.json": json.dumps(bad)})
    tool_repo.git("add", "-A")
    r = cli(["hook", "check", "prompts/refund.prompt"], cwd=tool_repo.path)
    assert r.exit_code == 1, r.out
    assert (
        'tool "refund" (prompts/tools/refund.json): parameters are not valid JSON Schema' in r.out
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 5000 + "]" * 5000, "JSON nests deeper than 200 levels"),
        (
            '{"name": "t", "parameters": ' + '{"items": ' * 300 + "{}" + "}" * 300 + "}",
            "nests deeper",
        ),
        ("null", "a tool must be a mapping"),
        ("[]", "must hold a tool or a list of tools"),
    ],
    ids=["deep-list", "deep-schema", "null", "empty"],
)
def test_a_hostile_tool_file_is_one_line(tool_repo: GitRepo, cli, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    tool_repo.commit(
        "hostile",
        {
            "prompts/x.prompt": triage("  - $ref: prompts/tools/x.json\n"),
            "prompts/tools/x.json": text,
        },
    )
    for args in (["check", "prompts/x.prompt"], ["render", "x"]):
        r = cli(args, cwd=tool_repo.path)
        assert r.exit_code == 1, r.out + r.err
        assert message in r.out + r.err
        assert "Traceback" not in r.out + r.err
    assert cli(["list"], cwd=tool_repo.path).exit_code == 0  # history lists it anyway


def test_a_version_reads_its_own_commits_tool_file(tool_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    tool_repo.commit(
        "reply says more", {"prompts/reply.prompt": triage(SHARED).replace("triage", "answer")}
    )
    # an uncommitted edit of the shared file reaches neither committed side
    tool_repo.write({"prompts/tools/escalate.yaml": ESCALATE_YAML.replace("escalate", "handoff")})
    r = cli(["diff", "reply@1.0.0", "reply@latest", "--json"], cwd=tool_repo.path)
    assert r.exit_code == 0, r.err
    assert json.loads(r.out)["tools"] is None
    r = cli(["diff", "reply@latest", "reply", "--json"], cwd=tool_repo.path)  # the working tree
    d = json.loads(r.out)
    assert d["change"] == "major"
    assert 'tool "escalate" renamed to "handoff"' in d["reasons"]
