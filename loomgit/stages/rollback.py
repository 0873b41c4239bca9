"""``loomgit rollback``: put an earlier version back on a stage with a new commit (the
stage's history is never rewritten)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loomgit.errors import RefError
from loomgit.stages.audit import Promotion, promotions, read_log
from loomgit.stages.promote import PromoteResult, _preflight, _sync, write
from loomgit.stages.source import Source, from_entry
from loomgit.stages.state import StageError, StageState, canonical_id, read_manifest, read_stage

if TYPE_CHECKING:
    from loomgit.workspace import Workspace


def parse_version(v: str) -> tuple[int, int, int] | None:
    """``"1.2.3"`` -> (1, 2, 3); None for anything else (ordering only, not computing)."""
    parts = v.split("-", 1)[0].split("+", 1)[0].split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def rollback_target(
    ws: Workspace, state: StageState, ident: str, to: str | None, history: list[Promotion]
) -> Source:
    """The entry a rollback puts back: the newest earlier promotion of a lower version that
    was not itself rolled back (or of version ``to``), read from that commit's manifest."""
    current = state.manifest.entries[ident]
    cur_v = parse_version(current.version)
    rolled_back = {p.rollback_of for p in history if p.rollback_of}
    for p in history:
        if p.version == current.version:
            continue
        if to is not None:
            if p.version != to:
                continue
        else:
            pv = parse_version(p.version)
            if p.version in rolled_back or (cur_v and pv and pv >= cur_v):
                continue
        manifest, _, err = read_manifest(ws.root, p.commit, state.stage)
        e = manifest.entries.get(ident)
        if err is None and e is not None and e.version == p.version:
            return from_entry(e, state.stage)
    if to is not None:
        if to == current.version:
            raise StageError(f"{ident} is already at {to} on {state.stage}")
        raise StageError(
            f"{ident} {to} was never on {state.stage}, so it cannot be rolled back "
            f"to; use 'loomgit promote {ident} {to} --to {state.stage}'"
        )
    raise StageError(
        f"{state.stage} has no earlier version of {ident} to roll back to "
        f"(it holds {current.version})"
    )


def rollback(
    ws: Workspace,
    ident: str,
    stage: str,
    *,
    to: str | None = None,
    message: str | None = None,
    fetch: bool = False,
    push: bool = False,
    remote: str | None = None,
) -> PromoteResult:
    """Put the previous version of ``ident`` back on ``stage`` with a new commit (history
    is never rewritten)."""
    _preflight(ws, stage)
    fetched: dict[str, str] = {}
    remote_name = None
    if fetch:
        remote_name, fetched = _sync(ws, [stage], remote)
    state = read_stage(ws, stage)
    if state.head is None:
        raise StageError(f"stage {stage!r} has no promotions yet, so there is nothing to roll back")
    ident = canonical_id(ws, ident, state)
    if ident not in state.manifest.entries:
        raise RefError(f"{ident!r} is not on stage {stage!r}")
    history = promotions(stage, read_log(ws.root, state.ref), ident)
    src = rollback_target(ws, state, ident, to, history)
    return write(
        ws,
        stage,
        src,
        message=message,
        push=push,
        remote=remote_name or remote,
        rollback_of=state.manifest.entries[ident].version,
        fetched=fetched,
    )
