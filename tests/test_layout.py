"""The layout of evals, batch and experiments: small modules, imports at the top, and the
names the docs show still importable from where the docs say."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from test_architecture import _lazy_ok

PACKAGE = Path(__file__).resolve().parent.parent / "loomgit"
AREAS = ["evals", "batch", "experiments"]
NOT_YET = {"evals/assertions.py"}  # becoming a package of its own
FILES = sorted(
    p
    for area in AREAS
    for p in (PACKAGE / area).rglob("*.py")
    if p.relative_to(PACKAGE).as_posix() not in NOT_YET
)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_modules_are_small_and_import_loomgit_at_the_top(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= 400
    for fn in ast.walk(ast.parse(text)):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                rel = path.relative_to(PACKAGE).as_posix()
                late = [n for n in names if n.startswith("loomgit") and not _lazy_ok(rel, n)]
                assert not late, (fn.name, late)  # only the start-up exceptions listed there


def test_moved_names_are_still_importable_where_the_docs_show_them() -> None:
    import loomgit.batch.cost as cost
    import loomgit.batch.estimate as estimate
    import loomgit.batch.model as batch_model
    import loomgit.evals.cases as cases
    import loomgit.evals.suite_model as suite_model
    import loomgit.evals.targets as targets
    import loomgit.experiments.model as experiment_model
    import loomgit.inputs.reader as reader
    from loomgit.batch.lineage import lineage, overview
    from loomgit.batch.runner import BatchOptions, BatchSummary, default_caller, run_batch
    from loomgit.evals.compare import Comparison, compare, diff_reports, plan_compare
    from loomgit.evals.engine import SuiteRef, evaluate, suite_refs
    from loomgit.evals.results import CaseResult, EvalReport, Sample, SuiteResult, merge
    from loomgit.evals.suite import Case, Suite, SuiteError, load_suite, parse_suite
    from loomgit.experiments.spec import ExperimentError, ExperimentSpec, load_spec
    from loomgit.inputs.mapping import parse_map, select_vars
    from loomgit.inputs.record import Record

    assert BatchSummary is batch_model.BatchSummary and BatchOptions is batch_model.BatchOptions
    assert callable(reader.RecordReader) and callable(reader.file_fingerprint) and Record
    assert SuiteRef is targets.SuiteRef and suite_refs is targets.suite_refs
    assert CaseResult is cases.CaseResult and Sample is cases.Sample
    assert Suite is suite_model.Suite and Case is suite_model.Case
    assert SuiteError is suite_model.SuiteError
    assert ExperimentSpec is experiment_model.ExperimentSpec
    assert ExperimentError is experiment_model.ExperimentError
    assert callable(estimate.estimate_input) and callable(cost.estimate_tokens)
    for f in (parse_map, select_vars, lineage, overview, default_caller, run_batch, compare):
        assert callable(f)
    for f in (diff_reports, plan_compare, evaluate, merge, load_suite, parse_suite, load_spec):
        assert callable(f)
    assert Comparison and EvalReport and SuiteResult
