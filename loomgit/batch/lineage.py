"""Lineage: where each version of a prompt went (stages) and how it did (runs).

:func:`lineage` joins, for one prompt, the versions from git history, the stage
pointers, and per version the recorded evals and batch runs. :func:`overview` does it
for every prompt, as plain data for the HTML report.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any

from loomgit import _git
from loomgit.batch.usage import Usage, recorded_usage
from loomgit.errors import LoomgitError
from loomgit.history import versions as history_versions
from loomgit.history.bump import parse_version
from loomgit.stages import read_stage, stage_promotions
from loomgit.workspace import Workspace

# -- reading ---------------------------------------------------------------------------


# -- history and stages ----------------------------------------------------------------


def _versions(ws: Workspace, prompt_id: str) -> list[dict[str, Any]]:
    """The prompt's versions, oldest first, as plain dicts (empty without history)."""
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
    a, b = parse_version(vs[0]["version"] or ""), parse_version(vs[-1]["version"] or "")
    return a is not None and b is not None and a > b


def _stages(ws: Workspace) -> dict[str, dict[str, dict[str, Any]]]:
    """stage -> prompt id -> {version, source_commit, promoted_by, promoted_at, ...}."""
    out: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in ws.config.stages}
    if not _git.is_repo(ws.root):
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
    if not _git.is_repo(ws.root):
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
    for (pid, run_ver), _u in usage.items():  # runs of versions history does not list (dev)
        if pid == prompt_id and run_ver is not None and run_ver not in known:
            versions.append(
                {
                    "version": run_ver,
                    "bump": "dev" if "-" in run_ver else None,
                    "commit": None,
                    "date": None,
                    "author": None,
                    "subject": None,
                    "content_hash": None,
                }
            )
            known.add(run_ver)
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
