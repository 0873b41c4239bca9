"""A watchdog for renders: one daemon thread for the whole process injects
:class:`RenderTimeout` into a rendering thread whose deadline has passed (a timer thread
per render costs more than the render itself).

The thread is woken only when a new render's deadline comes before the time it will wake
anyway. While renders keep coming it wakes every :data:`IDLE_S` at most, so renders one
after another (an eval renders a case per request) do not each hand the GIL to it and back;
after a quiet :data:`IDLE_S` it sleeps until the next render."""

from __future__ import annotations

import threading
import time
from typing import Any

IDLE_S = 1.0  # with no render running, how long the thread waits for the next before sleeping


class RenderTimeout(BaseException):
    """Raised inside the rendering thread by the watchdog (BaseException: not caught by Jinja)."""


class _Monitor:
    """The watchdog thread and the renders it watches."""

    def __init__(self) -> None:
        self.cv = threading.Condition()
        self.active: dict[int, list[Any]] = {}  # token -> [deadline, thread id, fired]
        self.thread: threading.Thread | None = None
        self.next_token = 0
        self.wake_at = float("inf")  # when the thread will look again (inf: when told)

    def start(self, seconds: float) -> int:
        with self.cv:
            self.next_token += 1
            token = self.next_token
            deadline = time.monotonic() + seconds
            self.active[token] = [deadline, threading.get_ident(), False]
            if self.thread is None or not self.thread.is_alive():
                self.wake_at = 0.0
                self.thread = threading.Thread(
                    target=self._run, name="loomgit-render-watchdog", daemon=True
                )
                self.thread.start()
            elif deadline < self.wake_at:
                # it will look again by this deadline, with every render then running:
                # later ones need not tell it again, even before it has woken
                self.wake_at = deadline
                self.cv.notify()
        return token

    def stop(self, token: int) -> None:
        with self.cv:
            entry = self.active.pop(token, None)
            if entry is not None and entry[2]:  # clear an exception that may still be pending
                import ctypes  # start-up: only a render that ran out of time needs it

                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(entry[1]), None)

    def _run(self) -> None:
        seen = -1
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
                if not waits and self.next_token != seen:  # renders came since: wait a while
                    waits.append(IDLE_S)
                seen = self.next_token
                wait = min(waits) if waits else None
                self.wake_at = now + wait if wait is not None else float("inf")
                self.cv.wait(timeout=wait)


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
