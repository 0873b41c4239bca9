"""Stages: git branches (``stage/<name>``) that only ``loomgit promote`` writes.

Library entry points::

    from loomgit.stages import promote, rollback, stage_versions, resolve_stage
    promote(ws, "support/summarize", "1.2.0", "staging")
    stage_versions(ws)          # {"staging": {"support/summarize": "1.2.0"}, ...}
    resolve_stage(ws, "support/summarize", "production").prompt
"""

from __future__ import annotations

from loomgit.stages.audit import Promotion
from loomgit.stages.manifest import MANIFEST_FILE, Entry, Manifest
from loomgit.stages.promote import EvalGate, PromoteResult, promote
from loomgit.stages.rollback import rollback
from loomgit.stages.state import (
    StageError,
    StageReport,
    StageState,
    read_stage,
    report,
    resolve_stage,
    stage_promotions,
    stage_versions,
)

__all__ = [
    "MANIFEST_FILE",
    "Entry",
    "EvalGate",
    "Manifest",
    "PromoteResult",
    "Promotion",
    "StageError",
    "StageReport",
    "StageState",
    "promote",
    "read_stage",
    "report",
    "resolve_stage",
    "rollback",
    "stage_promotions",
    "stage_versions",
]
