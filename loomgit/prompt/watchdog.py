"""A watchdog for renders: one daemon thread for the whole process injects
:class:`RenderTimeout` into a rendering thread whose deadline has passed (a timer thread
per render costs more than the render itself)."""

from __future__ import annotations

import threading
import time
from typing import Any


class RenderTimeout(BaseException):
    """Raised inside the rendering thread by the watchdog (BaseException: not caught by Jinja)."""


class _Monitor:
    """The watchdog thread and the renders it watches."""

    def __init__(self) -> None:
        self.cv = threading.Condition()
        self.active: dict[int, list[Any]] = {}  # token -> [deadline, thread id, fired]
        self.thread: threading.Thread | None = None
        self.next_token = 0

    def start(self, seconds: float) -> int:
        with self.cv:
            self.next_token += 1
            token = self.next_token
            self.active[token] = [time.monotonic() + seconds, threading.get_ident(), False]
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, name="loomgit-render-watchdog", daemon=True
                )
                self.thread.start()
            self.cv.notify()
        return token

    def stop(self, token: int) -> None:
        with self.cv:
            entry = self.active.pop(token, None)
            if entry is not None and entry[2]:  # clear an exception that may still be pending
                import ctypes  # start-up: only a render that ran out of time needs it

                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(entry[1]), None)

    def _run(self) -> None:
        with self.cv:
            while True:
                now = time.monotonic()
                waits = []
                for entry in self.active.values():
                    if entry[2]:
                        continue
                    if entry[0] <= now:
                        import ctypes  # start-up: only a render that ran out of time needs it

                        entry[2] = True
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(
                            ctypes.c_ulong(entry[1]), ctypes.py_object(RenderTimeout)
                        )
                    else:
                        waits.append(entry[0] - now)
                self.cv.wait(timeout=min(waits) if waits else None)


_MONITOR = _Monitor()


class Watchdog:
    """Context manager: a render that outlives ``seconds`` gets :class:`RenderTimeout`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.token = 0

    def __enter__(self) -> Watchdog:
        self.token = _MONITOR.start(self.seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        _MONITOR.stop(self.token)
