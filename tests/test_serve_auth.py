"""``loomgit serve``'s API keys over real HTTP: scopes, hashed key files, rate limits,
loopback only without keys, and no key in any answer or log line."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SUMMARIZE, GitRepo, to_production
from serve_server import running

from loomgit.app.bundle import clear_cache

READ_KEY = "rk-3f9a1c0d7e5b4a2f"
EXEC_KEY = "ek-8d2e6b1a9c4f7e30"
FILE_KEY = "fk-1b2c3d4e5f607182"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_cache()


@pytest.fixture
def served(repo: GitRepo, cli) -> GitRepo:
    repo.commit(
        "add",
        {
            "prompts/support/summarize.prompt": SUMMARIZE.replace(
                "model: openai/gpt-4o-mini", "model: echo"
            )
        },
    )
    to_production(cli, repo)
    return repo


ENV = {"LOOMGIT_SERVE_KEYS": f"read:{READ_KEY}, execute:{EXEC_KEY}"}
RUN = {"prompt": "support/summarize", "variables": {"ticket": "VPN down"}}


def _status(r, status: int, kind: str) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.json()["error"]["type"] == kind


def test_keys_and_scopes(served: GitRepo) -> None:
    with running(served.path, env=ENV) as (http, lines, _):
        r = http.get("/v1/prompts/support/summarize")
        _status(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
        _status(
            http.get("/v1/prompts", headers={"Authorization": "Bearer wrong-key"}),
            401,
            "unauthorized",
        )
        _status(http.get("/v1/prompts", headers={"Authorization": READ_KEY}), 401, "unauthorized")
        read = {"Authorization": f"Bearer {READ_KEY}"}
        execute = {"Authorization": f"Bearer {EXEC_KEY}"}
        assert http.get("/v1/prompts", headers=read).status_code == 200
        assert http.get("/v1/prompts/support/summarize", headers=read).status_code == 200
        r = http.post(
            "/v1/prompts/support/summarize/render",
            json={"variables": {"ticket": "x"}},
            headers=read,
        )
        assert r.status_code == 200
        _status(http.post("/v1/executions", json=RUN, headers=read), 403, "forbidden")
        _status(http.post("/v1/executions", json=RUN), 401, "unauthorized")
        r = http.post("/v1/executions", json=RUN, headers=execute)
        assert r.status_code == 200 and "VPN down" in r.json()["completion"]["text"]
        assert http.get("/v1/prompts", headers=execute).status_code == 200  # execute can read
        _status(http.get("/metrics"), 401, "unauthorized")
        assert http.get("/metrics", headers=read).status_code == 200
        assert http.get("/healthz").status_code == 200  # probes need no key
        # the key's name is logged, never the key or its header
        entries = [json.loads(x) for x in lines.lines]
        assert {e["key"] for e in entries} >= {"env-1", "env-2", None}
        everything = "\n".join(lines.lines)
        for secret in (READ_KEY, EXEC_KEY, "Bearer"):
            assert secret not in everything


def test_a_keys_file_holds_hashes_and_limits(served: GitRepo, tmp_path: Path) -> None:
    digest = hashlib.sha256(FILE_KEY.encode()).hexdigest()
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# name scope hash rpm\nbatch-app execute sha256:{digest} 3\n")
    with running(served.path, keys_file=str(keys)) as (http, lines, _):
        auth = {"Authorization": f"Bearer {FILE_KEY}"}
        for _ in range(3):
            assert http.get("/v1/prompts", headers=auth).status_code == 200
        r = http.get("/v1/prompts", headers=auth)
        _status(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) >= 1
        assert "batch-app" in r.json()["error"]["message"]
        assert FILE_KEY not in r.text and FILE_KEY not in "\n".join(lines.lines)


def test_without_keys_only_loopback(served: GitRepo) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "loomgit", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=served.path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2
    assert p.stderr.strip() == (
        "loomgit: error: --host 0.0.0.0: no API keys are configured, so the server answers "
        "only on loopback (set LOOMGIT_SERVE_KEYS or --keys-file to serve other hosts)"
    )


def test_bad_key_variable_is_a_usage_error_without_the_key(served: GitRepo) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "loomgit", "serve", "--port", "0"],
        cwd=served.path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "LOOMGIT_SERVE_KEYS": f"admin:{EXEC_KEY}"},
    )
    assert p.returncode == 2 and "scope 'admin'" in p.stderr and EXEC_KEY not in p.stderr
