"""Outcome stores, chosen by URL.

- ``sqlite:///relative/path.sqlite`` (relative to the repository root) or
  ``sqlite:////absolute/path.sqlite``: one file, safe with many processes writing (WAL
  journal, a busy timeout, and a retry loop with jitter for the moments SQLite answers
  "locked" anyway). The default is ``.git/loomgit/experiments.sqlite``.
- ``postgresql://user@host:5432/db`` (or ``postgres://``): for applications running on
  several machines, through psycopg 3 (``pip install 'loomgit[postgres]'``). Passwords
  are best left out of the URL (libpq reads ``PGPASSWORD`` and ``~/.pgpass``); when
  present they are never shown.

Each outcome is one row: experiment, variant, unit, outcome (1/0 for a success rate, the
value for a mean), the prompt version that served it, and when it was recorded.
Summaries are computed in the database (count, mean, sum of squared deviations) so that
``status`` never loads raw rows.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import loomgit.gitio as gitio
from loomgit.errors import InfraError, UsageError

TABLE = "loomgit_outcomes"
ENV_URL = "LOOMGIT_EXPERIMENTS_URL"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id {{id}},
    experiment TEXT NOT NULL,
    variant TEXT NOT NULL,
    unit TEXT NOT NULL,
    outcome {{real}} NOT NULL,
    version TEXT,
    recorded_at {{real}} NOT NULL
)"""
# covering both summary queries: status reads the index only (1M outcomes: ~0.5 s, not 3 s)
_INDEX = (
    f"CREATE INDEX IF NOT EXISTS {TABLE}_summary ON {TABLE} (experiment, variant, version, outcome)"
)
_INSERT = (
    f"INSERT INTO {TABLE} (experiment, variant, unit, outcome, version, recorded_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_SUMMARY = f"""
SELECT o.variant, COUNT(*), SUM(o.outcome), AVG(o.outcome),
       SUM((o.outcome - m.mu) * (o.outcome - m.mu))
FROM {TABLE} o
JOIN (SELECT variant, AVG(outcome) AS mu FROM {TABLE} WHERE experiment = ? GROUP BY variant) m
  ON m.variant = o.variant
WHERE o.experiment = ?
GROUP BY o.variant"""
_VERSIONS = (
    f"SELECT variant, version, COUNT(*) FROM {TABLE} WHERE experiment = ? GROUP BY variant, version"
)

Row = tuple[str, str, str, float, "str | None", float]


class StoreError(InfraError):
    """The outcome store cannot be opened, read or written."""


@dataclass(frozen=True)
class VariantData:
    """What the store knows about one variant: ``n`` outcomes, their sum and mean, the
    sum of squared deviations from the mean, and how many came from each version."""

    n: int
    total: float
    mean: float | None
    ss: float
    versions: dict[str, int]


class Store(Protocol):
    url: str  # for display: never holds a password

    def record(
        self, experiment: str, variant: str, unit: str, outcome: float, version: str | None = None
    ) -> None: ...

    def record_many(self, rows: Iterable[Row]) -> int: ...

    def summary(self, experiment: str) -> dict[str, VariantData]: ...

    def close(self) -> None: ...


# -- URLs -----------------------------------------------------------------------------


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def parse_url(url: str) -> tuple[str, str]:
    """(``sqlite``, path) or (``postgresql``, url); a :class:`UsageError` otherwise."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
            raise UsageError(
                f"store {redact(url)!r}: write sqlite:///relative/path.sqlite "
                "or sqlite:////absolute/path.sqlite"
            )
        return "sqlite", url[len("sqlite:///") :]
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        if not url.split("://", 1)[-1]:
            raise UsageError("store: write postgresql://USER@HOST:PORT/DATABASE")
        return "postgresql", "postgresql://" + url.split("://", 1)[1]
    raise UsageError(
        f"store {redact(url)!r}: unknown kind {scheme or url!r}; use "
        "sqlite:///PATH or postgresql://USER@HOST/DATABASE"
    )


def default_url(root: Path) -> str:
    """``sqlite:////<repo>/.git/loomgit/experiments.sqlite`` (the git common dir, so
    every worktree of a repository shares one store)."""
    git = root / ".git"
    if git.is_file():  # a worktree or submodule: ask git where the real one is
        common = gitio.text(["rev-parse", "--git-common-dir"], root, check=False).strip()
        git = (root / common).resolve() if common else git
    if not git.is_dir():
        git = root / ".loomgit"
    return "sqlite:///" + str((git / "loomgit" / "experiments.sqlite").resolve())


def open_store(url: str, root: Path | None = None) -> Store:
    """The store a URL names (relative SQLite paths are relative to ``root``)."""
    kind, target = parse_url(url)
    if kind == "sqlite":
        path = Path(target)
        if not path.is_absolute() and target != ":memory:":
            path = (root or Path.cwd()) / path
        return SQLiteStore(path)
    return PostgresStore(target)


# -- SQLite ---------------------------------------------------------------------------


def _is_busy(e: Exception) -> bool:
    msg = str(e).lower()
    return "locked" in msg or "busy" in msg


class SQLiteStore:
    """A SQLite file shared by processes. Connections are opened lazily, one per
    process (a forked child opens its own), and guarded by a lock across threads."""

    def __init__(self, path: Path, timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.url = "sqlite:///" + str(self.path)
        self.timeout_s = timeout_s
        self._db: Any = None
        self._pid = 0
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        import sqlite3

        if self._db is not None and self._pid == os.getpid():
            return self._db
        self._db = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                str(self.path),
                timeout=self.timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the experiment store {self.path}: {e}") from None
        try:
            self._retry(lambda: db.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}"))
            self._retry(lambda: db.execute("PRAGMA journal_mode = WAL"))
            db.execute("PRAGMA synchronous = NORMAL")
            self._retry(lambda: db.execute(_SCHEMA.format(id="INTEGER PRIMARY KEY", real="REAL")))
            self._retry(lambda: db.execute(_INDEX))
        except BaseException:
            db.close()
            raise
        self._db, self._pid = db, os.getpid()
        return db

    def _retry(self, fn: Any) -> Any:
        import sqlite3

        deadline = time.monotonic() + self.timeout_s
        delay = 0.002
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if not _is_busy(e) or time.monotonic() > deadline:
                    raise StoreError(f"experiment store {self.path}: {e}") from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.25)
            except sqlite3.DatabaseError as e:
                raise StoreError(f"experiment store {self.path}: {e}") from None

    def record(
        self, experiment: str, variant: str, unit: str, outcome: float, version: str | None = None
    ) -> None:
        self.record_many([(experiment, variant, unit, outcome, version, time.time())])

    def record_many(self, rows: Iterable[Row]) -> int:
        batch = list(rows)
        if not batch:
            return 0

        def write() -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(_INSERT, batch)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        with self._lock:
            db = self._connect()
            if len(batch) == 1:
                self._retry(lambda: db.execute(_INSERT, batch[0]))
            else:
                self._retry(write)
        return len(batch)

    def summary(self, experiment: str) -> dict[str, VariantData]:
        with self._lock:
            db = self._connect()
            rows = self._retry(lambda: db.execute(_SUMMARY, (experiment, experiment)).fetchall())
            vrows = self._retry(lambda: db.execute(_VERSIONS, (experiment,)).fetchall())
        return _summaries(rows, vrows)

    def close(self) -> None:
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None


def _summaries(
    rows: Sequence[Sequence[Any]], vrows: Sequence[Sequence[Any]]
) -> dict[str, VariantData]:
    versions: dict[str, dict[str, int]] = {}
    for variant, version, count in vrows:
        versions.setdefault(variant, {})[version or "unversioned"] = int(count)
    return {
        variant: VariantData(
            int(n),
            float(total or 0.0),
            None if mean is None else float(mean),
            float(ss or 0.0),
            versions.get(variant, {}),
        )
        for variant, n, total, mean, ss in rows
    }


# -- PostgreSQL -----------------------------------------------------------------------


class PostgresStore:
    """A PostgreSQL table shared by every machine; one connection per process."""

    def __init__(self, url: str, connect_timeout_s: int = 10) -> None:
        self._url = url
        self.url = redact(url)
        self.connect_timeout_s = connect_timeout_s
        self._db: Any = None
        self._pid = 0
        self._lock = threading.Lock()

    def _fail(self, e: Exception) -> StoreError:
        msg = " ".join(str(e).split()) or type(e).__name__
        password = urlsplit(self._url).password
        if password:
            msg = msg.replace(password, "***")
        return StoreError(f"experiment store {self.url}: {msg}")

    def _connect(self) -> Any:
        db = self._db
        if db is not None and self._pid == os.getpid() and not (db.closed or db.broken):
            return db
        try:
            import psycopg
        except ImportError:
            raise StoreError(
                "a postgresql:// store needs psycopg: pip install 'loomgit[postgres]'"
            ) from None
        try:
            db = psycopg.connect(self._url, autocommit=True, connect_timeout=self.connect_timeout_s)
            with db.transaction():
                # one creator at a time: concurrent CREATE TABLE IF NOT EXISTS can collide
                db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
                db.execute(_SCHEMA.format(id="BIGSERIAL PRIMARY KEY", real="DOUBLE PRECISION"))
                db.execute(_INDEX)
        except psycopg.Error as e:
            raise self._fail(e) from None
        self._db, self._pid = db, os.getpid()
        return db

    def _run(self, fn: Any, *, retry: bool) -> Any:
        """Run ``fn(connection)``. A read whose connection dropped is retried once on a
        new one; a write is not (it may have committed before the drop)."""
        import psycopg

        with self._lock:
            for attempt in (1, 2):
                db = self._connect()
                try:
                    return fn(db)
                except psycopg.OperationalError as e:
                    self._db = None
                    if attempt == 2 or not retry:
                        raise self._fail(e) from None
                except psycopg.Error as e:
                    raise self._fail(e) from None

    def record(
        self, experiment: str, variant: str, unit: str, outcome: float, version: str | None = None
    ) -> None:
        self.record_many([(experiment, variant, unit, outcome, version, time.time())])

    def record_many(self, rows: Iterable[Row]) -> int:
        batch = list(rows)
        if not batch:
            return 0
        sql = _INSERT.replace("?", "%s")

        def write(db: Any) -> None:
            if len(batch) == 1:  # autocommit: one round trip
                db.execute(sql, batch[0])
                return
            with db.transaction(), db.cursor() as cur:
                cur.executemany(sql, batch)

        self._run(write, retry=False)
        return len(batch)

    def summary(self, experiment: str) -> dict[str, VariantData]:
        def read(db: Any) -> tuple[list[Any], list[Any]]:
            rows = db.execute(_SUMMARY.replace("?", "%s"), (experiment, experiment)).fetchall()
            vrows = db.execute(_VERSIONS.replace("?", "%s"), (experiment,)).fetchall()
            return rows, vrows

        rows, vrows = self._run(read, retry=True)
        return _summaries(rows, vrows)

    def close(self) -> None:
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None
