"""The library side of experiments: what an application calls.

exp = loomgit.experiment("summary-tone")
variant = exp.assign(user_id)            # the same user always gets the same variant
messages = variant.render({"ticket": text})
...
exp.record(variant, user_id, success=True)   # or value=0.83 for a mean metric
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import loomgit.experiments.assign as _assign
from loomgit.errors import InfraError, LoomgitError, UsageError
from loomgit.experiments.analysis import analyze
from loomgit.experiments.spec import ExperimentError, ExperimentSpec, load_spec, settings
from loomgit.experiments.store import ENV_URL, Store, default_url, open_store, parse_url, redact
from loomgit.refs import resolve
from loomgit.workspace import Workspace

if TYPE_CHECKING:
    from loomgit.experiments.analysis import Status
    from loomgit.prompt.model import Prompt
    from loomgit.prompt.render import IncludeLoader


class VariantInfraError(ExperimentError, InfraError):
    """A variant's prompt could not be read because git (or another system) failed."""


class VariantUsageError(ExperimentError, UsageError):
    """A variant's reference cannot be used as written."""


@dataclass(frozen=True)
class Variant:
    """A variant with its prompt resolved (``support/summarize@1.4.0`` read from git)."""

    name: str
    ref: str
    weight: float
    prompt: Prompt
    version: str | None = None
    commit: str | None = None
    loader: IncludeLoader | None = field(default=None, repr=False, compare=False)
    limits: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def render(self, variables: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The variant's messages, rendered in loomgit's sandbox."""
        return self.prompt.render(variables, loader=self.loader, **self.limits)


def store_url(
    ws: Workspace, spec: ExperimentSpec | None = None, override: str | None = None
) -> str:
    """The store URL in force: ``override``, then ``$LOOMGIT_EXPERIMENTS_URL``, then the
    experiment's ``store:``, then ``experiments: {store: ...}`` in loomgit.yaml, then
    ``.git/loomgit/experiments.sqlite``."""
    for url in (
        override,
        os.environ.get(ENV_URL),
        spec.store if spec else None,
        settings(ws.config).get("store"),
    ):
        if url:
            parse_url(url)
            return url
    return default_url(ws.root)


class Experiment:
    """One declared experiment: deterministic assignment, outcome recording, status."""

    def __init__(self, spec: ExperimentSpec, ws: Workspace, store: str | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self._ws = ws
        self._url = store_url(ws, spec, store)
        self._edges = _assign.boundaries([v.weight for v in spec.variants])
        self._store: Store | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Experiment {self.name!r} store={self.store_url!r}>"

    @property
    def store_url(self) -> str:
        """The store's URL, with any password hidden."""
        return redact(self._url)

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = open_store(self._url, self._ws.root)
            return self._store

    @cached_property
    def variants(self) -> dict[str, Variant]:
        """Every variant with its prompt resolved (done once, on first use)."""
        cfg = self._ws.config
        limits = {"max_chars": cfg.render_max_chars, "timeout_s": cfg.render_timeout_s}
        out = {}
        for v in self.spec.variants:
            try:
                r = resolve(self._ws, v.ref)
            except LoomgitError as e:
                # the class keeps the cause's kind: a git failure stays an infrastructure error
                kind = (
                    VariantInfraError
                    if isinstance(e, InfraError)
                    else VariantUsageError
                    if isinstance(e, UsageError)
                    else ExperimentError
                )
                raise kind(f"experiment {self.name!r}, variant {v.name!r}: {e}") from None
            out[v.name] = Variant(
                v.name, v.ref, v.weight, r.prompt, r.version, r.commit, r.loader, limits
            )
        return out

    @staticmethod
    def _unit(unit_id: object) -> str:
        try:
            return _assign.unit_key(unit_id)
        except ValueError as e:
            raise ExperimentError(str(e)) from None

    def variant_name(self, unit_id: str | int) -> str:
        """The name of the variant ``unit_id`` is assigned to (no prompt is resolved)."""
        unit = self._unit(unit_id)
        i = _assign.choose(self._edges, _assign.bucket(self.name, unit, self.spec.salt))
        return self.spec.variants[i].name

    def assign(self, unit_id: str | int) -> Variant:
        """The variant ``unit_id`` sees, with its prompt ready to render."""
        return self.variants[self.variant_name(unit_id)]

    def record(
        self,
        variant: Variant | str,
        unit_id: str | int,
        *,
        success: bool | None = None,
        value: float | None = None,
    ) -> None:
        """Record one outcome: ``success=`` for a rate metric, ``value=`` for a mean.

        The unit must be one ``assign`` gives ``variant`` to: an outcome filed under the
        wrong variant would bias the comparison, so it is refused."""
        self.store.record(*self._row(variant, unit_id, success, value)[:5])

    def _row(
        self, variant: Variant | str, unit_id: str | int, success: bool | None, value: float | None
    ) -> tuple[str, str, str, float, str | None, float]:
        name = variant.name if isinstance(variant, Variant) else variant
        self.spec.variant(name)
        unit = self._unit(unit_id)
        assigned = self.variant_name(unit)
        if assigned != name:
            raise ExperimentError(
                f"record: unit {unit!r} is assigned to {assigned!r}, not "
                f"{name!r} in experiment {self.name!r}"
            )
        outcome = self._outcome(success, value)
        version = variant.version if isinstance(variant, Variant) else self.variants[name].version
        return self.name, name, unit, outcome, version, time.time()

    def batch(self) -> Batch:
        """Collect outcomes and write them in one transaction when the ``with`` block
        ends (nothing is written if it raises): for back-fills and busy workers, where
        one commit per outcome would be the bottleneck."""
        return Batch(self)

    def _outcome(self, success: bool | None, value: float | None) -> float:
        metric = self.spec.metric
        if (success is None) == (value is None):
            want = "success=True|False" if metric.type == "rate" else "value=NUMBER"
            raise ExperimentError(
                f"record: give exactly one of success= or value= "
                f"(experiment {self.name!r} takes {want})"
            )
        if metric.type == "rate":
            if success is None:
                raise ExperimentError(
                    f"record: experiment {self.name!r} measures a success "
                    f"rate of {metric.name}; record success=True|False"
                )
            if success not in (True, False, 0, 1):
                raise ExperimentError(f"record: success must be True or False, not {success!r}")
            return 1.0 if success else 0.0
        if value is None:
            raise ExperimentError(
                f"record: experiment {self.name!r} measures the mean of "
                f"{metric.name}; record value=NUMBER"
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ExperimentError(f"record: value must be a finite number, not {value!r}")
        return float(value)

    def status(self) -> Status:
        """Estimates, comparisons and the verdict from the outcomes recorded so far."""
        return analyze(self.spec, self.store.summary(self.name), self.store_url)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def __enter__(self) -> Experiment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Batch:
    """``with exp.batch() as b: b.record(variant, unit, success=True)`` (see
    :meth:`Experiment.batch`); each outcome is checked as :meth:`Experiment.record` does."""

    def __init__(self, exp: Experiment) -> None:
        self._exp = exp
        self._rows: list[tuple[str, str, str, float, str | None, float]] = []

    def record(
        self,
        variant: Variant | str,
        unit_id: str | int,
        *,
        success: bool | None = None,
        value: float | None = None,
    ) -> None:
        self._rows.append(self._exp._row(variant, unit_id, success, value))

    def __len__(self) -> int:
        return len(self._rows)

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        rows, self._rows = self._rows, []
        if exc_type is None and rows:
            self._exp.store.record_many(rows)


def experiment(
    name: str, path: str | os.PathLike[str] | None = None, *, store: str | None = None
) -> Experiment:
    """The experiment declared in ``experiments/NAME.yaml`` of the repository at
    ``path`` (found from the current directory when not given)."""
    ws = Workspace(Path(path) if path is not None else None)
    return Experiment(load_spec(ws, name), ws, store)
