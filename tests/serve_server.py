"""``loomgit serve``'s application on a real Uvicorn server on 127.0.0.1 (a free port), in
a thread of the test process, with the access log captured."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from loomgit.serve.run import bind, build


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def running(
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    bundle: str | None = None,
    keys_file: str | None = None,
    cors: tuple[str, ...] = (),
) -> Iterator[tuple[httpx.Client, Lines, Any]]:
    """(client with base_url set, the access-log lines, the settings)."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        app, settings, _ = build(
            host="127.0.0.1",
            bundle=bundle,
            keys_file=keys_file,
            cors_origins=cors,
            env=env or {},
        )
    finally:
        os.chdir(old)
    log = logging.getLogger("loomgit.serve.access")
    lines = Lines()
    log.addHandler(lines)
    log.setLevel(logging.INFO)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started and thread.is_alive():
            threading.Event().wait(0.01)
        port = sock.getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client, lines, settings
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        log.removeHandler(lines)
