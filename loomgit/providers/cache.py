"""The on-disk response cache, and the request key it shares with recordings.

A request is keyed by the sha256 of its canonical JSON: the model's full name
(``provider/model``), the params actually sent, the messages, and the sample index when it
is not 0 (so ``repeat: 3`` keeps three answers apart). Only answers are cached, never
errors. Answers live in one SQLite database under ``.git/loomgit/cache/`` (or
``cache: {dir: ...}``), a row per key; an entry older than the TTL (default 7 days) is
ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loomgit._git import git_dir
from loomgit.providers.base import Completion
from loomgit.providers.errors import config_error

if TYPE_CHECKING:
    from loomgit.config import Config

DEFAULT_TTL_S = 7 * 24 * 3600.0
CACHE_KEYS = ("dir", "ttl", "enabled")  # the settings of loomgit.yaml's cache: section
_TTL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
FLUSH_ROWS = 64  # answers kept in memory before they are written together
FLUSH_S = 1.0  # or seconds since the oldest of them arrived

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, kind TEXT NOT NULL, "
    "created REAL NOT NULL, value TEXT NOT NULL) WITHOUT ROWID"
)


def _keyed(m: Mapping[str, Any]) -> dict[str, Any]:
    """A message as keyed: role and content, plus the tool fields a turn carries (absent
    ones add nothing, so keys of plain text requests are what they always were)."""
    content = m.get("content", "")
    if isinstance(content, list):  # content parts: canonical JSON, not a Python repr
        content = json.dumps(content, sort_keys=True, ensure_ascii=False)
    d: dict[str, Any] = {"role": str(m.get("role", "")), "content": str(content)}
    for k in ("tool_calls", "tool_call_id", "name"):
        if m.get(k):
            d[k] = m[k]
    return d


def request_key(
    model: str, params: Mapping[str, Any], messages: Sequence[Mapping[str, Any]], sample: int = 0
) -> str:
    """The hex sha256 that names one request in the cache and in recordings."""
    doc: dict[str, Any] = {
        "model": model,
        "params": dict(params),
        "messages": [_keyed(m) for m in messages],
    }
    if sample:
        doc["sample"] = int(sample)
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def embed_key(model: str, texts: Sequence[str]) -> str:
    blob = json.dumps({"embed": model, "texts": list(texts)}, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def parse_ttl(value: Any) -> float | None:
    """Seconds from ``3600``, ``"90m"``, ``"12h"``, ``"7d"``, ``"2w"``; None = never expires."""
    if value is None or value in ("never", "none"):
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(value)
        return float(value)
    m = _TTL_RE.match(str(value))
    if not m:
        raise ValueError(value)
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    writes: int = 0


class ResponseCache:
    """Answers on disk: one SQLite database, ``answers.sqlite``, in :attr:`dir`.

    One row per request key (WAL mode, ``synchronous=NORMAL``). New answers are kept in
    memory and written together, :data:`FLUSH_ROWS` or :data:`FLUSH_S` at a time, and at
    :meth:`close` (or when the cache is collected, or the process exits): a transaction of
    64 rows costs about what one row on its own does. No lock is held between writes, so
    several processes share the database. Any SQLite error is a miss or a skipped write,
    never a failed call. Files of the earlier layout (``ab/<key>.json``) are still read on
    a miss."""

    FILE = "answers.sqlite"

    def __init__(
        self, directory: str | os.PathLike[str], ttl_s: float | None = DEFAULT_TTL_S
    ) -> None:
        self.dir = Path(directory)
        self.ttl_s = ttl_s
        self.stats = CacheStats()
        self._db: Any = None  # sqlite3.Connection once opened; False when it cannot be
        self._legacy: bool | None = None
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[str, float, str]] = {}  # key -> row not yet written
        self._oldest = 0.0
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @property
    def path(self) -> Path:
        return self.dir / self.FILE

    def _connect(self, create: bool) -> Any:
        """The open database (None when absent and not ``create``, or unusable)."""
        if self._db is not None:
            return self._db or None
        import sqlite3  # start-up: only a run that reads or writes answers needs it

        path = self.path
        if not create and not path.is_file():
            return None
        try:
            if create:
                self.dir.mkdir(parents=True, exist_ok=True)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # answers are private
            con = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute(_SCHEMA)
        except (sqlite3.Error, OSError):
            self._db = False
            return None
        self._db = con
        self._finalizer = weakref.finalize(self, _write_rows, con, self._pending, True)
        return con

    def flush(self) -> None:
        """Write the answers kept in memory."""
        with self._lock:
            if self._pending:
                con = self._connect(create=True)
                if con is not None:
                    _write_rows(con, self._pending)
                self._pending.clear()

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
            if self._db:
                self._db.close()
            self._db = None

    def _legacy_path(self, key: str) -> Path | None:
        if self._legacy is None:
            try:
                self._legacy = any(len(p.name) == 2 and p.is_dir() for p in self.dir.iterdir())
            except OSError:
                self._legacy = False
        return self.dir / key[:2] / f"{key}.json" if self._legacy else None

    def _row(self, key: str) -> tuple[Any, Any, Any] | None:
        import sqlite3

        with self._lock:
            row = self._pending.get(key)
            if row is not None:
                return row
            con = self._connect(create=False)
            if con is not None:
                try:
                    row = con.execute(
                        "SELECT kind, created, value FROM answers WHERE key = ?", (key,)
                    ).fetchone()
                except sqlite3.Error:
                    row = None
                if row is not None:
                    return row[0], row[1], row[2]
        legacy = self._legacy_path(key)
        if legacy is None:
            return None
        try:
            doc = json.loads(legacy.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict):
            return None
        return doc.get("kind"), doc.get("created"), json.dumps(doc.get("value"))

    def _read(self, key: str, kind: str) -> Any:
        row = self._row(key)
        if row is None or row[0] != kind:
            self.stats.misses += 1
            return None
        created = row[1]
        fresh = self.ttl_s is None or (
            isinstance(created, (int, float)) and time.time() - created <= self.ttl_s
        )
        try:
            value = json.loads(row[2]) if fresh else None
        except (TypeError, ValueError):
            value = None
        if value is None:
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return value

    def _write(self, key: str, kind: str, value: Any) -> None:
        blob = json.dumps(value, ensure_ascii=False)
        now = time.time()
        with self._lock:
            con = self._connect(create=True)
            if con is None:
                return  # a cache that cannot be written is no reason to fail the call
            if not self._pending:
                self._oldest = now
            self._pending[key] = (kind, now, blob)
            self.stats.writes += 1
            if len(self._pending) >= FLUSH_ROWS or now - self._oldest >= FLUSH_S:
                _write_rows(con, self._pending)
                self._pending.clear()

    def get(self, key: str) -> Completion | None:
        value = self._read(key, "completion")
        if not isinstance(value, dict):
            return None
        try:
            return Completion.from_dict(value, cached=True, raw=None)
        except (TypeError, ValueError):
            return None

    def put(self, key: str, completion: Completion) -> None:
        self._write(key, "completion", completion.to_dict())

    def get_embeddings(self, key: str) -> list[list[float]] | None:
        value = self._read(key, "embeddings")
        return value if isinstance(value, list) else None

    def put_embeddings(self, key: str, vectors: list[list[float]]) -> None:
        self._write(key, "embeddings", vectors)

    def clear(self) -> int:
        """Delete every cached answer; returns how many went."""
        import sqlite3

        n = 0
        with self._lock:
            n += len(self._pending)
            self._pending.clear()
            con = self._connect(create=False)
            if con is not None:
                try:
                    n += con.execute("DELETE FROM answers").rowcount
                except sqlite3.Error:
                    pass
        if self.dir.is_dir():
            for p in self.dir.glob("??/*.json"):
                try:
                    p.unlink()
                    n += 1
                except OSError:
                    pass
        return n


def _write_rows(con: Any, rows: dict[str, tuple[str, float, str]], close: bool = False) -> None:
    """Write ``rows`` (key -> kind, created, value) in one transaction; an error skips them."""
    import sqlite3

    try:
        if rows:
            with con:  # one transaction: committed, or rolled back on an error
                con.execute("BEGIN")
                con.executemany(
                    "INSERT OR REPLACE INTO answers (key, kind, created, value) "
                    "VALUES (?, ?, ?, ?)",
                    [(k, *v) for k, v in rows.items()],
                )
        if close:
            con.close()
    except sqlite3.Error:
        pass


def cache_from_config(config: Config) -> ResponseCache | None:
    """The cache ``loomgit.yaml``'s ``cache:`` section describes (None when disabled)."""
    section = config.section("cache")
    for key in section:
        if key not in CACHE_KEYS:
            raise config_error(config, ("cache", key), "unknown setting; known: dir, ttl, enabled")
    if section.get("enabled", True) is False:
        return None
    if not isinstance(section.get("enabled", True), bool):
        raise config_error(config, ("cache", "enabled"), "must be true or false")
    try:
        ttl = parse_ttl(section["ttl"]) if "ttl" in section else DEFAULT_TTL_S
    except ValueError:
        raise config_error(
            config,
            ("cache", "ttl"),
            f"{section['ttl']!r} is not a duration such as 3600, 90m, 12h, 7d or 'never'",
        ) from None
    if section.get("dir"):
        d = Path(os.path.expanduser(str(section["dir"])))
        directory = d if d.is_absolute() else config.root / d
    else:
        gd = git_dir(config.root)
        directory = gd / "loomgit" / "cache" if gd else config.root / ".loomgit" / "cache"
    return ResponseCache(directory, ttl)
