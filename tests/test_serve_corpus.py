"""Every bad request in tests/corpus/serve/requests is a JSON error with the status and
type it names and one line of message; every bad keys file in tests/corpus/serve/keys is
one line on stderr, exit 2, before the server starts."""

from __future__ import annotations

import json

import pytest
from conftest import CORPUS, SUMMARIZE, GitRepo
from serve_server import running

from loomgit.app.bundle import clear_cache

REQUESTS = sorted((CORPUS / "serve" / "requests").glob("*.json"))
KEYS = json.loads((CORPUS / "serve" / "keys" / "expected.json").read_text())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from loomgit.cli import main

    repo = GitRepo(tmp_path_factory.mktemp("serve") / "repo")
    repo.commit(
        "add",
        {"prompts/support/summarize.prompt": SUMMARIZE.replace("openai/gpt-4o-mini", "echo")},
    )
    clear_cache()
    for args in (
        ["summarize", "1.0.0", "--to", "staging"],
        ["summarize", "1.0.0", "--to", "production"],
    ):
        assert main(["-C", str(repo.path), "promote", *args]) == 0
    with running(repo.path) as (http, _, _):
        yield http


def test_the_keys_corpus_is_complete() -> None:
    on_disk = {p.name for p in (CORPUS / "serve" / "keys").glob("*.txt")}
    assert on_disk == set(KEYS)


@pytest.mark.parametrize("path", REQUESTS, ids=[p.stem for p in REQUESTS])
def test_bad_requests(server, path) -> None:  # type: ignore[no-untyped-def]
    case = json.loads(path.read_text())
    kw: dict = {}
    if "json" in case:
        kw["json"] = case["json"]
    elif "raw" in case:
        kw["content"] = case["raw"].encode()
    elif "raw_hex" in case:
        kw["content"] = bytes.fromhex(case["raw_hex"])
    elif "repeat" in case:
        kw["json"] = {"variables": {"ticket": "x" * case["repeat"]["ticket_chars"]}}
    r = server.request(case["method"], case["path"], **kw)
    assert r.status_code == case["status"], r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == case["type"], body
    message = body["error"]["message"]
    assert "\n" not in message and "Traceback" not in message
    assert case["says"] in message, message


@pytest.mark.parametrize("name", sorted(KEYS))
def test_bad_keys_files(repo: GitRepo, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    path = CORPUS / "serve" / "keys" / name
    r = cli(["serve", "--port", "0", "--keys-file", str(path)], cwd=repo.path)
    assert r.exit_code == 2, r.err
    assert r.err.count("\n") == 1 and r.err.startswith("loomgit: error: ")
    assert KEYS[name] in r.err and name in r.err
    assert "fk-1b2c3d4e5f607182" not in r.err
