"""Batch runs in the run records (``.git/loomgit/runs.sqlite``, shared with evals): one
``runs`` row per batch run (``kind = 'batch'``; cases = records, passed = ok, failed =
quarantined) and one ``batch_runs`` row with the run's lineage and totals. A resumed run
updates its rows (same run id), so a run counts once however often it was interrupted.
Per-record results stay in the run's output files, not in the database."""

from __future__ import annotations

import datetime as _dt
import re
import sqlite3
from typing import Any

from loomgit.batch.model import BatchSummary
from loomgit.errors import InfraError
from loomgit.evals.records import connect, db_path
from loomgit.workspace import Workspace

BATCH_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL,
    prompt TEXT NOT NULL,
    version TEXT,
    content_hash TEXT,
    commit_sha TEXT,
    model TEXT NOT NULL,
    pipeline TEXT,
    suite TEXT,
    input TEXT,
    output TEXT,
    quarantine TEXT,
    records INTEGER NOT NULL DEFAULT 0,
    ok INTEGER NOT NULL DEFAULT 0,
    quarantined INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    score_sum REAL NOT NULL DEFAULT 0,
    scored INTEGER NOT NULL DEFAULT 0,
    latency_sum REAL NOT NULL DEFAULT 0,
    answered INTEGER NOT NULL DEFAULT 0,
    judged INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    duration_s REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS batch_runs_prompt ON batch_runs(prompt, version);
"""


def ensure_schema(con: Any) -> None:
    """Create ``batch_runs``, or add columns a newer loomgit defined (kept additive)."""
    con.executescript(BATCH_SCHEMA)
    have = {row[1] for row in con.execute("PRAGMA table_info(batch_runs)")}

    body = BATCH_SCHEMA.split("(", 1)[1]
    for m in re.finditer(r"^\s{4}(\w+) (TEXT|INTEGER|REAL)([^,\n]*)", body, re.MULTILINE):
        name, typ, rest = m.groups()
        if name not in have and "PRIMARY KEY" not in rest:
            default = " NOT NULL DEFAULT 0" if "DEFAULT 0" in rest else ""
            con.execute(f"ALTER TABLE batch_runs ADD COLUMN {name} {typ}{default}")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def record_batch(ws: Workspace, s: BatchSummary, *, suite: str | None = None) -> bool:
    """Add (or update, on resume) the run in the run records. False outside git."""
    path = db_path(ws)
    if path is None:
        return False
    status = "error" if s.errors or not s.complete else "failed" if s.quarantined else "passed"
    with connect(path) as con:
        try:
            with con:
                ensure_schema(con)
                con.execute(
                    "INSERT OR REPLACE INTO runs (run_id, started_at, commit_sha, shard, kind, "
                    "status, cases, passed, failed, errors, cost_usd, duration_s) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        s.run_id,
                        s.started_at,
                        s.commit,
                        None,
                        "batch",
                        status,
                        s.records,
                        s.ok,
                        s.quarantined,
                        s.errors,
                        s.cost_usd,
                        _total_duration(con, s),
                    ),
                )
                con.execute(
                    "INSERT OR REPLACE INTO batch_runs (run_id, started_at, updated_at, status, "
                    "prompt, version, content_hash, commit_sha, model, pipeline, suite, input, "
                    "output, quarantine, records, ok, quarantined, errors, score_sum, scored, "
                    "latency_sum, answered, judged, input_tokens, output_tokens, cost_usd, duration_s) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        s.run_id,
                        s.started_at,
                        _now(),
                        s.status,
                        s.prompt,
                        s.version,
                        s.content_hash,
                        s.commit,
                        s.model,
                        s.pipeline,
                        suite,
                        s.input,
                        s.output,
                        s.quarantine,
                        s.records,
                        s.ok,
                        s.quarantined,
                        s.errors,
                        s.score_sum,
                        s.scored,
                        s.latency_sum,
                        s.answered,
                        s.judged,
                        s.input_tokens,
                        s.output_tokens,
                        s.cost_usd,
                        _total_duration(con, s),
                    ),
                )
        except sqlite3.Error as e:
            raise InfraError(f"cannot write the run records at {path}: {e}") from None
    return True


def _total_duration(con: Any, s: BatchSummary) -> float:
    """Durations add up over the invocations of a resumed run."""
    try:
        row = con.execute(
            "SELECT duration_s, updated_at FROM batch_runs WHERE run_id = ?", (s.run_id,)
        ).fetchone()
    except Exception:
        row = None
    if row is None or not s.resumed:
        return round(s.duration_s, 3)
    return round(float(row[0] or 0.0) + s.duration_s, 3)


def has_batch_table(con: Any) -> bool:
    if not con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='batch_runs'"
    ).fetchone():
        return False
    with con:
        ensure_schema(con)
    return True
