"""Turning a reference (``ID``, a path, ``ID@REF``) into a prompt ready to render, and the
other places where versions (:mod:`loomgit.history`) meet stages (:mod:`loomgit.stages`).

``ID`` alone is the working-tree file. ``ID@REF`` is a version (``1.2.0``, ``1.2``,
``latest``), a stage name or a commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loomgit.errors import RefError
from loomgit.history import resolve_at as resolve_version
from loomgit.history import working_version
from loomgit.history.listing import Listed
from loomgit.history.listing import listing as _listing
from loomgit.history.lookup import Resolved, is_stage
from loomgit.stages import resolve_stage, stage_versions

if TYPE_CHECKING:
    from loomgit.workspace import Workspace


def split_ref(ref: str) -> tuple[str, str | None]:
    """``support/summarize@1.2`` -> (``support/summarize``, ``1.2``)."""
    if "@" in ref:
        ident, _, at = ref.rpartition("@")
        if not ident or not at:
            raise RefError(f"malformed reference {ref!r}; expected ID or ID@VERSION|STAGE|COMMIT")
        return ident, at
    return ref, None


def resolve_at(ws: Workspace, ident: str, at: str) -> Resolved:
    """``ID@AT`` for AT = a version, ``latest``, a stage name or a commit-ish."""
    if is_stage(ws, at):
        return resolve_stage(ws, ident, at)
    return resolve_version(ws, ident, at)


def resolve(ws: Workspace, ref: str) -> Resolved:
    """The prompt a reference names, with the include loader that matches it."""
    ident, at = split_ref(ref)
    if at is None:
        prompt = ws.prompt(ident)
        return Resolved(prompt, ws.loader, working_version(ws, prompt))
    return resolve_at(ws, ident, at)


def listing(ws: Workspace, ref: str | None = None) -> list[Listed]:
    """``loomgit list``: every prompt with its version and the version each stage holds."""
    return _listing(ws, ref, stage_versions(ws))


__all__ = ["Listed", "Resolved", "listing", "resolve", "resolve_at", "split_ref"]
