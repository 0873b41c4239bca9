"""What the recorded evals and batch runs did, per prompt version: runs, records, cost,
tokens, models (for lineage), and the average output tokens (for cost estimates)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from loomgit.batch.records import has_batch_table
from loomgit.errors import InfraError
from loomgit.evals.records import connect, db_path
from loomgit.workspace import Workspace


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
            if has_batch_table(con):
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


def recorded_output_tokens(ws: Workspace, prompt: str, model: str) -> tuple[float, int] | None:
    """(average output tokens, answers) recorded for ``prompt`` on ``model``."""
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
            if has_batch_table(con):
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
        if not has_batch_table(con):
            return []
        rows = con.execute(
            f"SELECT {', '.join(cols)} FROM batch_runs WHERE prompt = ? ORDER BY started_at DESC",
            (prompt,),
        ).fetchall()
    return [dict(zip(cols, r)) for r in rows]
