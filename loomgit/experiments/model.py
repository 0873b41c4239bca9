"""An experiment as data: its variants, its metric and its settings, as read from
``experiments/NAME.yaml`` (see :mod:`loomgit.experiments.parse`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from loomgit.errors import LoomgitError

SUFFIXES = (".yaml", ".yml")
DEFAULT_DIR = "experiments"
KEYS = {
    "prompt": "the prompt id the variants are versions of",
    "description": "what the experiment is about",
    "variants": "name -> ref or {ref, weight}; the first is the control",
    "metric": "rate | mean | {type, name, direction}",
    "min_samples": "observations per variant before any verdict",
    "confidence": "confidence level, e.g. 0.95",
    "promote_to": "the stage the winner is promoted to",
    "store": "outcome store URL (sqlite:///PATH or postgresql://...)",
    "salt": "text mixed into the assignment hash (changing it reshuffles units)",
}
SETTINGS_KEYS = {"dir", "store"}
METRIC_KEYS = {"type", "name", "direction"}
VARIANT_KEYS = {"ref", "weight"}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$")
VARIANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
METRIC_ALIASES = {"rate": "rate", "success_rate": "rate", "mean": "mean"}


class ExperimentError(LoomgitError, ValueError):
    """An experiment file is malformed, unknown, or cannot be used as asked."""


@dataclass(frozen=True)
class VariantSpec:
    name: str
    ref: str  # always ID@REF or ID (working tree)
    weight: float  # share of the traffic, in (0, 1]
    line: int | None = None


@dataclass(frozen=True)
class Metric:
    type: str  # rate | mean
    name: str
    direction: str = "higher"  # higher | lower: which way is better

    @property
    def label(self) -> str:
        return f"{'success rate' if self.type == 'rate' else 'mean'} of {self.name}"

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "name": self.name, "direction": self.direction}


@dataclass(frozen=True)
class ExperimentSpec:
    name: str
    path: str
    prompt: str
    variants: tuple[VariantSpec, ...]
    metric: Metric
    min_samples: int
    confidence: float
    promote_to: str
    store: str | None = None
    salt: str = ""
    description: str = ""
    store_line: int | None = None

    @property
    def control(self) -> VariantSpec:
        return self.variants[0]

    def variant(self, name: str) -> VariantSpec:
        for v in self.variants:
            if v.name == name:
                return v
        raise ExperimentError(
            f"experiment {self.name!r} has no variant {name!r} "
            f"(variants: {', '.join(v.name for v in self.variants)})"
        )
