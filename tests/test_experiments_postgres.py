"""The PostgreSQL outcome store against a real server: a throwaway cluster started here
with initdb/pg_ctl in a temporary folder (as the 'postgres' user when the tests run as
root, since PostgreSQL refuses to run as root), or the server named by
LOOMGIT_TEST_POSTGRES_URL. Skipped, with the reason, when neither is possible."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, SUMMARIZE, GitRepo

import loomgit

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg is not installed (pip install 'loomgit[postgres]')"
)

SPEC = """\
prompt: support/summarize
variants:
  control: support/summarize
  treatment: support/summarize
metric: {type: rate, name: resolved}
min_samples: 100
"""


def _pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(d) / "initdb").is_file():
            return Path(d)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A URL to a PostgreSQL server's maintenance database."""
    external = os.environ.get("LOOMGIT_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb) here; install Debian's "
            "'postgresql' package or set LOOMGIT_TEST_POSTGRES_URL"
        )
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:
        import pwd

        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root and 'runuser' is missing to drop to the postgres user")
        prefix = [runuser, "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="loomgit-pg-"))
    if owner is not None:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, port = base / "data", _free_port()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=120, cwd=base
        )

    init = run(
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--no-sync",
    )
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"initdb failed: {(init.stderr.strip().splitlines() or ['?'])[-1]}")
    opts = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c max_connections=50"
    )
    start = run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(base / "log"),
        "-w",
        "-t",
        "60",
        "-o",
        opts,
        "start",
    )
    if start.returncode != 0:
        log = (base / "log").read_text(errors="replace") if (base / "log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"the PostgreSQL server did not start: {(log or start.stderr).strip()[-300:]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(server: str) -> Iterator[str]:
    """A fresh, empty database for one test."""
    name = "loomgit_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    url = server.rsplit("/", 1)[0] + "/" + name
    yield url
    with psycopg.connect(server, autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def exp_repo(repo: GitRepo) -> GitRepo:
    repo.commit(
        "prompt and experiment",
        {"prompts/support/summarize.prompt": SUMMARIZE, "experiments/tone.yaml": SPEC},
    )
    return repo


def _rounded(obj: object) -> object:
    if isinstance(obj, float):
        return float(f"{obj:.10g}")
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


def _record(exp: loomgit.experiments.Experiment, n: int, seed: int = 0) -> None:  # type: ignore[name-defined]
    for i in range(n):
        unit = f"u{seed}-{i}"
        name = exp.variant_name(unit)
        exp.record(name, unit, success=(i * 13 + seed) % (3 if name == "control" else 2) == 0)


def test_postgres_and_sqlite_give_the_same_status(exp_repo: GitRepo, pg_url: str) -> None:
    with (
        loomgit.experiment("tone", exp_repo.path, store=pg_url) as pg,
        loomgit.experiment("tone", exp_repo.path) as lite,
    ):
        assert pg.store_url == pg_url and lite.store_url.startswith("sqlite:///")
        _record(pg, 600)
        _record(lite, 600)
        a, b = pg.status().to_dict(), lite.status().to_dict()
    a.pop("store")
    b.pop("store")
    assert _rounded(a) == _rounded(b)  # sums in another database: equal to ~1e-12
    assert a["verdict"] == "winner"
    with psycopg.connect(pg_url) as db:
        assert db.execute("SELECT COUNT(*) FROM loomgit_outcomes").fetchone()[0] == 600


WORKER = """
import sys, loomgit
k, n, url = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with loomgit.experiment("tone", store=url) as exp:
    for i in range(n):
        unit = f"p{k}-u{i}"
        exp.record(exp.variant_name(unit), unit, success=i % 2 == 0)
"""


@pytest.mark.slow
def test_eight_processes_lose_nothing_and_race_to_create_the_table(
    exp_repo: GitRepo, pg_url: str
) -> None:
    n = 1_000  # each outcome is one transaction: keep the test to a few seconds
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(k), str(n), pg_url],
            cwd=exp_repo.path,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(8)
    ]
    errs = [p.communicate(timeout=180)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, [e[-400:] for e in errs]
    with psycopg.connect(pg_url) as db:
        total, units = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT unit) FROM loomgit_outcomes"
        ).fetchone()
    assert (total, units) == (8 * n, 8 * n)


def test_cli_status_hides_the_password(exp_repo: GitRepo, pg_url: str, cli) -> None:  # type: ignore[no-untyped-def]
    secret_url = pg_url.replace("postgres@", "postgres:hunter2-secret@")  # trust auth ignores it
    with loomgit.experiment("tone", exp_repo.path, store=secret_url) as exp:
        _record(exp, 50)
    r = cli(["experiment", "status", "tone", "--json", "--store", secret_url], cwd=exp_repo.path)
    assert r.exit_code == 0, r.err
    assert "hunter2" not in r.out + r.err
    assert json.loads(r.out)["store"] == pg_url.replace("postgres@", "postgres:***@")


def test_unreachable_server_is_one_line_exit_3_without_the_password(exp_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    url = f"postgresql://app:hunter2-secret@127.0.0.1:{_free_port()}/exp?connect_timeout=3"
    r = cli(["experiment", "status", "tone", "--store", url], cwd=exp_repo.path)
    assert r.exit_code == 3
    assert r.err.startswith("loomgit: error: experiment store postgresql://app:***@127.0.0.1:")
    assert r.err.count("\n") == 1 and "hunter2" not in r.err and r.out == ""
