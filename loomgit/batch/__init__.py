"""Batch runs: a prompt over a dataset, with per-record gates, quarantine, resume,
cost estimates and lineage.

``inputs`` streams records (JSONL, JSON array, CSV), ``outputs`` appends results
atomically and finds where an interrupted run stopped, ``runner`` renders, calls and
checks each record with bounded concurrency, ``pipeline`` reads ``pipelines/NAME.yaml``,
``cost`` estimates tokens and dollars before a run, ``lineage`` tells where each version
of a prompt went and how it did.
"""

from __future__ import annotations
