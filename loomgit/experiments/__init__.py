"""A/B experiments between prompt versions, declared in ``experiments/NAME.yaml``.

- :mod:`.model` is an experiment as data, :mod:`.parse` reads and validates one file,
  :mod:`.spec` finds, loads and checks experiment files (``loomgit check`` calls it);
- :mod:`.assign` maps units to variants by stable hashing;
- :mod:`.store` keeps outcomes (SQLite by default, PostgreSQL for many machines);
- :mod:`.stats` and :mod:`.analysis` turn outcomes into estimates, tests and a verdict;
- :mod:`.api` is what applications call: ``loomgit.experiment(name)``;
- :mod:`.conclude` promotes a winner through :mod:`loomgit.stages`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loomgit.lazy import attributes

__all__ = ["Experiment", "ExperimentError", "ExperimentSpec", "Variant", "experiment"]

_LAZY = {
    "Experiment": "api",
    "Variant": "api",
    "experiment": "api",
    "ExperimentError": "spec",
    "ExperimentSpec": "spec",
}

if TYPE_CHECKING:
    from loomgit.experiments.api import Experiment, Variant, experiment
    from loomgit.experiments.spec import ExperimentError, ExperimentSpec


__getattr__ = attributes(__name__, _LAZY)
