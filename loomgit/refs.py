"""Turning a reference (``ID``, a path, ``ID@REF``) into a prompt ready to render.

``ID`` alone is the working-tree file. ``ID@REF`` (a version, a stage, a commit) is
resolved through the history and stage modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from loomgit.errors import RefError

if TYPE_CHECKING:
    from loomgit.prompt.model import Prompt
    from loomgit.prompt.render import IncludeLoader
    from loomgit.workspace import Workspace


@dataclass(frozen=True)
class Resolved:
    prompt: Prompt
    loader: IncludeLoader
    version: str | None = None
    commit: str | None = None


def split_ref(ref: str) -> tuple[str, str | None]:
    """``support/summarize@1.2`` -> (``support/summarize``, ``1.2``)."""
    if "@" in ref:
        ident, _, at = ref.rpartition("@")
        if not ident or not at:
            raise RefError(f"malformed reference {ref!r}; expected ID or ID@VERSION|STAGE|COMMIT")
        return ident, at
    return ref, None


def resolve(ws: Workspace, ref: str) -> Resolved:
    """The prompt a reference names, with the include loader that matches it."""
    ident, at = split_ref(ref)
    if at is None:
        prompt = ws.prompt(ident)
        version = None
        try:
            from loomgit.history import working_version

            version = working_version(ws, prompt)
        except ImportError:
            pass
        return Resolved(prompt, ws.loader, version)
    try:
        from loomgit.history import resolve_at
    except ImportError:
        raise RefError(f"{ref!r}: references with @ need version history") from None
    return resolve_at(ws, ident, at)
