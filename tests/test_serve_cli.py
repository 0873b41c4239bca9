"""``loomgit serve`` as a user starts it: the line it prints, a real request, a clean
stop; without the serve extra, one line and exit 2; and nothing of the server is loaded
by other commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest
from conftest import SUMMARIZE, GitRepo, to_production


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_starts_answers_and_stops(repo: GitRepo, cli, stop: int) -> None:  # type: ignore[no-untyped-def]
    repo.commit("add", {"prompts/support/summarize.prompt": SUMMARIZE})
    to_production(cli, repo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "loomgit", "serve", "--port", "0"],
        cwd=repo.path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        note = proc.stderr.readline()
        assert note == (
            "loomgit: note: no API keys configured: answering without authentication, "
            "on loopback only\n"
        )
        line = proc.stderr.readline()
        assert line.startswith(
            f"loomgit: serving repository {repo.path.resolve()} at http://127.0.0.1:"
        )
        assert line.endswith(" (stage production)\n")
        url = line.split(" at ", 1)[1].split(" ", 1)[0]
        r = httpx.get(f"{url}/v1/prompts/support/summarize", timeout=30)
        assert r.status_code == 200 and r.json()["version"] == "1.0.0"
        assert "server" not in r.headers
        access = proc.stderr.readline()
        assert '"path": "/v1/prompts/support/summarize"' in access and '"status": 200' in access
    finally:
        proc.send_signal(stop)
        proc.wait(30)
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == 0


def test_without_the_serve_extra_one_line(repo: GitRepo) -> None:
    hide = (
        "import sys; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None; "
        "from loomgit.cli import main; sys.exit(main(['serve']))"
    )
    p = subprocess.run([sys.executable, "-c", hide], cwd=repo.path, capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr == (
        "loomgit: error: loomgit serve needs starlette and uvicorn: pip install 'loomgit[serve]'\n"
    )


def test_other_commands_do_not_load_the_server(repo: GitRepo) -> None:
    code = (
        "import sys; from loomgit.cli import main; main(['--version']); main(['list', '--json']); "
        "print(sorted(m for m in sys.modules if m.startswith(('loomgit.serve', 'starlette', 'uvicorn'))))"
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo.path,
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert p.stdout.strip().splitlines()[-1] == "[]", p.stdout + p.stderr


def test_what_cannot_be_served_is_one_line(repo: GitRepo, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import socket

    r = cli(["serve", "--port", "0", "--bundle", str(tmp_path / "nope.json")], cwd=repo.path)
    assert (
        r.exit_code == 1
        and r.err == f"loomgit: error: {tmp_path / 'nope.json'}: bundle file not found\n"
    )
    (tmp_path / "half.json").write_text('{"format": "loomgit-bundle", "sche')
    r = cli(["serve", "--port", "0", "--bundle", str(tmp_path / "half.json")], cwd=repo.path)
    assert r.exit_code == 1 and r.err.count("\n") == 1 and "not a JSON bundle" in r.err
    outside = tmp_path / "plain"
    outside.mkdir()
    r = cli(["serve", "--port", "0"], cwd=outside)
    assert r.exit_code == 1 and r.err.count("\n") == 1 and "is not inside a git repository" in r.err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        repo.commit("add", {"prompts/support/summarize.prompt": SUMMARIZE})
        r = cli(["serve", "--port", str(port)], cwd=repo.path)
    assert r.exit_code == 2 and r.err.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in r.err
