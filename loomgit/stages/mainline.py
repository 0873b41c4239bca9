"""Whether what a stage holds is still a version on the main line.

A stage entry names a version and the content hash it had when it was promoted. After a
force-push the main branch may no longer have that content: the version number may now
name other content, or be gone. ``loomgit stages`` and ``loomgit list`` mark such entries,
since the content on the stage is then something no reviewer of the main line saw.

(Kept out of :mod:`loomgit.stages`' package imports: reading a stage, as ``loomgit.load``
does, needs no version history.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from loomgit.errors import LoomgitError
from loomgit.history.repo import Repo, ShallowCloneError
from loomgit.history.versions import history
from loomgit.stages.manifest import Entry
from loomgit.stages.state import StageReport, StageState

if TYPE_CHECKING:
    from loomgit.history.versions import History
    from loomgit.workspace import Workspace


def off_main(ws: Workspace, states: Iterable[StageState]) -> dict[tuple[str, str], str]:
    """``{(stage, id): note}`` for every stage entry whose version and content are not a
    version of the main line (``main_branch``, else main/master, else HEAD). Empty when
    there is no history to compare with (no commits yet, a shallow clone)."""
    held = [(st.stage, e) for st in states for e in st.manifest.entries.values()]
    if not held:
        return {}
    try:
        main = Repo.of(ws).main
        h = history(ws, main[1] if main else "HEAD")
    except ShallowCloneError:
        return {}
    if h.commit is None:
        return {}
    name = main[0] if main else "HEAD"
    out: dict[tuple[str, str], str] = {}
    for stage, e in held:
        note = _note(h, name, stage, e)
        if note is not None:
            out[(stage, e.id)] = note
    return out


def _note(h: History, main: str, stage: str, e: Entry) -> str | None:
    held = (
        f"{stage} holds {e.id} {e.version} as content {e.content_hash[:7]} from commit "
        f"{e.source_commit[:7]}"
    )
    try:
        versions = h.versions(h.find(e.id))
    except LoomgitError:
        return f"{held}, but {e.id} is not in the history of {main}"
    if any(v.version == e.version and v.content_hash == e.content_hash for v in versions):
        return None
    same = next((v for v in reversed(versions) if v.version == e.version), None)
    if same is None:
        return f"{held}, but {main} has no version {e.version} (its history was rewritten?)"
    return (
        f"{held}, but {e.version} on {main} is content {same.content_hash[:7]} from commit "
        f"{same.commit[:7]} (its history was rewritten?)"
    )


def with_main_notes(ws: Workspace, reports: list[StageReport]) -> list[StageReport]:
    """``reports`` with :func:`off_main`'s notes filled in."""
    notes = off_main(ws, [r.state for r in reports])
    return [
        replace(r, off_main={i: n for (s, i), n in notes.items() if s == r.state.stage})
        for r in reports
    ]
