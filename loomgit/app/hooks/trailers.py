"""``loomgit-versions``: write the ``Prompt-Version:`` trailers of the prompts a commit
changes into its message (git's prepare-commit-msg hook)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from loomgit._git import log, refs, run
from loomgit.errors import LoomgitError
from loomgit.history import Pending, pending_changes
from loomgit.report.escape import term_text
from loomgit.workspace import Workspace

TRAILER_KEY = "Prompt-Version"
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree: a root commit's base
ABORT_HINT = (
    "# loomgit added the Prompt-Version lines above; to abort the commit, "
    "delete them too (git keeps a message that holds only trailers)."
)

_SCISSORS = re.compile(r"^. -+ >8 -+$")


def apply_trailers(root: Path, message: str, trailers: Sequence[str]) -> str:
    """``message`` with its ``Prompt-Version:`` trailers replaced by ``trailers`` (so an
    ``--amend`` never repeats them). Placement is git's own (``git interpret-trailers``):
    after the other trailers, above the comment lines and the ``commit -v`` diff."""
    lines = message.split("\n")
    cut = next((i for i, ln in enumerate(lines) if _SCISSORS.match(ln)), len(lines))
    key = TRAILER_KEY.lower() + ":"
    kept = [ln for ln in lines[:cut] if not ln.lower().startswith(key)] + lines[cut:]
    stripped = "\n".join(kept)
    if not trailers:
        return stripped
    return log.add_trailers(root, stripped, [(TRAILER_KEY, tr) for tr in trailers])


@dataclass(frozen=True)
class VersionsResult:
    """What ``loomgit-versions`` did to a commit message."""

    trailers: list[str]  # "ID X.Y.Z (change: reasons)", one per prompt the commit changes
    changed: bool  # the message file was rewritten
    note: str = ""  # why nothing was computed (e.g. an --amend the history API cannot see)


def trailer_for(pending: Pending) -> str:
    """One trailer's value, on one line: a newline in an id (from a file name) or in the
    summary is shown as ``\\n`` rather than starting a trailer of its own."""
    return term_text(f"{pending.id} {pending.version} ({pending.summary})")


def message_text(message: str) -> str:
    """The message as git will keep it: comment lines and a ``commit -v`` diff dropped."""
    out = []
    for ln in message.split("\n"):
        if _SCISSORS.match(ln):
            break
        if not ln.startswith("#"):
            out.append(ln)
    return "\n".join(out).strip()


def pending_for_commit(ws: Workspace, message: str = "", *, amend: bool = False) -> list[Pending]:
    """The prompt versions the staged changes get (for ``--amend``: over HEAD's parent)."""
    if not amend:
        return pending_changes(ws, "index", message=message)
    # --amend replaces HEAD: versions as of its parent, the index diffed against that
    parent = refs.resolve_commit(ws.root, "HEAD^")
    return pending_changes(ws, "index", message=message, base=parent or EMPTY_TREE)


def _abort_hint(root: Path, text: str) -> str:
    """In an editor-bound empty message, say that the trailers count as content."""
    char = (run.config_value(root, "core.commentChar") or "").strip()
    if char not in ("", "#"):
        return text
    lines = text.split("\n")
    first = next((i for i, ln in enumerate(lines) if ln.startswith("#")), None)
    if first is None:
        return text
    return "\n".join(lines[:first] + [ABORT_HINT] + lines[first:])


def update_message(
    root: Path, msgfile: str | Path, source: str | None = None, sha: str | None = None
) -> VersionsResult:
    """Rewrite the commit message file with one ``Prompt-Version:`` trailer per prompt the
    staged changes bump. ``source``/``sha`` are git's prepare-commit-msg arguments."""
    path = Path(msgfile)
    if not path.is_absolute():
        path = Path.cwd() / path
    try:  # bytes that are not UTF-8 (another i18n.commitEncoding) are kept as they are
        original = path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as e:
        raise LoomgitError(
            f"cannot read the commit message: {e.strerror}", path=str(msgfile)
        ) from None
    amend = source == "commit" and sha == "HEAD"
    ws = Workspace(root)
    pending = pending_for_commit(ws, message_text(original), amend=amend)
    if amend and not pending:
        return VersionsResult([], False)  # nothing new: keep the trailers the commit has
    trailers = [trailer_for(p) for p in pending if p.version]
    text = apply_trailers(root, original, trailers)
    if trailers and not message_text(original) and source in (None, "template"):
        text = _abort_hint(root, text)
    if text == original:
        return VersionsResult(trailers, False)
    tmp = path.with_name(path.name + ".loomgit-tmp")
    tmp.write_bytes(text.encode("utf-8", "surrogateescape"))
    os.replace(tmp, path)
    return VersionsResult(trailers, True)
