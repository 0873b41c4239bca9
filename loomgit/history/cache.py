"""On-disk cache of fold states under ``.git/loomgit/history/``, keyed by commit.

A state is a pure function of (commit, the settings that shape versions), so a cached
state never goes stale: settings are part of the folder name (their fingerprint), and a
commit's state never changes. A file that cannot be read is ignored and recomputed.
Writes go to a temporary file that is renamed into place, so readers never see half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..config import Config
from .fold import State

FORMAT = 3  # bump whenever the fold or the bump rules change what a state holds
KEEP = 8  # states kept per settings fingerprint


def fingerprint(config: Config) -> str:
    data = {"format": FORMAT,
            "prompts": [[g.glob, g.id] for g in config.prompts],
            "initial": config.initial_version,
            "history": config.history}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class Store:
    def __init__(self, git_dir: Path, config: Config) -> None:
        self.dir = git_dir / "loomgit" / "history" / fingerprint(config)

    def _path(self, sha: str, kind: str = "state") -> Path:
        return self.dir / f"{sha}.{kind}.json"

    def has(self, sha: str) -> bool:
        return self._path(sha).is_file()

    def shas(self) -> list[str]:
        """Cached commits, newest file first."""
        try:
            files = [(p.stat().st_mtime, p.name.split(".", 1)[0])
                     for p in self.dir.glob("*.state.json")]
        except OSError:
            return []
        return [s for _, s in sorted(files, reverse=True)]

    def _read(self, sha: str, kind: str) -> Any:
        try:
            with open(self._path(sha, kind), encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def load(self, sha: str) -> State | None:
        data = self._read(sha, "state")
        if not isinstance(data, dict) or data.get("commit") != sha:
            return None
        try:
            return State.from_json(data)
        except (KeyError, TypeError, ValueError, IndexError):
            return None

    def load_heads(self, sha: str) -> dict[str, Any] | None:
        data = self._read(sha, "heads")
        return data if isinstance(data, dict) and data.get("commit") == sha else None

    def save(self, state: State) -> None:
        """Write ``state`` (and its small ``heads`` summary); failures are not errors."""
        if state.commit is None:
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._write(self._path(state.commit, "heads"), heads(state))
            self._write(self._path(state.commit), state.to_json())
            self._prune()
        except OSError:
            pass

    def _write(self, path: Path, data: Any) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, separators=(",", ":"), ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def _prune(self) -> None:
        for sha in self.shas()[KEEP:]:
            for kind in ("state", "heads"):
                try:
                    self._path(sha, kind).unlink()
                except OSError:
                    pass

    def touch(self, sha: str) -> None:
        try:
            os.utime(self._path(sha))
        except OSError:
            pass


def heads(state: State) -> dict[str, Any]:
    """What ``loomgit list`` needs: each live prompt's newest version, in a small file."""
    rows = []
    for line in state.lines:
        rec = line.live_rec
        if rec is None or line.path is None:
            continue
        rows.append([line.key, line.id, line.path, rec.version, rec.hash, rec.commit])
    used = {r[5] for r in rows}
    return {"commit": state.commit, "covered": sorted(state.covered), "rows": rows,
            "commits": {s: state.commits[s] for s in used if s in state.commits}}
