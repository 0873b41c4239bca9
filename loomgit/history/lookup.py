"""A version or commit of one prompt, loaded from git: :func:`resolve_at` (``ID@1.2.0``,
``ID@1.2``, ``ID@latest``, ``ID@<commit>``; stage names are resolved above, in
:mod:`loomgit.refs`) and :func:`load_version`, which give a :class:`Resolved` prompt."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loomgit._git.objects import BlobReader
from loomgit.errors import PromptError, RefError
from loomgit.history.repo import Repo
from loomgit.history.versions import History, Version, history
from loomgit.prompt.discover import glob_for
from loomgit.prompt.includes import commit_loader, include_roots
from loomgit.prompt.model import IncludeLoader, Prompt
from loomgit.prompt.parse import decode, parse_prompt

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
    h = history(ws, sha)
    line = h.find(ident)
    if line.path is None:
        raise RefError(f"{ident}@{at}: the prompt was deleted at {sha[:7]} or before")
    vs = h.versions(line)
    if not vs:
        raise RefError(f"{ident}@{at}: no version at {sha[:7]}")
    v = vs[-1]
    return Resolved(*load_version(repo, v), version=v.version, commit=v.commit)


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
    return prompt, load
