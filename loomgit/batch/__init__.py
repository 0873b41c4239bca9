"""Batch runs: a prompt over a dataset, with per-record gates, quarantine, resume,
cost estimates and lineage.

- records stream from :mod:`loomgit.inputs` (shared with the suites' data files);
  ``outputs`` appends results atomically and finds where an interrupted run stopped.
- ``model`` holds a run's options and summary; ``plan`` resolves and checks everything
  before the first record (``checks``); ``record`` renders, calls and judges one record
  and ``result_lines`` shapes what it writes; ``runner`` drives the records with bounded
  concurrency.
- ``pipeline`` reads ``pipelines/NAME.yaml``.
- ``cost`` counts tokens, prices estimates and keeps the budget; ``prices`` asks the
  provider layer for a model's price; ``estimate`` prices a run or a suite beforehand.
- ``records`` writes batch runs to the run records, ``usage`` reads them back, and
  ``lineage`` tells where each version of a prompt went and how it did.
"""

from __future__ import annotations
