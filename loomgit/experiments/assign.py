"""Deterministic assignment of units (users, sessions, tickets) to variants.

A unit's bucket is the first 8 bytes of sha256(experiment, salt, unit id) read as a
number in [0, 1): the same unit always lands in the same variant, in every process and
on every machine, and different experiments split the same users independently.
Variants own consecutive slices of [0, 1) in the order they are declared, each as wide
as its share of the weights.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

_SCALE = float(1 << 64)


def bucket(experiment: str, unit: str, salt: str = "") -> float:
    """The unit's position in [0, 1) for this experiment."""
    key = "\0".join((experiment, salt, unit)).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / _SCALE


def boundaries(weights: Sequence[float]) -> list[float]:
    """Upper edges of each variant's slice (the last is exactly 1.0)."""
    total = float(sum(weights))
    if total <= 0 or any(w <= 0 for w in weights):
        raise ValueError("weights must be positive")
    edges = [w / total for w in accumulate(weights)]
    edges[-1] = 1.0
    return edges


def choose(edges: Sequence[float], position: float) -> int:
    """Index of the slice ``position`` (in [0, 1)) falls in."""
    return min(bisect_right(edges, position), len(edges) - 1)


def unit_key(unit: object) -> str:
    """Unit ids are compared as text: ``42`` and ``"42"`` are the same unit."""
    if isinstance(unit, bool) or unit is None:
        raise ValueError(f"unit id must be a string or an integer, not {unit!r}")
    text = str(unit)
    if not text:
        raise ValueError("unit id must not be empty")
    return text
