"""On-disk cache of fold states under ``.git/loomgit/history/``, keyed by commit.

A state is a pure function of (commit, the settings that shape versions), so a cached
state never goes stale: the settings are part of the folder name (their fingerprint),
and a commit's state never changes. Per commit there are three files:

- ``<sha>.idx.json``: the small part (ids, paths, each prompt's newest version), all
  that ``loomgit list`` reads;
- ``<sha>.lines.jsonl``: one prompt's whole version line per row, read row by row when
  a prompt's log is needed;
- ``<sha>.fold.json``: the file tree and commit table, read only to fold new commits.

Beside the folders, ``shapes-jinja<release>.json`` keeps which names each template shape
uses (:mod:`loomgit.prompt.names`), so folding new commits parses only new shapes.

A file that cannot be read is ignored and recomputed. Files are written to temporary
names and renamed into place (the index last), so a reader never sees half a state.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from loomgit.config import Config
from loomgit.errors import InfraError
from loomgit.fsutil import Data, atomic_write
from loomgit.history.fold import Line, Lines, State
from loomgit.prompt.names import jinja_version, learnt, shape_store

FORMAT = 9  # bump whenever the fold or the bump rules change what a state holds
KEEP = 8  # states kept per settings fingerprint
SHAPES_MAX = 50_000  # template shapes kept (a store past this starts again)
_KINDS = ("idx", "lines", "fold")


def fingerprint(config: Config) -> str:
    data = {
        "format": FORMAT,
        "prompts": [[g.glob, g.id, *sorted(g.options().items())] for g in config.prompts],
        "initial": config.initial_version,
        "history": config.history,
        "includes": list(config.includes),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class CacheError(InfraError):
    """A cached file vanished or is damaged while in use (the damaged state is removed,
    so running the command again recomputes it)."""


class Store:
    def __init__(self, git_dir: Path, config: Config) -> None:
        self.dir = git_dir / "loomgit" / "history" / fingerprint(config)
        shape_store(self._shapes)  # read at the first template shape not in memory

    def _shapes_path(self) -> Path:
        return self.dir.parent / f"shapes-jinja{jinja_version()}.json"

    def _shapes(self) -> dict[str, Any]:
        """Template shapes and the names they use (settings do not change them)."""
        try:
            data = json.loads(self._shapes_path().read_bytes())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save_shapes(self) -> None:
        new = learnt()
        if new:
            known = self._shapes()
            if len(known) > SHAPES_MAX:
                known = {}
            for key, got in new.items():
                known[key] = None if got is None else [sorted(got[0]), list(got[1])]
            self._write(self._shapes_path(), _dumps(dict(sorted(known.items()))))

    def path(self, sha: str, kind: str) -> Path:
        ext = "jsonl" if kind == "lines" else "json"
        return self.dir / f"{sha}.{kind}.{ext}"

    def has(self, sha: str) -> bool:
        return self.path(sha, "idx").is_file()

    def shas(self) -> list[str]:
        """Cached commits, most recently used first."""
        try:
            files = [
                (p.stat().st_mtime, p.name.split(".", 1)[0]) for p in self.dir.glob("*.idx.json")
            ]
        except OSError:
            return []
        return [s for _, s in sorted(files, reverse=True)]

    def _json(self, sha: str, kind: str) -> Any:
        try:
            with open(self.path(sha, kind), "rb") as f:
                return json.loads(f.read())
        except (OSError, ValueError):
            return None

    def load_index(self, sha: str) -> dict[str, Any] | None:
        data = self._json(sha, "idx")
        if not isinstance(data, dict) or data.get("commit") != sha:
            return None
        return data

    def load(self, sha: str) -> State | None:
        """The cached state at ``sha`` (lines and fold data are read when first needed)."""
        idx = self.load_index(sha)
        if idx is None:
            return None
        offsets: list[list[int]] = idx.get("offsets") or []
        blob: list[memoryview] = []

        def damaged(why: str) -> CacheError:
            self.drop(sha)
            return CacheError(
                f"the history cache for {sha[:7]} was {why} and has been "
                f"removed; run the command again ({self.dir})"
            )

        def raw(key: int) -> memoryview:  # a view: a new state copies rows as they are
            if not blob:
                try:
                    blob.append(memoryview(self.path(sha, "lines").read_bytes()))
                except OSError:
                    raise damaged("removed while in use") from None
            start, size = offsets[key]
            return blob[0][start : start + size]

        def load(key: int) -> Line:
            try:
                return Line.from_json(key, json.loads(bytes(raw(key))))
            except (ValueError, TypeError, IndexError, KeyError):
                raise damaged("damaged") from None

        def fold_data() -> tuple[dict[str, str], dict[str, list[Any]]]:
            data = self._json(sha, "fold")
            if (
                not isinstance(data, dict)
                or not isinstance(data.get("tree"), dict)
                or not isinstance(data.get("commits"), dict)
            ):
                raise damaged("damaged")
            return data["tree"], data["commits"]

        try:  # a cut-short lines file is caught here, before anything is read from it
            size = self.path(sha, "lines").stat().st_size
        except OSError:
            return None
        if offsets and size != offsets[-1][0] + offsets[-1][1] + 1:
            self.drop(sha)
            return None

        try:
            return State.from_index(idx, Lines(len(offsets), load, raw), fold_data)
        except (KeyError, TypeError, ValueError):
            return None

    def save(self, state: State) -> None:
        """Write ``state``; failures (read-only .git, full disk) are not errors."""
        if state.commit is None:
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            rows: list[bytes | memoryview] = []
            lines = state.lines
            for key in range(len(lines)):
                if lines.loaded(key) or lines.raw is None:
                    rows.append(lines[key].row())
                else:
                    rows.append(lines.raw(key))
            offsets, pos = [], 0
            for r in rows:
                offsets.append([pos, len(r)])
                pos += len(r) + 1
            # written row by row: the unchanged rows of a state folded on are views of
            # the file it was read from, never copied into one large bytes object
            self._write(self.path(state.commit, "lines"), (p for r in rows for p in (r, b"\n")))
            self._write(
                self.path(state.commit, "fold"),
                _dumps({"tree": state.tree, "commits": state.commits}),
            )
            self._write(
                self.path(state.commit, "idx"), _dumps({**state.index(), "offsets": offsets})
            )
            self._prune()
            self._save_shapes()
        except (OSError, CacheError):
            pass

    def _write(self, path: Path, data: Data) -> None:

        atomic_write(path, data)

    def _prune(self) -> None:
        for sha in self.shas()[KEEP:]:
            self.drop(sha)

    def drop(self, sha: str) -> None:
        for kind in ("idx", "fold", "lines"):
            try:
                self.path(sha, kind).unlink()
            except OSError:
                pass

    def touch(self, sha: str) -> None:
        try:
            os.utime(self.path(sha, "idx"))
        except OSError:
            pass


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
