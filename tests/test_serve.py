"""``loomgit serve`` over real HTTP on 127.0.0.1: the read and render endpoints, errors,
following promotions and bundle changes without a restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import SUMMARIZE, GitRepo, to_production
from serve_server import running

from loomgit.app.bundle import clear_cache

PROMPT = "prompts/support/summarize.prompt"
V2 = SUMMARIZE.replace("Summarize this ticket:", "Summarize this ticket in two sentences:")
TRIAGE = """---
description: Triage a ticket
variables:
  ticket: {type: string}
  history: {type: messages, required: false, default: []}
tools:
  - name: escalate
    description: Page the on-call engineer
    parameters: {type: object, properties: {reason: {type: string}}, required: [reason]}
output:
  format: json
  schema: {type: object, properties: {priority: {type: string}}}
---
system:
{% include "partials/tone.md" %}

{{ history }}

user:
Triage: {{ ticket }}
"""


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_cache()


@pytest.fixture
def promoted(repo: GitRepo, cli) -> GitRepo:
    """summarize 1.0.0 on production and 1.1.0 on staging; ops/triage on production."""
    repo.commit(
        "add",
        {
            PROMPT: SUMMARIZE,
            "prompts/ops/triage.prompt": TRIAGE,
            "partials/tone.md": "Be calm.",
            "loomgit.yaml": "includes: [partials/]\n",
        },
    )
    repo.commit("two sentences", {PROMPT: V2})
    to_production(cli, repo)
    r = cli(["promote", "summarize", "1.1.0", "--to", "staging"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    to_production(cli, repo, "ops/triage")
    (repo.path / PROMPT).write_text("user:\nuncommitted\n")  # never served
    return repo


def _version(http, path: str, want: str) -> str:  # type: ignore[no-untyped-def]
    """The version served at ``path`` once it is ``want``: a stage branch's ref files are
    looked at every 0.1 s (the deadline is far above that, for a loaded machine)."""
    deadline = time.monotonic() + 10
    while True:
        got = str(http.get(path).json()["version"])
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.02)


def _error(r, status: int, kind: str) -> str:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and body["error"]["type"] == kind, body
    message = body["error"]["message"]
    assert "\n" not in message and "Traceback" not in message
    return str(message)


def test_list_and_get_a_prompt(promoted: GitRepo) -> None:
    with running(promoted.path) as (http, _, _):
        r = http.get("/v1/prompts")
        assert r.status_code == 200
        listing = r.json()
        assert listing["stage"] == "production"
        assert [(p["id"], p["version"]) for p in listing["prompts"]] == [
            ("ops/triage", "1.0.0"),
            ("support/summarize", "1.0.0"),
        ]
        assert all(p["content_hash"] and p["stage"] == "production" for p in listing["prompts"])
        staging = http.get("/v1/prompts", params={"stage": "staging"}).json()
        assert (
            dict((p["id"], p["version"]) for p in staging["prompts"])["support/summarize"]
            == "1.1.0"
        )

        r = http.get("/v1/prompts/ops/triage")
        assert r.status_code == 200
        d = r.json()
        assert (d["id"], d["version"], d["stage"]) == ("ops/triage", "1.0.0", "production")
        assert r.headers["etag"] == f'"{d["content_hash"]}"'
        assert r.headers["cache-control"] == "max-age=5"
        assert d["messages"][0] == {
            "role": "system",
            "template": '{% include "partials/tone.md" %}',
        }
        assert {"role": "placeholder", "variable": "history"} in d["messages"]
        assert d["tools"][0]["function"]["name"] == "escalate"
        assert d["output"]["format"] == "json"
        assert d["variables"]["properties"]["ticket"] == {"type": "string"}
        assert d["variables"]["required"] == ["ticket"]
        for key in ("source_commit", "path", "description", "model", "params", "sample"):
            assert key in d

        # ETag: a client that has this content gets 304 and no body
        again = http.get("/v1/prompts/ops/triage", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == r.headers["etag"]
        other = http.get("/v1/prompts/ops/triage", headers={"If-None-Match": '"0000"'})
        assert other.status_code == 200

        s = http.get("/v1/prompts/support/summarize", params={"stage": "staging"}).json()
        assert s["version"] == "1.1.0" and "two sentences" in s["messages"][1]["template"]


def test_get_with_render_and_the_render_endpoint(promoted: GitRepo) -> None:
    with running(promoted.path) as (http, _, _):
        r = http.get(
            "/v1/prompts/support/summarize", params={"render": json.dumps({"ticket": "VPN down"})}
        )
        assert r.status_code == 200
        assert r.json()["rendered"] == [
            {"role": "system", "content": "You are an on-call assistant. Answer in a formal tone."},
            {"role": "user", "content": "Summarize this ticket: VPN down"},
        ]
        r = http.post(
            "/v1/prompts/ops/triage/render",
            json={
                "variables": {
                    "ticket": "disk full",
                    "history": [{"role": "user", "content": "earlier"}],
                }
            },
        )
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"id", "version", "content_hash", "messages"}
        assert body["messages"] == [
            {"role": "system", "content": "Be calm."},
            {"role": "user", "content": "earlier"},
            {"role": "user", "content": "Triage: disk full"},
        ]
        staged = http.post(
            "/v1/prompts/support/summarize/render",
            json={"variables": {"ticket": "x", "tone": "casual"}, "stage": "staging"},
        ).json()
        assert staged["version"] == "1.1.0"
        assert staged["messages"][1]["content"] == "Summarize this ticket in two sentences: x"
        assert staged["messages"][0]["content"].endswith("casual tone.")


def test_versions_and_commits_from_history(promoted: GitRepo) -> None:
    first = promoted.git("rev-list", "--max-parents=0", "HEAD")
    with running(promoted.path) as (http, _, _):
        d = http.get("/v1/prompts/support/summarize", params={"version": "1.1.0"}).json()
        assert d["version"] == "1.1.0" and "two sentences" in d["messages"][1]["template"]
        d = http.get("/v1/prompts/support/summarize", params={"ref": first}).json()
        assert d["version"] == "1.0.0" and d["source_commit"] == first
        r = http.post(
            "/v1/prompts/support/summarize/render",
            json={"variables": {"ticket": "x"}, "version": "1.0"},
        )
        assert r.json()["messages"][1]["content"] == "Summarize this ticket: x"
        msg = _error(
            http.get("/v1/prompts/support/summarize", params={"version": "7.0.0"}), 404, "not_found"
        )
        assert "7.0.0" in msg


def test_a_body_without_length_is_counted_as_it_arrives(promoted: GitRepo) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b" " * 65536

    with running(promoted.path) as (http, _, _):
        r = http.post("/v1/prompts/support/summarize/render", content=chunks())
        assert _error(r, 413, "body_too_large") == "the request body is over 1,048,576 bytes"


def test_a_promotion_is_served_without_a_restart(promoted: GitRepo, cli) -> None:
    with running(promoted.path) as (http, _, _):
        first = http.get("/v1/prompts/support/summarize")
        assert first.json()["version"] == "1.0.0"
        assert [p["version"] for p in http.get("/v1/prompts").json()["prompts"]] == ["1.0.0"] * 2
        r = cli(["promote", "summarize", "1.1.0", "--to", "production"], cwd=promoted.path)
        assert r.exit_code == 0, r.err
        assert _version(http, "/v1/prompts/support/summarize", "1.1.0") == "1.1.0"
        now = http.get(
            "/v1/prompts/support/summarize", headers={"If-None-Match": first.headers["etag"]}
        )
        assert now.status_code == 200 and now.json()["version"] == "1.1.0"
        listed = {p["id"]: p["version"] for p in http.get("/v1/prompts").json()["prompts"]}
        assert listed["support/summarize"] == "1.1.0"
        r = cli(["rollback", "summarize", "--stage", "production"], cwd=promoted.path)
        assert r.exit_code == 0, r.err
        assert _version(http, "/v1/prompts/support/summarize", "1.0.0") == "1.0.0"


def test_a_bundle_is_re_read_when_it_changes_and_a_broken_one_is_not_used(
    promoted: GitRepo, cli, tmp_path: Path
) -> None:
    bundle = tmp_path / "prompts.json"
    assert (
        cli(["export", "--stage", "production", "-o", str(bundle)], cwd=promoted.path).exit_code
        == 0
    )
    with running(tmp_path, bundle=str(bundle)) as (http, _, _):
        assert http.get("/readyz").status_code == 200
        d = http.get("/v1/prompts/support/summarize").json()
        assert d["version"] == "1.0.0" and d["stage"] == "production"
        _error(http.get("/v1/prompts", params={"stage": "staging"}), 404, "not_found")
        _error(
            http.get("/v1/prompts/support/summarize", params={"version": "1.1.0"}), 404, "not_found"
        )
        assert (
            cli(
                ["promote", "summarize", "1.1.0", "--to", "production"], cwd=promoted.path
            ).exit_code
            == 0
        )
        assert (
            cli(["export", "--stage", "production", "-o", str(bundle)], cwd=promoted.path).exit_code
            == 0
        )
        assert http.get("/v1/prompts/support/summarize").json()["version"] == "1.1.0"
        good = bundle.read_bytes()
        bundle.write_bytes(good[: len(good) // 2])  # a copy still being written in place
        assert http.get("/v1/prompts/support/summarize").json()["version"] == "1.1.0"
        ready = http.get("/readyz")
        assert (
            ready.status_code == 503 and "serving the copy read before" in ready.json()["problem"]
        )
        bundle.write_bytes(good)
        assert http.get("/readyz").status_code == 200


def test_health_openapi_and_metrics(promoted: GitRepo) -> None:
    with running(promoted.path) as (http, lines, _):
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").json()["status"] == "ready"
        doc = http.get("/openapi.json").json()
        assert doc["openapi"].startswith("3.1")
        assert {
            "/v1/prompts",
            "/v1/prompts/{id}",
            "/v1/prompts/{id}/render",
            "/v1/executions",
        } <= set(doc["paths"])
        etag = http.get("/v1/prompts/support/summarize").headers["etag"]
        http.get("/v1/prompts/support/summarize", headers={"If-None-Match": etag})
        http.get("/v1/prompts/nope")
        text = http.get("/metrics").text
        assert (
            'loomgit_serve_requests_total{method="GET",route="/v1/prompts/{id}",status="200"} 1'
            in text
        )
        assert (
            'loomgit_serve_requests_total{method="GET",route="/v1/prompts/{id}",status="404"} 1'
            in text
        )
        assert 'loomgit_serve_not_modified_total{route="/v1/prompts/{id}"} 1' in text
        assert 'loomgit_serve_request_duration_seconds_count{route="/v1/prompts/{id}"} 3' in text
        buckets = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(
                'loomgit_serve_request_duration_seconds_bucket{route="/v1/prompts/{id}"'
            )
        ]
        assert buckets == sorted(buckets) and buckets[-1] == 3  # cumulative, +Inf = count
        entries = [json.loads(line) for line in lines.lines]
        got = [e for e in entries if e["path"] == "/v1/prompts/support/summarize"]
        assert [e["status"] for e in got] == [200, 304]
        assert set(got[0]) >= {
            "time",
            "method",
            "path",
            "route",
            "status",
            "duration_ms",
            "bytes",
            "client",
        }


def test_cors_is_off_unless_an_origin_is_named(promoted: GitRepo) -> None:
    origin = {"Origin": "https://app.example.com"}
    with running(promoted.path) as (http, _, _):
        r = http.get("/v1/prompts/support/summarize", headers=origin)
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
        r = http.options(
            "/v1/prompts/support/summarize/render",
            headers={**origin, "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in r.headers
    with running(promoted.path, cors=("https://app.example.com",)) as (http, _, _):
        r = http.get("/v1/prompts/support/summarize", headers=origin)
        assert r.headers["access-control-allow-origin"] == "https://app.example.com"
        assert "etag" in r.headers["access-control-expose-headers"].lower()
        r = http.options(
            "/v1/prompts/support/summarize/render",
            headers={
                **origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://app.example.com"
        r = http.post(
            "/v1/prompts/support/summarize/render",
            json={"variables": {"ticket": "x"}},
            headers=origin,
        )
        assert r.status_code == 200 and r.json()["messages"][1]["content"].endswith("x")
        other = http.get(
            "/v1/prompts/support/summarize", headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers


def test_a_fetch_into_the_stage_branches_of_a_clone_is_served_at_once(
    promoted: GitRepo, cli, tmp_path: Path
) -> None:
    clone = tmp_path / "deployed"
    promoted.git("clone", "-q", "--no-local", str(promoted.path), str(clone))
    refspec = "+refs/heads/stage/*:refs/heads/stage/*"
    fetch = GitRepo.__new__(GitRepo)
    fetch.path = clone
    fetch.git("fetch", "-q", "origin", refspec)
    with running(clone) as (http, _, _):
        assert http.get("/v1/prompts/support/summarize").json()["version"] == "1.0.0"
        r = cli(["promote", "summarize", "1.1.0", "--to", "production"], cwd=promoted.path)
        assert r.exit_code == 0, r.err
        time.sleep(0.2)  # more than a look at the ref files lasts: nothing moved here yet
        assert http.get("/v1/prompts/support/summarize").json()["version"] == "1.0.0"
        fetch.git("fetch", "-q", "origin", refspec)
        assert _version(http, "/v1/prompts/support/summarize", "1.1.0") == "1.1.0"
