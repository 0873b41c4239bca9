"""Rendering one prompt for many cases, fast, with the sandbox's limits intact.

``Prompt.render`` builds a sandbox, compiles every template and starts a watchdog thread
for each call (about 1 ms). A suite renders one prompt hundreds of times with different
variables, so :class:`CaseRenderer` builds the sandbox and compiles the templates once and
keeps one watchdog thread that it re-arms for each render. The size and time limits are
the same as ``Prompt.render``'s.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import SandboxError

if TYPE_CHECKING:
    from ..prompt.model import Prompt
    from ..prompt.render import IncludeLoader


class _Watchdog:
    """One thread that interrupts the armed thread when its deadline passes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._tid = 0
        self._fired = False
        self._closed = False
        self._exc: type[BaseException] | None = None
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                self._fired = True
                self._deadline = None
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._tid),
                                                           ctypes.py_object(self._exc))

    def arm(self, seconds: float, exc: type[BaseException]) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="loomgit-render-watchdog",
                                                daemon=True)
                self._thread.start()
            idle = self._deadline is None
            self._deadline = time.monotonic() + seconds
            self._tid = threading.get_ident()
            self._exc = exc
            self._fired = False
            if idle:
                self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._deadline = None
            if self._fired:  # clear an exception that may still be pending
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._tid), None)
                self._fired = False

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class CaseRenderer:
    """``render(variables) -> messages`` for one prompt, compiled once."""

    def __init__(self, prompt: Prompt, loader: IncludeLoader | None = None, *,
                 max_chars: int | None = None, timeout_s: float | None = None) -> None:
        from ..prompt import render as R

        self.prompt = prompt
        self.loader = loader
        self.max_chars = max_chars or R.MAX_CHARS
        self.timeout_s = timeout_s or R.TIMEOUT_S
        self.env = R.make_env(loader, self.max_chars)
        compiled: dict[str, Any] = {}
        original = self.env.from_string

        def from_string(source: str, globals: Any = None, template_class: Any = None) -> Any:
            if globals is not None or template_class is not None:
                return original(source, globals, template_class)
            tmpl = compiled.get(source)
            if tmpl is None:
                tmpl = compiled[source] = original(source)
            return tmpl

        self.env.from_string = from_string
        self._watchdog = _Watchdog()

    def render(self, variables: Mapping[str, Any] | None) -> list[dict[str, str]]:
        from ..prompt.render import _Timeout, render_source, resolve_variables

        p = self.prompt
        values = resolve_variables(p, variables, self.loader)
        out = []
        deadline = time.monotonic() + self.timeout_s
        try:
            self._watchdog.arm(self.timeout_s, _Timeout)
            try:
                for m in p.messages:
                    text = render_source(m.source, values, env=self.env, where=(p.path, m.line),
                                         max_chars=self.max_chars, deadline=deadline)
                    out.append({"role": m.role, "content": text})
            finally:
                self._watchdog.disarm()
        except _Timeout:
            raise SandboxError(f"rendering took longer than {self.timeout_s:g} s and was stopped "
                               "(a huge loop?)", path=p.path) from None
        if sum(len(m["content"]) for m in out) > self.max_chars:
            raise SandboxError(f"rendered output exceeds the limit of {self.max_chars:,} characters",
                               path=p.path)
        return out

    def close(self) -> None:
        self._watchdog.close()
