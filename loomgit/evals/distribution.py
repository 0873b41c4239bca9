"""``distribution:`` checks: statistics over every scored answer of a suite.

A check is ``FUNC(FIELD) OP NUMBER`` or ``METRIC OP NUMBER``, parsed with a regular
expression (never ``eval``):

- FUNC: mean, median, min, max, sum, std (population standard deviation), count,
  pNN (the NN-th percentile, 0..100, linear interpolation between closest ranks)
- FIELD: score, passed (1 or 0), latency_ms, cost_usd, tokens, input_tokens, output_tokens
- METRIC: pass_rate (= mean(passed)), error_rate (errored answers / all answers)
- OP: >= <= > < == !=
- NUMBER: ``0.95``, ``2000``, ``1e-3`` or a percentage ``95%``
"""

from __future__ import annotations

import math
import operator
import re
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

FIELDS = ("score", "passed", "latency_ms", "cost_usd", "tokens", "input_tokens", "output_tokens")
FUNCS = ("mean", "median", "min", "max", "sum", "std", "count")
METRICS = ("pass_rate", "error_rate")
OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_CHECK = re.compile(
    r"^\s*(?:(?P<func>[A-Za-z_]\w*)\s*\(\s*(?P<field>[A-Za-z_]\w*)\s*\)|(?P<metric>[A-Za-z_]\w*))"
    r"\s*(?P<op>>=|<=|==|!=|>|<)\s*"
    r"(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<pct>%)?\s*$"
)


class DistributionError(ValueError):
    pass


@dataclass(frozen=True)
class Check:
    text: str
    func: str  # mean, p95, ... or "pass_rate"/"error_rate"
    field: str | None
    op: str
    threshold: float

    def value(self, rows: Sequence[Mapping[str, float | None]], errors: int = 0) -> float | None:
        """The statistic over ``rows`` (one per scored answer); None when undefined."""
        return self.value_of(Columns.of(rows, fields_of([self])), errors)

    def value_of(self, cols: Columns, errors: int = 0) -> float | None:
        """The statistic over the columns of the scored answers (see :class:`Columns`)."""
        if self.func == "pass_rate":
            vals = list(cols.values["passed"])
            return sum(vals) / len(vals) if vals else None
        if self.func == "error_rate":
            total = cols.rows + errors
            return errors / total if total else None
        assert self.field is not None
        if self.func == "count":
            return float(len(cols.values[self.field]))
        return aggregate(self.func, list(cols.values[self.field]))

    def holds(self, value: float | None) -> bool:
        return value is not None and OPS[self.op](value, self.threshold)


def fields_of(checks: Sequence[Check]) -> tuple[str, ...]:
    """The answer fields ``checks`` look at (``passed`` for ``pass_rate``)."""
    out = [c.field if c.field else "passed" for c in checks if c.func != "error_rate"]
    return tuple(dict.fromkeys(x for x in out if x))


class Columns:
    """What checks need of the scored answers: how many there are, and the values (those
    that are not None, in order) of only the fields the checks name, 8 bytes each."""

    def __init__(self, fields: Sequence[str] = ()) -> None:
        self.rows = 0
        self.values: dict[str, array[float]] = {f: array("d") for f in fields}

    def add(self, row: Mapping[str, float | None]) -> None:
        self.rows += 1
        for f, col in self.values.items():
            v = row.get(f)
            if v is not None:
                col.append(float(v))

    @classmethod
    def of(cls, rows: Sequence[Mapping[str, float | None]], fields: Sequence[str]) -> Columns:
        cols = cls(fields)
        for r in rows:
            cols.add(r)
        return cols


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation (numpy's default)."""
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def aggregate(func: str, values: Sequence[float]) -> float | None:
    if not values:
        return None
    if func == "mean":
        return sum(values) / len(values)
    if func == "median":
        return percentile(values, 50)
    if func == "min":
        return min(values)
    if func == "max":
        return max(values)
    if func == "sum":
        return float(sum(values))
    if func == "std":
        m = sum(values) / len(values)
        return math.sqrt(sum((v - m) ** 2 for v in values) / len(values))
    if func.startswith("p"):
        return percentile(values, float(func[1:]))
    raise DistributionError(f"unknown function {func!r}")


_PCT_FUNC = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")


def parse_check(text: str) -> Check:
    """Parse one check; :class:`DistributionError` says what is wrong."""
    if not isinstance(text, str):
        raise DistributionError("a check is a text like 'mean(score) >= 0.8'")
    m = _CHECK.match(text)
    if not m:
        raise DistributionError(
            f"cannot read {text!r}; write FUNC(FIELD) OP NUMBER "
            "as in 'mean(score) >= 0.8' or 'pass_rate >= 0.95'"
        )
    num = float(m.group("num")) / (100.0 if m.group("pct") else 1.0)
    op = m.group("op")
    if m.group("metric"):
        metric = m.group("metric")
        if metric not in METRICS:
            raise DistributionError(
                f"unknown metric {metric!r} in {text!r} "
                f"(known: {', '.join(METRICS)}, or FUNC(FIELD))"
            )
        return Check(text.strip(), metric, None, op, num)
    func, fld = m.group("func"), m.group("field")
    if func not in FUNCS and not _PCT_FUNC.match(func):
        raise DistributionError(
            f"unknown function {func!r} in {text!r} (known: {', '.join(FUNCS)}, p50, p95, p99...)"
        )
    if fld not in FIELDS:
        raise DistributionError(f"unknown field {fld!r} in {text!r} (known: {', '.join(FIELDS)})")
    return Check(text.strip(), func, fld, op, num)


@dataclass(frozen=True)
class CheckResult:
    check: str
    value: float | None
    passed: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "check": self.check,
            "value": None if self.value is None else round(self.value, 6),
            "passed": self.passed,
        }


def run_checks(
    checks: Sequence[str], rows: Sequence[Mapping[str, float | None]], errors: int = 0
) -> list[CheckResult]:
    parsed = [parse_check(t) for t in checks]
    return check_columns(parsed, Columns.of(rows, fields_of(parsed)), errors)


def check_columns(checks: Sequence[Check], cols: Columns, errors: int = 0) -> list[CheckResult]:
    """Each check decided over the columns gathered for them (:func:`fields_of`)."""
    out = []
    for c in checks:
        v = c.value_of(cols, errors)
        out.append(CheckResult(c.text, v, c.holds(v)))
    return out
