"""A version or commit of one prompt, loaded from git: :func:`resolve_at` (``ID@1.2.0``,
``ID@1.2``, ``ID@latest``, ``ID@<commit>``; stage names are resolved above, in
:mod:`loomgit.refs`) and :func:`load_version`, which give a :class:`Resolved` prompt."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loomgit._git.objects import BlobReader
from loomgit._git.refs import is_ancestor
from loomgit.errors import PromptError, RefError
from loomgit.history.repo import Repo
from loomgit.history.versions import History, Version, history
from loomgit.prompt.discover import glob_for
from loomgit.prompt.includes import commit_loader, include_roots
from loomgit.prompt.model import IncludeLoader, Prompt
from loomgit.prompt.parse import decode, parse_prompt
from loomgit.prompt.toolspec import resolve_tools

if TYPE_CHECKING:
    from loomgit.workspace import Workspace

_FULL = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_MINOR = re.compile(r"^(\d+)\.(\d+)$")


@dataclass(frozen=True)
class Resolved:
    """A prompt a reference names, with the include loader that matches it."""

    prompt: Prompt
    loader: IncludeLoader
    version: str | None = None
    commit: str | None = None


def is_stage(ws: Workspace, at: str) -> bool:
    return at in ws.config.stages


def resolve_at(ws: Workspace, ident: str, at: str) -> Resolved:
    """``ID@AT`` for AT = ``1.2.0``, ``1.2``, ``latest`` or a commit-ish (a stage name is
    :func:`loomgit.refs.resolve_at`'s)."""
    if at == "latest" or _FULL.match(at) or _MINOR.match(at):
        h = history(ws, "HEAD")
        if h.commit is None:
            raise RefError(f"{ident}@{at}: the repository has no commits yet")
        try:
            v = h.find_version(h.find(ident), at)
        except RefError:
            on_main = _from_main(ws, h, ident, at)
            if on_main is None:
                raise
            v = on_main
        return Resolved(*load_version(Repo.of(ws), v), version=v.version, commit=v.commit)
    repo = Repo.of(ws)
    sha = repo.commit(at)
    if sha is None:
        raise RefError(
            f"{ident}@{at}: {at!r} is not a version (1.2.0, 1.2, latest), "
            f"a stage ({', '.join(ws.config.stages)}) or a commit"
        )
    t = trace(ws, ident, sha)
    if not t.alive:
        raise RefError(f"{ident}@{at}: the prompt was deleted at {sha[:7]} or before")
    if not t.versions:
        raise RefError(f"{ident}@{at}: no version at {sha[:7]}")
    v = t.versions[-1]
    return Resolved(*load_version(repo, v), version=v.version, commit=v.commit)


@dataclass(frozen=True)
class Traced:
    """One prompt as of a commit: its id and path there (None: not there), versions."""

    id: str
    path: str | None
    versions: list[Version]

    @property
    def alive(self) -> bool:
        return self.path is not None or not self.versions


def trace(ws: Workspace, ident: str, sha: str | None) -> Traced:
    """The prompt ``ident`` names, as of commit ``sha``: the one it names there, else the
    one it names at HEAD (or on the main branch) followed back through its moves and
    renames to ``sha`` (its versions made in ``sha``'s history). Unknown: RefError.
    ``sha`` None: the repository has no commits yet."""
    h = history(ws, sha or "HEAD")
    try:
        line = h.find(ident)
        return Traced(line.id, line.path, h.versions(line))
    except RefError as e:
        if sha is None:
            raise
        missing = e
    main = h.repo.main
    for ref in ("HEAD", main[1] if main else None):
        if ref is None:
            continue
        later = history(ws, ref)
        if later.commit is None or later.commit == sha:
            continue
        try:
            line = later.find(ident)
        except RefError:
            continue
        recs = line.recs[: _upto(h.repo, [r.commit for r in line.recs], sha)]
        if not recs:
            raise RefError(
                f"{ident}@{sha[:7]}: {line.id} has no version there (its first version "
                f"is at {line.recs[0].commit[:7]})"
            )
        n = sum(1 for r in recs if r.version)
        path = recs[-1].path if recs[-1].version else None
        return Traced(recs[-1].id if recs[-1].version else line.id, path, later.versions(line)[:n])
    raise missing


def _upto(repo: Repo, commits: list[str], sha: str) -> int:
    """How many of ``commits`` (in history order) are ``sha`` or its ancestors."""
    lo, hi = 0, len(commits)
    while lo < hi:  # ancestors come first: once one is not, no later one is
        mid = (lo + hi) // 2
        if commits[mid] == sha or is_ancestor(repo.root, commits[mid], sha):
            lo = mid + 1
        else:
            hi = mid
    return lo


def versions(ws: Workspace, ident: str, ref: str = "HEAD") -> list[Version]:
    """The versions of one prompt (id, old id or path) at ``ref``, oldest first; an id
    that names the prompt only later (it moved since) is followed back to ``ref``."""
    repo = Repo.of(ws)
    sha = repo.commit(ref)
    if sha is None:
        h = history(ws, ref)
        return h.versions(h.find(ident))
    return trace(ws, ident, sha).versions


def _from_main(ws: Workspace, h: History, ident: str, at: str) -> Version | None:
    """A version asked for on a branch that only the main branch has (made after the fork)."""
    main = h.repo.main
    if main is None or main[1] == h.commit:
        return None
    try:
        hm = history(ws, main[1])
        return hm.find_version(hm.find(ident), at)
    except RefError:
        return None


def load_version(
    repo: Repo, v: Version, reader: BlobReader | None = None
) -> tuple[Any, IncludeLoader]:
    """The parsed prompt of a stored version and a loader for its includes (git blobs of
    the same commit, never the working tree). ``reader``: an open one to reuse."""
    inc = v.includes or {}
    if reader is not None:
        got = reader.read_many([v.blob, *inc.values()])
    else:
        with BlobReader(repo.root) as r:
            got = r.read_many([v.blob, *inc.values()])
    data = got.get(v.blob)
    if data is None:
        raise PromptError(
            f"blob {v.blob[:7]} of version {v.version} is missing from the repository", path=v.path
        )
    glob = glob_for(repo.config, v.path)
    prompt = parse_prompt(decode(data, v.path), v.path, prompt_id=v.id, glob=glob)
    known = {name: b for name, blob in inc.items() if (b := got.get(blob)) is not None}
    load = commit_loader(repo.root, v.commit, include_roots(repo.config), known)
    return resolve_tools(prompt, load), load
