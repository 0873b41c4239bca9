"""Where the server's prompts come from: the stage branches of a repository, or one bundle
file that ``loomgit export`` wrote.

Both follow changes without a restart and never serve a half-written state:

- a repository's stage is read from its branch head. A promotion moves the branch by
  compare-and-swap (one atomic ref update) and ``git fetch`` into the stage branches the
  same way, so each request sees one whole stage commit: the ref files are ``stat``-ed
  when the last look is older than :data:`FOLLOW_S` (0.1 s) and a new head is read on
  first use;
- a bundle is re-read when its file changes (inode, mtime or size); a copy that does not
  parse or check (a file still being written in place) is not used: the last good one is
  served until the file is whole again, and ``/readyz`` says so.

``version=`` and ``ref=`` name a version from the repository's history (what ``loomgit
show ID@1.2`` shows); a bundle holds one version per prompt.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loomgit import _git
from loomgit._git.refs import read_ref
from loomgit.app.bundle import LoadedPrompt, load, prompt_from_blobs, read_bundle, stage_state
from loomgit.config import Config, find_root, load_config
from loomgit.errors import LoomgitError, RefError
from loomgit.fsutil import file_stamp
from loomgit.stages.source import from_history
from loomgit.stages.state import check_stage
from loomgit.workspace import Workspace

FOLLOW_S = 0.1  # how old the look at a stage branch's ref files may be


@dataclass(frozen=True)
class Listed:
    id: str
    version: str
    content_hash: str


class Source:
    """The prompts the server answers with."""

    config: Config
    default_stage: str
    description: str

    def listing(self, stage: str) -> list[Listed]:
        raise NotImplementedError

    def get(
        self, ident: str, stage: str | None, version: str | None, ref: str | None
    ) -> LoadedPrompt:
        raise NotImplementedError

    def problem(self) -> str | None:
        """Why the server is not ready (None: ready)."""
        return None


class RepoSource(Source):
    """The stage branches of the repository at ``root``."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        top = find_root(root)
        common = _git.git_dir(top)
        if common is None:
            raise RefError(
                f"{top} is not inside a git repository: serve a bundle with "
                "--bundle FILE (write one with 'loomgit export --stage STAGE -o FILE')"
            )
        self.root = top
        self.config = load_config(top)
        self.default_stage = (
            "production" if "production" in self.config.stages else self.config.stages[-1]
        )
        self.description = f"repository {top}"
        self._lock = threading.Lock()
        self._listings: dict[str, tuple[Any, list[Listed]]] = {}
        self._versions: dict[tuple[str, str, str], LoadedPrompt] = {}
        self._stamps: dict[str, tuple[float, tuple[Any, ...]]] = {}
        self._id_sets: dict[int, tuple[list[Listed], set[str]]] = {}
        self._loaded: dict[tuple[str, str], tuple[tuple[Any, ...] | None, LoadedPrompt]] = {}

    def _stage_stamp(self, stage: str) -> tuple[Any, ...]:
        """What says a stage branch moved: its ref files, looked at no more often than
        every :data:`FOLLOW_S` seconds (a ``stat`` of three files cost more than the rest
        of a ``GET``)."""
        now = time.monotonic()
        seen = self._stamps.get(stage)
        if seen is not None and now - seen[0] < FOLLOW_S:
            return seen[1]
        stamp = stage_state(self.root, stage).stamp or ()  # re-read there if it moved
        self._stamps[stage] = (now, stamp)
        return stamp

    def listing(self, stage: str) -> list[Listed]:
        check_stage(self.config, stage)
        stamp = self._stage_stamp(stage)
        hit = self._listings.get(stage)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        rs = stage_state(self.root, stage)  # the manifest as load() reads it, read once
        listed = [Listed(e.id, e.version, e.content_hash) for _, e in sorted(rs.entries.items())]
        self._listings[stage] = (stamp, listed)
        return listed

    def _ids(self, stage: str) -> set[str]:
        listed = self.listing(stage)
        ids = self._id_sets.get(id(listed))
        if ids is None or ids[0] is not listed:
            if len(self._id_sets) > 64:
                self._id_sets.clear()
            ids = self._id_sets[id(listed)] = (listed, {p.id for p in listed})
        return ids[1]

    def get(
        self, ident: str, stage: str | None, version: str | None, ref: str | None
    ) -> LoadedPrompt:
        at = version or ref
        if at is None:
            use = stage or self.default_stage
            stamp = self._stage_stamp(use) if use in self.config.stages else None
            hit = self._loaded.get((ident, use))
            if hit is not None and hit[0] == stamp:
                return hit[1]
            check_stage(self.config, use)
            if ident not in self._ids(use):  # exact ids only: no working-tree look-up
                raise RefError(f"{ident!r} is not on stage {use!r}")
            got = load(ident, stage=use, repo=self.root)
            if len(self._loaded) > 4096:
                self._loaded.clear()
            self._loaded[(ident, use)] = (stamp, got)
            return got
        return self._at(ident, at)

    def _at(self, ident: str, at: str) -> LoadedPrompt:
        """A version or commit from history, cached while HEAD stays where it is."""
        head = read_ref(self.root, "HEAD") or ""
        key = (ident, at, head)
        got = self._versions.get(key)
        if got is not None:
            return got
        with self._lock:
            src = from_history(Workspace(self.root), ident, at)
            got = prompt_from_blobs(
                self.root,
                self.config,
                src.id,
                "",
                path=src.path,
                blob=src.blob,
                includes=src.includes,
                version=src.version,
                content_hash=src.content_hash,
                source_commit=src.commit,
            )
            if len(self._versions) > 1024:
                self._versions.clear()
            self._versions[key] = got
            return got


@dataclass
class _Snapshot:
    stamp: tuple[int, int, int] | None
    stage: str
    listed: list[Listed]
    prompts: dict[str, LoadedPrompt] = field(default_factory=dict)


class BundleSource(Source):
    """One bundle file, re-read when it changes; the last good copy while it is broken."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()
        self.description = f"bundle {self.path}"
        try:
            self.config = load_config(find_root())
        except LoomgitError:
            self.config = Config(root=Path.cwd())
        self._lock = threading.Lock()
        self._problem: str | None = None
        self._snap = self._read()  # the first read must succeed: raises BundleError
        self.default_stage = self._snap.stage

    def _read(self) -> _Snapshot:
        stamp = file_stamp(self.path)
        data = read_bundle(self.path)
        stage = str(data.get("stage"))
        entries: dict[str, Any] = data["prompts"]
        snap = _Snapshot(
            stamp,
            stage,
            [
                Listed(i, str(e["version"]), str(e["content_hash"]))
                for i, e in sorted(entries.items())
            ],
        )
        for i, e in entries.items():  # every prompt parses, or the copy is not used
            lp = load(i, stage=stage, bundle=self.path)
            if lp.content_hash != str(e["content_hash"]):
                raise RefError(f"{self.path}: changed while it was read")
            snap.prompts[i] = lp
        return snap

    def _current(self) -> _Snapshot:
        snap = self._snap
        stamp = file_stamp(self.path)
        if stamp == snap.stamp:
            return snap
        with self._lock:
            snap = self._snap
            if stamp != snap.stamp:
                try:
                    snap = self._snap = self._read()
                    self._problem = None
                except LoomgitError as e:
                    # keep serving the last good copy; try again on the next request
                    self._problem = (
                        f"{self.path} cannot be used ({e.message}); serving the copy read before"
                    )
            return snap

    def problem(self) -> str | None:
        self._current()
        return self._problem

    def _stage(self, snap: _Snapshot, stage: str) -> None:
        if stage != snap.stage:
            raise RefError(f"the bundle holds stage {snap.stage!r}, not {stage!r}")

    def listing(self, stage: str) -> list[Listed]:
        snap = self._current()
        self._stage(snap, stage)
        return snap.listed

    def get(
        self, ident: str, stage: str | None, version: str | None, ref: str | None
    ) -> LoadedPrompt:
        snap = self._current()
        if stage is not None:
            self._stage(snap, stage)
        lp = snap.prompts.get(ident)
        if lp is None:
            held = ", ".join(sorted(snap.prompts)) or "nothing"
            raise RefError(f"{ident!r} is not in the bundle (it holds {held})")
        if ref is not None:
            raise RefError(
                f"{ident}: a bundle holds one version of each prompt; ref= needs a repository"
            )
        if version is not None and version not in (lp.version, _minor(lp.version)):
            raise RefError(f"{ident}: the bundle holds version {lp.version}, not {version}")
        return lp


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])
