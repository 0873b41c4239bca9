"""API keys: who may read prompts and who may run them, and how often.

Keys come from ``LOOMGIT_SERVE_KEYS`` (``SCOPE:KEY`` entries separated by commas or
whitespace; ``SCOPE`` is ``read`` or ``execute``) and from a keys file (``--keys-file``),
one key a line: ``NAME SCOPE sha256:HEX [RPM]`` where ``HEX`` is the SHA-256 of the key
(``printf %s "$KEY" | sha256sum``), so the file holds no key. Keys from the environment
are hashed as they are read; only hashes stay in memory, and a key's name (never the key)
is what the access log shows. ``execute`` includes ``read``.

Each key has a requests-per-minute limit (a token bucket holding a minute's worth: the
file's ``RPM``, else ``LOOMGIT_SERVE_RPM``, else 600); past it the answer is 429 with
``Retry-After``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from loomgit.errors import UsageError
from loomgit.serve.errors import ApiError

ENV_KEYS = "LOOMGIT_SERVE_KEYS"
ENV_RPM = "LOOMGIT_SERVE_RPM"
DEFAULT_RPM = 600.0
SCOPES = ("read", "execute")
_HEX = re.compile(r"sha256:([0-9a-f]{64})")


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass
class Bucket:
    """A token bucket: ``rpm`` requests a minute, bursts up to a minute's worth."""

    rpm: float
    tokens: float = -1.0
    at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, now: float) -> float:
        """0 when a request may go now, else the seconds until one may."""
        with self.lock:
            if self.tokens < 0:
                self.tokens, self.at = self.rpm, now
            self.tokens = min(self.rpm, self.tokens + (now - self.at) * self.rpm / 60.0)
            self.at = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return 0.0
            return (1.0 - self.tokens) * 60.0 / self.rpm


@dataclass(frozen=True)
class Key:
    name: str
    scope: str
    digest: str  # hex SHA-256 of the key
    bucket: Bucket


class Keys:
    """The configured keys; empty means no authentication (loopback only)."""

    def __init__(self, keys: list[Key]) -> None:
        self.keys = keys
        self._by_digest = {k.digest: k for k in keys}

    def __bool__(self) -> bool:
        return bool(self.keys)

    def check(self, authorization: str | None, scope: str) -> Key | None:
        """The key of a request that may do ``scope``; raises 401/403/429 otherwise.
        None when no keys are configured."""
        if not self.keys:
            return None
        if not authorization:
            raise ApiError(
                401,
                "unauthorized",
                "an API key is needed: send 'Authorization: Bearer KEY'",
                {"WWW-Authenticate": "Bearer"},
            )
        kind, _, token = authorization.partition(" ")
        token = token.strip()
        if kind.lower() != "bearer" or not token:
            raise ApiError(
                401,
                "unauthorized",
                "the Authorization header must be 'Bearer KEY'",
                {"WWW-Authenticate": "Bearer"},
            )
        digest = key_hash(token)
        found = self._by_digest.get(digest)
        if found is None or not hmac.compare_digest(found.digest, digest):
            raise ApiError(
                401, "unauthorized", "the API key is not valid", {"WWW-Authenticate": "Bearer"}
            )
        if scope == "execute" and found.scope != "execute":
            raise ApiError(
                403, "forbidden", f"key {found.name!r} may read prompts but not run them"
            )
        wait = found.bucket.take(time.monotonic())
        if wait > 0:
            raise ApiError(
                429,
                "rate_limited",
                f"key {found.name!r} is over its limit of {found.bucket.rpm:g} requests a minute",
                {"Retry-After": str(max(1, int(wait + 0.999)))},
            )
        return found


def _rpm(text: str | None, where: str) -> float:
    if text is None or text == "":
        return DEFAULT_RPM
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UsageError(f"{where}: requests a minute must be a positive number, got {text!r}")
    return value


def _scope(scope: str, where: str) -> str:
    if scope not in SCOPES:
        raise UsageError(f"{where}: scope {scope!r} is not one of {', '.join(SCOPES)}")
    return scope


def load_keys(
    env: dict[str, str] | None = None, keys_file: str | os.PathLike[str] | None = None
) -> Keys:
    """The keys of ``LOOMGIT_SERVE_KEYS`` and of ``keys_file`` (bad entries: UsageError,
    which never shows the key)."""
    env = dict(os.environ) if env is None else env
    rpm = _rpm(env.get(ENV_RPM), ENV_RPM)
    keys: list[Key] = []
    for n, entry in enumerate(re.split(r"[\s,]+", env.get(ENV_KEYS, "").strip()), 1):
        if not entry:
            continue
        scope, sep, key = entry.partition(":")
        if not sep or not key:
            raise UsageError(f"{ENV_KEYS}: entry {n} is not SCOPE:KEY (SCOPE: read or execute)")
        keys.append(
            Key(f"env-{n}", _scope(scope, f"{ENV_KEYS} entry {n}"), key_hash(key), Bucket(rpm))
        )
    if keys_file is not None:
        path = Path(keys_file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(
                f"cannot read the keys file: {getattr(e, 'strerror', e)}", path=str(path)
            ) from None
        for i, line in enumerate(lines, 1):
            text = line.split("#", 1)[0].split()
            if not text:
                continue
            where = f"{path}:{i}"
            if len(text) not in (3, 4):
                raise UsageError(f"{where}: expected 'NAME SCOPE sha256:HEX [RPM]'")
            m = _HEX.fullmatch(text[2])
            if m is None:
                raise UsageError(
                    f"{where}: the key must be given as sha256:HEX (64 hex digits), never the key itself"
                )
            keys.append(
                Key(
                    text[0],
                    _scope(text[1], where),
                    m.group(1),
                    Bucket(_rpm(text[3], where) if len(text) == 4 else rpm),
                )
            )
    return Keys(keys)
