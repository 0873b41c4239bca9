"""Run records: every eval appended to ``.git/loomgit/runs.sqlite``.

The database is the contract other parts read (``loomgit stats``, batch runs, lineage):

``runs``    one row per run: run_id, started_at (ISO 8601 UTC), commit_sha, shard, kind
            (eval | compare-base | compare-head), status (passed|failed|error), cases,
            passed, failed, errors, cost_usd, duration_s
``results`` one row per sample: run_id, created_at, prompt, version, content_hash,
            commit_sha, suite, case_name, case_status, model, sample, passed (1/0, NULL for an
            error), score, latency_ms, input_tokens, output_tokens, cost_usd, cached, error

``PRAGMA user_version`` holds :data:`SCHEMA_VERSION`. Writers use WAL mode and one
transaction per run, so a run is recorded whole or not at all.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loomgit._git import git_dir
from loomgit.errors import InfraError, UsageError
from loomgit.evals.distribution import percentile

if TYPE_CHECKING:
    import sqlite3

    from loomgit.evals.results import EvalReport
    from loomgit.workspace import Workspace

SCHEMA_VERSION = 1
DB_NAME = "runs.sqlite"
GROUPS = ("prompt", "version", "day", "model", "case")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    commit_sha TEXT,
    shard TEXT,
    kind TEXT NOT NULL DEFAULT 'eval',
    status TEXT NOT NULL,
    cases INTEGER NOT NULL DEFAULT 0,
    passed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL,
    duration_s REAL
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    created_at TEXT NOT NULL,
    prompt TEXT NOT NULL,
    version TEXT,
    content_hash TEXT,
    commit_sha TEXT,
    suite TEXT,
    case_name TEXT NOT NULL,
    case_status TEXT,
    model TEXT NOT NULL,
    sample INTEGER NOT NULL DEFAULT 0,
    passed INTEGER,
    score REAL,
    latency_ms REAL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost_usd REAL,
    cached INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX IF NOT EXISTS results_prompt ON results(prompt, version);
CREATE INDEX IF NOT EXISTS results_created ON results(created_at);
CREATE INDEX IF NOT EXISTS results_run ON results(run_id);
"""


def db_path(ws: Workspace) -> Path | None:
    gd = git_dir(ws.root)
    return gd / "loomgit" / DB_NAME if gd is not None else None


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """An open database with the schema in place (created on first use)."""
    import sqlite3

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(str(path), timeout=30)
    except (OSError, sqlite3.Error) as e:
        raise InfraError(f"cannot open the run records at {path}: {e}") from None
    try:
        try:
            con.execute("PRAGMA journal_mode=WAL")
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise InfraError(
                    f"{path} was written by a newer loomgit (schema {version}); "
                    "upgrade loomgit to read it"
                )
            if version < SCHEMA_VERSION:
                con.executescript(_SCHEMA)
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                con.commit()
        except sqlite3.DatabaseError as e:
            raise InfraError(
                f"the run records at {path} are unreadable ({e}); move the file "
                "away to start afresh"
            ) from None
        yield con
    finally:
        con.close()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def record_report(ws: Workspace, report: EvalReport, kind: str = "eval") -> str | None:
    """Append ``report`` to the run records; returns its run id (None outside git)."""
    path = db_path(ws)
    if path is None:
        return None
    import sqlite3

    run_id = report.run_id or uuid.uuid4().hex
    report.run_id = run_id
    when = report.started_at or _now()
    report.started_at = when
    s = report.summary()
    shard = f"{report.shard[0]}/{report.shard[1]}" if report.shard else None

    def rows() -> Iterator[tuple[Any, ...]]:  # one sample at a time from the spool
        for suite in report.suites:
            for r in suite.cases:
                for smp in r.samples:
                    yield (
                        run_id,
                        when,
                        r.prompt,
                        r.version,
                        suite.content_hash,
                        r.commit or report.commit,
                        r.suite,
                        r.case,
                        r.status,
                        r.provider,
                        smp.index,
                        None if smp.passed is None else int(smp.passed),
                        smp.score,
                        smp.latency_ms,
                        smp.input_tokens,
                        smp.output_tokens,
                        smp.cost_usd,
                        int(smp.cached),
                        smp.error,
                    )

    with connect(path) as con:
        try:
            with con:
                con.execute(
                    "INSERT INTO runs (run_id, started_at, commit_sha, shard, kind, status, "
                    "cases, passed, failed, errors, cost_usd, duration_s) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        run_id,
                        when,
                        report.commit,
                        shard,
                        kind,
                        report.status,
                        s["cases"],
                        s["passed"],
                        s["failed"],
                        s["errors"],
                        s["cost_usd"],
                        s["duration_s"],
                    ),
                )
                con.executemany(
                    "INSERT INTO results (run_id, created_at, prompt, version, "
                    "content_hash, commit_sha, suite, case_name, case_status, model, "
                    "sample, passed, score, latency_ms, input_tokens, output_tokens, "
                    "cost_usd, cached, error) VALUES "
                    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    rows(),
                )
        except sqlite3.Error as e:
            raise InfraError(f"cannot write the run records at {path}: {e}") from None
    return run_id


def stats(
    ws: Workspace, by: str = "prompt", *, prompt: str | None = None, since: str | None = None
) -> list[dict[str, Any]]:
    """Aggregates of the recorded samples grouped by prompt, version, day, model or case.

    Each row: the group's key fields, runs, samples, errors, pass_rate (passed / scored
    samples), mean_score, p50_latency_ms, p95_latency_ms, tokens, cost_usd, last_run."""
    if by not in GROUPS:
        raise UsageError(f"--by {by!r}: choose one of {', '.join(GROUPS)}")
    path = db_path(ws)
    if path is None or not path.is_file():
        return []
    keys = {
        "prompt": ["prompt"],
        "version": ["prompt", "version"],
        "day": ["day"],
        "model": ["model"],
        "case": ["prompt", "case_name"],
    }[by]
    where, args = [], []
    if prompt:
        where.append("prompt = ?")
        args.append(prompt)
    if since:
        where.append("created_at >= ?")
        args.append(since)
    sql = (
        "SELECT prompt, version, substr(created_at, 1, 10) AS day, model, case_name, run_id, "
        "passed, score, latency_ms, input_tokens, output_tokens, cost_usd, created_at "
        "FROM results" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    )
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    with connect(path) as con:
        for row in con.execute(sql, args):
            rec = dict(
                zip(
                    (
                        "prompt",
                        "version",
                        "day",
                        "model",
                        "case_name",
                        "run_id",
                        "passed",
                        "score",
                        "latency_ms",
                        "input_tokens",
                        "output_tokens",
                        "cost_usd",
                        "created_at",
                    ),
                    row,
                )
            )
            k = tuple(rec[x] for x in keys)
            g = groups.setdefault(
                k,
                {
                    "key": dict(zip(keys, k)),
                    "runs": set(),
                    "samples": 0,
                    "errors": 0,
                    "passed": 0,
                    "scores": [],
                    "lat": [],
                    "tokens": 0,
                    "cost": 0.0,
                    "last": "",
                },
            )
            g["runs"].add(rec["run_id"])
            g["samples"] += 1
            if rec["passed"] is None:
                g["errors"] += 1
            else:
                g["passed"] += rec["passed"]
                if rec["score"] is not None:
                    g["scores"].append(rec["score"])
                if rec["latency_ms"] is not None:
                    g["lat"].append(rec["latency_ms"])
            g["tokens"] += (rec["input_tokens"] or 0) + (rec["output_tokens"] or 0)
            g["cost"] += rec["cost_usd"] or 0.0
            g["last"] = max(g["last"], rec["created_at"])
    out = []
    for g in groups.values():
        scored = g["samples"] - g["errors"]
        out.append(
            {
                **g["key"],
                "runs": len(g["runs"]),
                "samples": g["samples"],
                "errors": g["errors"],
                "pass_rate": round(g["passed"] / scored, 6) if scored else None,
                "mean_score": round(sum(g["scores"]) / len(g["scores"]), 6)
                if g["scores"]
                else None,
                "p50_latency_ms": round(percentile(g["lat"], 50), 3) if g["lat"] else None,
                "p95_latency_ms": round(percentile(g["lat"], 95), 3) if g["lat"] else None,
                "tokens": g["tokens"],
                "cost_usd": round(g["cost"], 9),
                "last_run": g["last"],
            }
        )
    return sorted(out, key=lambda r: tuple(str(r.get(k) or "") for k in keys))


def runs(ws: Workspace, limit: int = 20) -> Sequence[dict[str, Any]]:
    """The most recent runs, newest first."""
    path = db_path(ws)
    if path is None or not path.is_file():
        return []
    cols = (
        "run_id",
        "started_at",
        "commit_sha",
        "shard",
        "kind",
        "status",
        "cases",
        "passed",
        "failed",
        "errors",
        "cost_usd",
        "duration_s",
    )
    with connect(path) as con:
        rows = con.execute(
            f"SELECT {', '.join(cols)} FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?",
            (limit,),
        ).fetchall()
    return [dict(zip(cols, r)) for r in rows]
