"""A real headless Chromium, driven over the DevTools protocol on a pipe (no websocket
library, no driver download): open loomgit's HTML pages, measure their layout with the
browser's own geometry, take screenshots, time how long a page takes to open.

Chromium is started with ``--remote-debugging-pipe``: it reads commands from file
descriptor 3 and writes answers and events to descriptor 4, one JSON message each,
ended by a NUL byte (the transport Puppeteer's ``pipe: true`` uses).

    with Browser() as b:
        page = b.open(path, width=1280, height=900)
        boxes = page.evaluate("...")          # a JavaScript expression's value
        page.screenshot(tmp / "page.png")

Used by the browser tests and by ``bench/bench_viewer.py``. ``find_chromium()`` is None
when no Chromium is installed (the tests then skip, saying why).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    pass


class Browser:
    """One Chromium process with a throw-away profile; pages are its tabs."""

    def __init__(self, timeout_s: float = 60.0) -> None:
        exe = find_chromium()
        if exe is None:
            raise BrowserError("chromium is not installed (apt-get install -y chromium)")
        self.timeout_s = timeout_s
        # a short path, also as TMPDIR: Chromium aborts when its socket path is too long
        self.profile = tempfile.mkdtemp(prefix="lgcdp.", dir="/tmp")
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # the child sees them as fds 3 (commands in) and 4 (answers out)

        def _child_fds() -> None:
            # copies above 10 first, so neither end is overwritten by the other's dup2
            high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        args = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--hide-scrollbars",
            "--mute-audio",
            "--remote-debugging-pipe",
            f"--user-data-dir={self.profile}",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_child_fds,  # only dup2, before exec
            env={**os.environ, "TMPDIR": self.profile},
            close_fds=False,  # fds 3 and 4 stay open; the others are close-on-exec
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._w = to_chrome_w
        self._r = from_chrome_r
        self._buf = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    # -- the protocol

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("chromium did not answer in time")
            ready, _, _ = select.select([self._r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise BrowserError("chromium closed the pipe (did it crash?)")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        msg: dict[str, Any] = json.loads(raw)
        return msg

    def send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        self._next_id += 1
        mid = self._next_id
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            m = self._read_message(deadline)
            if m.get("id") == mid:
                if "error" in m:
                    raise BrowserError(f"{method}: {m['error'].get('message')}")
                return m.get("result", {})
            if "method" in m:
                self._events.append(m)

    def wait_event(self, method: str, session: str = "", timeout_s: float | None = None) -> Any:
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while True:
            for i, e in enumerate(self._events):
                if e.get("method") == method and (not session or e.get("sessionId") == session):
                    del self._events[i]
                    return e.get("params", {})
            m = self._read_message(deadline)
            if "method" in m:
                self._events.append(m)

    def cpu_seconds(self) -> dict[int, float]:
        """CPU seconds (user + system) used so far by each process of this Chromium:
        a figure that a loaded machine's waiting does not inflate (see cpu_since)."""
        ticks = os.sysconf("SC_CLK_TCK")
        parents: dict[int, int] = {}
        used: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            used[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
        mine: dict[int, float] = {}
        for pid, cpu in used.items():
            p = pid
            while p > 1 and p != self.proc.pid:
                p = parents.get(p, 0)
            if p == self.proc.pid:
                mine[pid] = cpu
        return mine

    def cpu_since(self, before: dict[int, float]) -> float:
        """CPU seconds the processes alive now used since ``before`` (a process that
        ended in between is not counted, so a closed tab cannot make it negative)."""
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in self.cpu_seconds().items())

    # -- pages

    def open(
        self, path: Path | str, *, width: int = 1280, height: int = 900, scripts: bool = True
    ) -> Page:
        """A new tab of ``width`` x ``height`` CSS pixels showing the file ``path``, loaded."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, target, session, scripts)
        self.send("Page.enable", session=session)
        self.send("Runtime.enable", session=session)
        page.resize(width, height)
        if not scripts:
            self.send("Emulation.setScriptExecutionDisabled", {"value": True}, session=session)
        page.load(path)
        return page

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close")
                except BrowserError:
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            for fd in (self._w, self._r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    def __init__(self, browser: Browser, target: str, session: str, scripts: bool) -> None:
        self.browser = browser
        self.scripts = scripts
        self.load_s = 0.0  # navigation start to the first frame after load, last load()
        self.target = target
        self.session = session

    def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self.browser.send(method, params, session=self.session)

    def resize(self, width: int, height: int) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def load(self, path: Path | str) -> float:
        """Navigate to ``path`` and wait for its load event and first paint after it;
        returns the seconds that took (as the browser's clock measured it)."""
        url = path if isinstance(path, str) and "://" in path else Path(path).resolve().as_uri()
        self.send("Page.navigate", {"url": url})
        self.load_s = 0.0
        self.browser.wait_event("Page.loadEventFired", self.session)
        if not self.scripts:  # no animation frames for a page without scripts
            self.load_s = float(self.evaluate("performance.now()")) / 1000.0
            return self.load_s
        # the time from navigation start to a frame painted after load
        value = self.evaluate(
            "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() =>"
            " r(performance.now()))))"
        )
        self.load_s = float(value) / 1000.0
        return self.load_s

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        res = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            text = (d.get("exception") or {}).get("description") or d.get("text")
            raise BrowserError(f"evaluate: {text}")
        return res.get("result", {}).get("value")

    def screenshot(self, out: Path, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        out.write_bytes(base64.b64decode(data))
        return out

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})


# -- what a person would see wrong, measured by the browser ------------------------------

LAYOUT_JS = r"""
(() => {
  const out = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : "");
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && cs.visibility !== "hidden" && cs.display !== "none";
  };
  const inside = (a, b, tol) => a.left >= b.left - tol && a.right <= b.right + tol &&
    a.top >= b.top - tol && a.bottom <= b.bottom + tol;
  const overlap = (a, b) => Math.max(0, Math.min(a.right, b.right) - Math.max(a.left, b.left)) *
    Math.max(0, Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top));
  const de = document.documentElement;
  if (de.scrollWidth > window.innerWidth + 1) {
    out.push(`the page scrolls sideways: ${de.scrollWidth}px wide in a ${window.innerWidth}px window`);
  }
  // HTML: content wider than its box spills over or is cut, unless the box scrolls
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("svg") || !visible(el) || el.clientWidth === 0) continue;
    const cs = getComputedStyle(el);
    let hiddenForScreenReaders = false;  // the visually-hidden pattern (clip-path)
    for (let e = el; e; e = e.parentElement) {
      if (getComputedStyle(e).clipPath !== "none") { hiddenForScreenReaders = true; break; }
    }
    if (hiddenForScreenReaders) continue;
    const wide = el.scrollWidth > el.clientWidth + 1;
    if (["auto", "scroll"].includes(cs.overflowX)) {
      // a box meant to scroll sideways (a wide table, the timeline) may; no other may
      if (wide && !el.matches(".table-wrap, .scroll")) {
        out.push(`${name(el)} scrolls sideways: content ${el.scrollWidth}px in ${el.clientWidth}px`);
      }
      continue;
    }
    if (wide) {
      out.push(`${name(el)} overflows: content ${el.scrollWidth}px in ${el.clientWidth}px`);
    }
    const px = parseFloat(cs.fontSize);
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (own && px < 11) out.push(`${name(el)} text is ${px}px (under 11px)`);
  }
  // SVG: every label inside its chart, drawn large enough, not over another label
  for (const svg of document.querySelectorAll("svg")) {
    if (!visible(svg)) continue;
    const box = svg.getBoundingClientRect();
    const vb = svg.viewBox.baseVal;
    const scale = vb && vb.width ? box.width / vb.width : 1;
    const texts = [...svg.querySelectorAll("text")].filter(visible);
    const rects = texts.map((t) => t.getBoundingClientRect());
    texts.forEach((t, i) => {
      const label = JSON.stringify(t.textContent.trim());
      if (!inside(rects[i], box, 0.5)) out.push(`chart label ${label} is cut by its chart's edge`);
      const size = parseFloat(t.getAttribute("font-size") || "10") * scale;
      if (size < 9) out.push(`chart label ${label} is drawn at ${size.toFixed(1)}px (under 9px)`);
      for (let j = 0; j < i; j++) {
        if (overlap(rects[i], rects[j]) > 1) {
          out.push(`chart labels ${label} and ${JSON.stringify(texts[j].textContent.trim())} overlap`);
        }
      }
    });
  }
  return out;
})()
"""

A11Y_JS = r"""
(() => {
  const out = [];
  if (!document.documentElement.lang) out.push("no lang on <html>");
  if (!document.title.trim()) out.push("no <title>");
  for (const t of document.querySelectorAll("table")) {
    const heads = t.querySelectorAll("thead th");
    if (!heads.length) out.push("a table without column headers");
    for (const th of heads) if (th.getAttribute("scope") !== "col") out.push("a column header without scope=col");
  }
  for (const input of document.querySelectorAll("input")) {
    if (input.type === "hidden") continue;
    if (!input.labels || !input.labels.length) out.push(`input#${input.id} has no label`);
  }
  for (const svg of document.querySelectorAll("svg")) {
    if (svg.getAttribute("role") !== "img" || !svg.getAttribute("aria-label")) {
      out.push("a chart without role=img and an aria-label");
    }
  }
  // WCAG 2 contrast of each element's own text against what is behind it
  const rgba = (s) => { const m = s.match(/[\d.]+/g).map(Number); return m.length === 3 ? [...m, 1] : m; };
  const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3]));
  const behind = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let bg = [255, 255, 255];
    for (const c of layers.reverse()) bg = over(c, bg);
    return bg;
  };
  const seen = new Set();
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("svg") || el.closest("[hidden]")) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const cs = getComputedStyle(el);
    if (cs.display === "none" || cs.visibility === "hidden" || el.getClientRects().length === 0) continue;
    const fg = rgba(cs.color);
    const bg = behind(el);
    const f = over(fg, bg);
    const [a, b] = [lum(f), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const px = parseFloat(cs.fontSize);
    const large = px >= 24 || (px >= 18.66 && Number(cs.fontWeight) >= 700);
    const need = large ? 3 : 4.5;
    const key = `${cs.color} on ${bg.map(Math.round)}`;
    if (ratio < need && !seen.has(key)) {
      seen.add(key);
      out.push(`contrast ${ratio.toFixed(2)} < ${need} for ${JSON.stringify(el.textContent.trim().slice(0, 30))} (${key})`);
    }
  }
  return [...new Set(out)];
})()
"""


def layout_problems(page: Page) -> list[str]:
    """What a reader would see wrong: sideways scrolling, text spilling out of or cut by
    its box, text too small, chart labels cut or over each other."""
    found: list[str] = page.evaluate(LAYOUT_JS)
    return found


def accessibility_problems(page: Page) -> list[str]:
    """The basics: language and title, table headers, labelled inputs, named charts,
    WCAG contrast of text (4.5:1, 3:1 for large text)."""
    found: list[str] = page.evaluate(A11Y_JS)
    return found
