"""Lineage: where each version of a prompt went (stages) and how it did (runs).

Batch runs are recorded in the same database as evals (``.git/loomgit/runs.sqlite``):
one ``runs`` row per batch run (``kind = 'batch'``; cases = records, passed = ok,
failed = quarantined) and one ``batch_runs`` row with the run's lineage and totals. A
resumed run updates its rows (same run id), so a run counts once however often it was
interrupted. Per-record results stay in the run's output files, not in the database.

:func:`lineage` joins, for one prompt, the versions from git history, the stage
pointers, and per version the recorded evals and batch runs. :func:`overview` does it
for every prompt, as plain data for the HTML report.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loomgit.errors import InfraError, LoomgitError

if TYPE_CHECKING:
    from loomgit.batch.runner import BatchSummary
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


def _ensure_schema(con: Any) -> None:
    """Create ``batch_runs``, or add columns a newer loomgit defined (kept additive)."""
    con.executescript(BATCH_SCHEMA)
    have = {row[1] for row in con.execute("PRAGMA table_info(batch_runs)")}
    import re

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
    import sqlite3

    from loomgit.evals.records import connect, db_path

    path = db_path(ws)
    if path is None:
        return False
    status = "error" if s.errors or not s.complete else "failed" if s.quarantined else "passed"
    with connect(path) as con:
        try:
            with con:
                _ensure_schema(con)
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


# -- reading ---------------------------------------------------------------------------


@dataclass
class Usage:
    """What a set of runs of one version did."""

    eval_runs: set[str] = field(default_factory=set)
    batch_runs: set[str] = field(default_factory=set)
    records: int = 0  # eval samples + batch records that got a verdict or an error
    passed: int = 0
    judged: int = 0
    errors: int = 0
    score_sum: float = 0.0
    scored: int = 0
    latency_sum: float = 0.0
    answered: int = 0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    models: set[str] = field(default_factory=set)
    last_run: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": len(self.eval_runs) + len(self.batch_runs),
            "evals": len(self.eval_runs),
            "batch_runs": len(self.batch_runs),
            "records": self.records,
            "passed": self.passed,
            "errors": self.errors,
            "pass_rate": round(self.passed / self.judged, 6) if self.judged else None,
            "mean_score": round(self.score_sum / self.scored, 6) if self.scored else None,
            "latency_ms": round(self.latency_sum / self.answered, 3) if self.answered else None,
            "cost_usd": round(self.cost_usd, 9),
            "tokens": {"input": self.input_tokens, "output": self.output_tokens},
            "models": sorted(self.models),
            "last_run": self.last_run or None,
        }


def recorded_usage(ws: Workspace, prompt: str | None = None) -> dict[tuple[str, str | None], Usage]:
    """Per (prompt, version): what the recorded evals and batch runs did."""
    import sqlite3

    from loomgit.evals.records import connect, db_path

    path = db_path(ws)
    out: dict[tuple[str, str | None], Usage] = {}
    if path is None or not path.is_file():
        return out
    where, args = ("WHERE prompt = ?", [prompt]) if prompt else ("", [])
    with connect(path) as con:
        try:
            rows = con.execute(
                "SELECT prompt, version, run_id, model, passed, score, latency_ms, "
                "input_tokens, output_tokens, cost_usd, created_at FROM results " + where,
                args,
            )
            for pid, ver, run_id, model, passed, score, lat, tin, tout, cost, when in rows:
                u = out.setdefault((pid, ver), Usage())
                u.eval_runs.add(run_id)
                u.records += 1
                if passed is None:
                    u.errors += 1
                else:
                    u.judged += 1
                    u.passed += int(passed)
                if score is not None and passed is not None:
                    u.score_sum += float(score)
                    u.scored += 1
                if lat is not None:
                    u.latency_sum += float(lat)
                    u.answered += 1
                u.cost_usd += float(cost or 0.0)
                u.input_tokens += int(tin or 0)
                u.output_tokens += int(tout or 0)
                u.models.add(model)
                u.last_run = max(u.last_run, when or "")
            if _has_batch(con):
                rows = con.execute(
                    "SELECT prompt, version, run_id, model, records, ok, quarantined, errors, "
                    "score_sum, scored, latency_sum, answered, judged, input_tokens, output_tokens, "
                    "cost_usd, updated_at FROM batch_runs " + where,
                    args,
                )
                for (
                    pid,
                    ver,
                    run_id,
                    model,
                    _recs,
                    ok,
                    quar,
                    errs,
                    ssum,
                    scored,
                    lsum,
                    ans,
                    judged,
                    tin,
                    tout,
                    cost,
                    when,
                ) in rows:
                    u = out.setdefault((pid, ver), Usage())
                    u.batch_runs.add(run_id)
                    u.records += int(ok) + int(quar) + int(errs)
                    u.passed += int(ok)
                    u.judged += int(judged)
                    u.errors += int(errs)
                    u.score_sum += float(ssum)
                    u.scored += int(scored)
                    u.latency_sum += float(lsum)
                    u.answered += int(ans)
                    u.cost_usd += float(cost or 0.0)
                    u.input_tokens += int(tin or 0)
                    u.output_tokens += int(tout or 0)
                    u.models.add(model)
                    u.last_run = max(u.last_run, when or "")
        except sqlite3.Error as e:
            raise InfraError(f"cannot read the run records at {path}: {e}") from None
    return out


def _has_batch(con: Any) -> bool:
    if not con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='batch_runs'"
    ).fetchone():
        return False
    with con:
        _ensure_schema(con)
    return True


def recorded_output_tokens(ws: Workspace, prompt: str, model: str) -> tuple[float, int] | None:
    """(average output tokens, answers) recorded for ``prompt`` on ``model``."""
    import sqlite3

    from loomgit.evals.records import connect, db_path

    path = db_path(ws)
    if path is None or not path.is_file():
        return None
    total, n = 0.0, 0
    with connect(path) as con:
        try:
            row = con.execute(
                "SELECT SUM(output_tokens), COUNT(*) FROM results WHERE prompt = ? "
                "AND model = ? AND error IS NULL AND output_tokens > 0",
                (prompt, model),
            ).fetchone()
            if row and row[1]:
                total, n = float(row[0] or 0), int(row[1])
            if _has_batch(con):
                row = con.execute(
                    "SELECT SUM(output_tokens), SUM(answered) FROM batch_runs "
                    "WHERE prompt = ? AND model = ?",
                    (prompt, model),
                ).fetchone()
                if row and row[1]:
                    total += float(row[0] or 0)
                    n += int(row[1])
        except sqlite3.Error as e:
            raise InfraError(f"cannot read the run records at {path}: {e}") from None
    return (total / n, n) if n else None


def batch_runs(ws: Workspace, prompt: str) -> list[dict[str, Any]]:
    """The recorded batch runs of ``prompt``, newest first."""
    from loomgit.evals.records import connect, db_path

    path = db_path(ws)
    if path is None or not path.is_file():
        return []
    cols = (
        "run_id",
        "started_at",
        "updated_at",
        "status",
        "version",
        "model",
        "pipeline",
        "input",
        "output",
        "records",
        "ok",
        "quarantined",
        "errors",
        "cost_usd",
    )
    with connect(path) as con:
        if not _has_batch(con):
            return []
        rows = con.execute(
            f"SELECT {', '.join(cols)} FROM batch_runs WHERE prompt = ? ORDER BY started_at DESC",
            (prompt,),
        ).fetchall()
    return [dict(zip(cols, r)) for r in rows]


# -- history and stages ----------------------------------------------------------------


def _versions(ws: Workspace, prompt_id: str) -> list[dict[str, Any]]:
    """The prompt's versions, oldest first, as plain dicts (empty without history)."""
    try:
        from loomgit.history import versions as history_versions
    except ImportError:
        return []
    try:
        found = history_versions(ws, prompt_id)
    except LoomgitError:
        return []
    out = []
    for v in found:
        d = v.to_dict() if hasattr(v, "to_dict") else dict(v) if isinstance(v, Mapping) else {}
        if not d:
            d = {
                k: getattr(v, k, None)
                for k in ("version", "bump", "commit", "date", "author", "subject", "content_hash")
            }
        out.append(
            {
                "version": str(d.get("version")),
                "bump": d.get("bump") or d.get("change") or d.get("kind"),
                "commit": d.get("commit") or d.get("sha"),
                "date": d.get("date") or d.get("when") or d.get("committed_at"),
                "author": d.get("author"),
                "subject": d.get("subject") or d.get("message"),
                "content_hash": d.get("content_hash") or d.get("hash"),
                "same_as": d.get("same_as") or d.get("same_content_as"),
            }
        )
    if len(out) > 1 and _newest_first(out):
        out.reverse()
    return out


def _newest_first(vs: list[dict[str, Any]]) -> bool:
    from loomgit.history.bump import parse_version

    a, b = parse_version(vs[0]["version"] or ""), parse_version(vs[-1]["version"] or "")
    return a is not None and b is not None and a > b


def _stages(ws: Workspace) -> dict[str, dict[str, dict[str, Any]]]:
    """stage -> prompt id -> {version, source_commit, promoted_by, promoted_at, ...}."""
    out: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in ws.config.stages}
    try:
        from loomgit.stages import read_stage
    except ImportError:
        return out
    import loomgit.gitio as gitio

    if not gitio.is_repo(ws.root):
        return out
    for stage in ws.config.stages:
        try:
            state = read_stage(ws, stage)
        except LoomgitError:
            continue
        out[stage] = {pid: e.to_dict() for pid, e in state.manifest.entries.items()}
    return out


def promotions(ws: Workspace, prompt_id: str) -> list[dict[str, Any]]:
    """Every promotion and rollback of the prompt on any stage, newest first."""
    try:
        from loomgit.stages import stage_promotions
    except ImportError:
        return []
    import loomgit.gitio as gitio

    if not gitio.is_repo(ws.root):
        return []
    out: list[dict[str, Any]] = []
    for stage in ws.config.stages:
        try:
            out += [p.to_dict() for p in stage_promotions(ws, prompt_id, stage)]
        except LoomgitError:
            continue
    return sorted(out, key=lambda p: str(p.get("date") or ""), reverse=True)


def lineage(
    ws: Workspace,
    prompt_id: str,
    *,
    usage: Mapping[tuple[str, str | None], Usage] | None = None,
    stages: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """One prompt: its versions (oldest first) with stages and recorded usage."""
    versions = _versions(ws, prompt_id)
    stages = _stages(ws) if stages is None else stages
    usage = recorded_usage(ws, prompt_id) if usage is None else usage
    pointers: dict[str, Any] = {}
    by_version: dict[str, list[str]] = {}
    for stage in ws.config.stages or list(stages):
        e = (stages.get(stage) or {}).get(prompt_id)
        if e is None:
            pointers[stage] = None
            continue
        ver = str(e.get("version"))
        pointers[stage] = {
            "version": ver,
            "source_commit": e.get("source_commit") or e.get("commit"),
            "promoted_by": e.get("promoted_by") or e.get("by"),
            "promoted_at": e.get("promoted_at") or e.get("when") or e.get("at"),
            "content_hash": e.get("content_hash"),
            "forced": e.get("forced"),
        }
        by_version.setdefault(ver, []).append(stage)
    known = {v["version"] for v in versions}
    for (pid, ver), _u in usage.items():  # runs of versions history does not list (dev)
        if pid == prompt_id and ver is not None and ver not in known:
            versions.append(
                {
                    "version": ver,
                    "bump": "dev" if "-" in ver else None,
                    "commit": None,
                    "date": None,
                    "author": None,
                    "subject": None,
                    "content_hash": None,
                }
            )
            known.add(ver)
    rows = []
    for v in versions:
        u = usage.get((prompt_id, v["version"]))
        rows.append(
            {
                **v,
                "stages": by_version.get(v["version"], []),
                "runs": u.to_dict() if u is not None else None,
            }
        )
    unversioned = usage.get((prompt_id, None))
    return {
        "id": prompt_id,
        "stages": {s: (p["version"] if p else None) for s, p in pointers.items()},
        "stage_details": pointers,
        "versions": rows,
        "unversioned_runs": unversioned.to_dict() if unversioned else None,
    }


def overview(ws: Workspace, ids: Iterable[str] | None = None) -> dict[str, Any]:
    """Every prompt's lineage (or those in ``ids``), for the HTML report."""
    if ids is None:
        ids = sorted({pf.id for pf in ws.files()})
    usage = recorded_usage(ws)
    stages = _stages(ws)
    prompts = [lineage(ws, pid, usage=usage, stages=stages) for pid in ids]
    return {
        "title": f"loomgit report: {ws.root.name}",
        "root": str(ws.root),
        "generated_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "prompts": prompts,
    }
