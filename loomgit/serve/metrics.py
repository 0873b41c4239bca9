"""Prometheus metrics in the text exposition format (``GET /metrics``), kept in-process.

- ``loomgit_serve_requests_total{route, method, status}``
- ``loomgit_serve_request_duration_seconds{route}`` (histogram)
- ``loomgit_serve_not_modified_total{route}``: ``If-None-Match`` answered with 304
- ``loomgit_serve_executions_total{prompt, version, model}``
- ``loomgit_serve_execution_cache_hits_total{prompt, version, model}``: from the response cache
- ``loomgit_serve_provider_errors_total{prompt, version, model, type}``
- ``loomgit_serve_tokens_total{prompt, version, model, kind}`` and
  ``loomgit_serve_cost_usd_total{prompt, version, model}``

Each copy of the server counts its own requests (Prometheus sums the copies).
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Mapping

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[tuple[str, str], ...]

_HELP = {
    "loomgit_serve_requests_total": ("counter", "HTTP requests answered"),
    "loomgit_serve_not_modified_total": ("counter", "Requests answered 304 Not Modified"),
    "loomgit_serve_executions_total": ("counter", "Executions answered"),
    "loomgit_serve_execution_cache_hits_total": (
        "counter",
        "Executions answered from the response cache",
    ),
    "loomgit_serve_provider_errors_total": ("counter", "Executions the provider failed"),
    "loomgit_serve_tokens_total": ("counter", "Tokens of executions"),
    "loomgit_serve_cost_usd_total": ("counter", "Cost of executions in US dollars"),
}
_DURATION = "loomgit_serve_request_duration_seconds"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = defaultdict(dict)
        self._hist: dict[Labels, list[float]] = {}  # route -> bucket counts + [sum, count]

    def inc(
        self,
        name: str,
        value: float = 1.0,
        labels: Mapping[str, str] | None = None,
        **more: str,
    ) -> None:
        key = tuple(sorted({**(labels or {}), **more}.items()))
        with self._lock:
            series = self._counters[name]
            series[key] = series.get(key, 0.0) + value

    def observe(self, seconds: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            h = self._hist.get(key)
            if h is None:
                h = self._hist[key] = [0.0] * (len(BUCKETS) + 2)
            i = bisect.bisect_left(BUCKETS, seconds)  # counted in its own bucket only;
            if i < len(BUCKETS):  # the exposition adds them up (le is cumulative)
                h[i] += 1
            h[-2] += seconds
            h[-1] += 1

    def value(self, name: str, **labels: str) -> float:
        return self._counters.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> str:
        out: list[str] = []
        with self._lock:
            for name, (kind, text) in _HELP.items():
                out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
                for labels, v in sorted(self._counters.get(name, {}).items()):
                    out.append(f"{name}{_labels(labels)} {_num(v)}")
            out += [
                f"# HELP {_DURATION} Time to answer a request",
                f"# TYPE {_DURATION} histogram",
            ]
            for labels, h in sorted(self._hist.items()):
                below = 0.0
                for i, b in enumerate(BUCKETS):
                    below += h[i]
                    le = _labels(labels, 'le="' + str(b) + '"')
                    out.append(f"{_DURATION}_bucket{le} {_num(below)}")
                le = _labels(labels, 'le="+Inf"')
                out.append(f"{_DURATION}_bucket{le} {_num(h[-1])}")
                out.append(f"{_DURATION}_sum{_labels(labels)} {h[-2]!r}")
                out.append(f"{_DURATION}_count{_labels(labels)} {_num(h[-1])}")
        return "\n".join(out) + "\n"
