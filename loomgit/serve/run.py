"""Starting the server: the source, the keys, the application, Uvicorn.

With no API key configured the server answers without authentication, so it binds only
to a loopback address; asking for another host without keys is a usage error.
"""

from __future__ import annotations

import contextlib
import gc
import ipaddress
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any

from loomgit.errors import UsageError
from loomgit.serve.app import create_app
from loomgit.serve.auth import ENV_KEYS, load_keys
from loomgit.serve.core import Settings
from loomgit.serve.observe import AccessLog
from loomgit.serve.sources import BundleSource, RepoSource, Source


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build(
    *,
    host: str,
    bundle: str | None,
    keys_file: str | None,
    cors_origins: tuple[str, ...] = (),
    max_age: int = 5,
    env: dict[str, str] | None = None,
    access_log: AccessLog | None = None,
) -> tuple[Any, Settings, list[str]]:
    """(ASGI app, its settings, lines to say at start-up)."""
    keys = load_keys(env, keys_file)
    notes: list[str] = []
    if not keys:
        if not is_loopback(host):
            raise UsageError(
                f"--host {host}: no API keys are configured, so the server answers only on "
                f"loopback (set {ENV_KEYS} or --keys-file to serve other hosts)"
            )
        notes.append("no API keys configured: answering without authentication, on loopback only")
    source: Source = BundleSource(bundle) if bundle else RepoSource()
    settings = Settings(
        source,
        keys,
        max_age=max_age,
        cors_origins=cors_origins,
        access_log=access_log or AccessLog(),
    )
    return create_app(settings), settings, notes


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(
    *,
    host: str,
    port: int,
    bundle: str | None,
    keys_file: str | None,
    cors_origins: tuple[str, ...],
    max_age: int,
    say: Callable[[str], None],
) -> int:
    import uvicorn

    app, settings, notes = build(
        host=host,
        bundle=bundle,
        keys_file=keys_file,
        cors_origins=cors_origins,
        max_age=max_age,
        env=dict(os.environ),
        access_log=AccessLog(sys.stderr.write),
    )
    sock = bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    for n in notes:
        say(f"loomgit: note: {n}")
    say(
        f"loomgit: serving {settings.source.description} at "
        f"http://{shown}:{sock.getsockname()[1]} (stage {settings.source.default_stage})"
    )
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # ours is structured and leaves out query strings
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=10,
    )

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            """SIGINT and SIGTERM (``docker stop``) finish the requests in flight and stop:
            exit 0, a stop that was asked for (Uvicorn would raise the signal again)."""
            old = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for s, handler in old.items():
                    signal.signal(s, handler)

    gc.freeze()  # what start-up made lives as long as the server: no collection walks it
    Server(config).run(sockets=[sock])
    return 0
