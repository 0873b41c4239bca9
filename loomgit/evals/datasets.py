"""Suite cases read from data files: a ``cases:`` entry naming a file.

``{file: data/golden.csv, vars: {ticket: body}, expected: answer, name: id, assert: [...]}``
turns each record of a CSV, TSV, JSON Lines or JSON-array file into a case. The file is
read with the streaming readers of :mod:`loomgit.inputs` every time the cases are walked
(nothing is kept), so a suite of any size costs the memory of one record at a time
(``sample:`` keeps the chosen records only). A case keeps the data file and the line its
record starts on, for errors, JUnit and annotations.

A data file comes from a pull request like the suite that names it, so it is read only
when it is a regular file git tracks in the repository (a path relative to the
repository's root, never through a symlink, never ``..``, ``.git/`` or absolute): the
rule includes follow (:mod:`loomgit.evals.data_source`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any

from loomgit.config import closest
from loomgit.errors import LoomgitError
from loomgit.evals.data_source import Opener, worktree_opener
from loomgit.evals.dataset_model import DATASET_KEYS, Dataset
from loomgit.evals.suite_model import CASE_KEYS, MAX_REPEAT, Case, Suite, SuiteError
from loomgit.findings import Finding, error
from loomgit.inputs.mapping import coerce_cell, lookup
from loomgit.inputs.reader import RecordReader
from loomgit.inputs.record import FORMATS, Record
from loomgit.prompt.includes import Roots, name_allowed

_TEXT_FORMATS = ("csv", "tsv")
DATA_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".ndjson")  # read by name
_COERCE = ("integer", "number", "boolean", "array", "object")


def is_dataset(raw: Any) -> bool:
    """Whether a ``cases:`` entry names a data file."""
    return isinstance(raw, dict) and "file" in raw


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def parse_dataset(
    path: str,
    raw: dict[str, Any],
    line: int | None,
    position: int,
    asserts: list[Any],
    at: Callable[[str], int | None],
    out: list[Finding],
) -> Dataset | None:
    """The entry as a :class:`Dataset`; each problem is added to ``out`` at its line."""
    n0 = len(out)
    f = raw.get("file")
    label = f"data file {f!r}" if isinstance(f, str) else "data file"

    def bad(key: str, msg: str) -> None:
        out.append(error(path, at(key) or line, f"{label}: {msg}"))

    for key in raw:
        if key not in DATASET_KEYS:
            close = closest(str(key), sorted(DATASET_KEYS))
            hint = f" (did you mean {close!r}?)" if close else ""
            if key in CASE_KEYS:
                hint = f" ({key!r} is a key of inline cases)"
            bad(key, f"unknown key {key!r}{hint}")
    if not isinstance(f, str) or not f:
        bad("file", "file must be a path relative to the repository's root")
        return None
    if not name_allowed(f, Roots(("",))):
        bad(
            "file",
            "refused: a data file is a path inside the repository (no '..', no absolute path, not under .git/)",
        )
    fmt = raw.get("format")
    if fmt is not None and fmt not in FORMATS:
        bad("format", f"format must be one of {', '.join(FORMATS)}")
        fmt = None
    if fmt is None and not f.lower().endswith(DATA_SUFFIXES):
        bad("file", f"cannot tell its format from the name; set format: ({', '.join(FORMATS)})")
    mapping = raw.get("vars")
    if mapping is not None and (
        not isinstance(mapping, dict)
        or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in mapping.items())
    ):
        bad("vars", "vars maps each variable to a field or column, as in {ticket: body}")
        mapping = None
    for key in ("expected", "name"):
        if raw.get(key) is not None and not (isinstance(raw[key], str) and raw[key]):
            bad(key, f"{key} names a field or column, as in {key}: answer")
    for key in ("limit", "sample"):
        if raw.get(key) is not None and not _count(raw[key]):
            bad(key, f"{key} must be a whole number 1 or more")
    seed = raw.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        bad("seed", "seed must be a whole number")
        seed = 0
    if raw.get("seed") is not None and raw.get("sample") is None:
        bad("seed", "seed chooses the records of sample: (add sample: N)")
    repeat = raw.get("repeat")
    if repeat is not None and not (_count(repeat) and repeat <= MAX_REPEAT):
        bad("repeat", f"repeat must be a whole number 1..{MAX_REPEAT}")
    weight = raw.get("weight", 1.0)
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0:
        bad("weight", "weight must be a number (0 or more)")
        weight = 1.0
    tags = raw.get("tags") or []
    tags = [tags] if isinstance(tags, str) else tags
    if not isinstance(tags, list):
        bad("tags", "tags must be a list")
        tags = []
    if len(out) > n0:
        return None
    return Dataset(
        f,
        line,
        position,
        fmt,
        None if mapping is None else {str(k): str(v) for k, v in mapping.items()},
        raw.get("expected"),
        raw.get("name"),
        tuple(asserts),
        raw.get("limit"),
        raw.get("sample"),
        seed,
        str(raw.get("description") or ""),
        repeat,
        bool(raw.get("skip")),
        tuple(str(t) for t in tags),
        float(weight),
    )


def rooted(suite: Suite, full: Path, display: str) -> Suite:
    """The suite with the repository its data files are read from (``full``, the suite
    file's path, less ``display``, its path in the repository)."""
    if not suite.datasets:
        return suite
    root = full
    for _ in display.split("/"):
        root = root.parent
    return replace(suite, root=str(root))


def readable(cases: Iterator[Case]) -> Iterator[Case]:
    """The cases up to the first that cannot be read (the data files' check reports it)."""
    try:
        yield from cases
    except SuiteError:
        return


def data_files(suite: Suite) -> list[str]:
    """The data files a suite names (repository-relative)."""
    return list(dict.fromkeys(ds.file for ds in suite.datasets))


# -- walking the cases ---------------------------------------------------------------------


def suite_cases(
    suite: Suite,
    opener: Opener | None = None,
    variables: Mapping[str, Any] | None = None,
    *,
    unique: bool = True,
) -> Iterator[Case]:
    """Every case of ``suite`` in the order its file writes them: inline cases and the
    records of its data files, streamed. ``variables`` (the prompt's declared ones) turn
    CSV cells into their types. Raises :class:`SuiteError` (file:line) on a bad record.
    ``unique=False`` skips the check that names are unique (which keeps every name): for
    a walk of cases an earlier walk checked."""
    datasets = sorted(suite.datasets, key=lambda d: d.position)
    if datasets and opener is None:
        if suite.root is None:
            raise SuiteError("data files are read only inside a repository", path=suite.path)
        opener = worktree_opener(suite.root)
    names: set[str] = {c.name for c in suite.cases}
    todo = iter(datasets)
    nxt = next(todo, None)
    for k, case in enumerate((*suite.cases, None)):
        while nxt is not None and nxt.position <= k and opener is not None:
            for c in dataset_cases(suite.path, nxt, opener, variables):
                if unique:
                    if c.name in names:
                        raise SuiteError(
                            f"duplicate case name {c.name!r}", path=c.file, line=c.line
                        )
                    names.add(c.name)
                yield c
            nxt = next(todo, None)
        if case is not None:
            yield case


def dataset_cases(
    suite_path: str,
    ds: Dataset,
    opener: Opener,
    variables: Mapping[str, Any] | None = None,
) -> Iterator[Case]:
    """The cases of one data file (after ``limit:``, then ``sample:``)."""
    try:
        fh = opener(ds.file)
    except SuiteError as e:
        raise SuiteError(e.message, path=suite_path, line=ds.line) from None
    try:
        reader = RecordReader(ds.file, ds.format, display=ds.file, fh=fh)
    except LoomgitError as e:
        fh.close()
        raise SuiteError(e.message, path=e.path or ds.file, line=e.line) from None
    with reader:
        records: Iterable[Record] = _good(reader, ds)
        if ds.limit is not None:
            records = islice(records, ds.limit)
        if ds.sample is not None:
            records = _reservoir(records, ds.sample, ds.seed)
        n = 0
        for rec in records:
            n += 1
            yield _case(ds, rec, reader, variables)
    if n == 0:
        raise SuiteError(f"data file {ds.file!r} holds no records", path=suite_path, line=ds.line)


def _good(reader: RecordReader, ds: Dataset) -> Iterator[Record]:
    try:
        for rec in reader:
            if rec.error is not None or rec.data is None:
                raise SuiteError(rec.error or "unreadable record", path=ds.file, line=rec.line)
            yield rec
    except SuiteError:
        raise
    except LoomgitError as e:
        raise SuiteError(e.message, path=e.path or ds.file, line=e.line) from None


def _reservoir(records: Iterable[Record], k: int, seed: int) -> list[Record]:
    """``k`` records chosen uniformly in one pass (Algorithm R, seeded), in file order."""
    rng = random.Random(seed)
    chosen: list[Record] = []
    for i, rec in enumerate(records):
        if i < k:
            chosen.append(rec)
        else:
            j = rng.randrange(i + 1)
            if j < k:
                chosen[j] = rec
    return sorted(chosen, key=lambda r: r.index)


def _field(ds: Dataset, rec: Record, reader: RecordReader, field: str, what: str) -> Any:
    found, value = lookup(rec.data or {}, field)
    if found:
        return value
    cols = reader.columns
    if cols is not None:  # CSV/TSV: the header decides for every row
        raise SuiteError(
            f"{what}: no column {field!r} in the header (columns: {', '.join(cols)})",
            path=ds.file,
            line=1,
        )
    raise SuiteError(f"{what}: the record has no field {field!r}", path=ds.file, line=rec.line)


def _case(
    ds: Dataset, rec: Record, reader: RecordReader, variables: Mapping[str, Any] | None
) -> Case:
    data = rec.data or {}
    text = reader.format in _TEXT_FORMATS
    if ds.vars is None:
        skip = {ds.expected, ds.name}
        values = {k: v for k, v in data.items() if k not in skip}
    else:
        values = {v: _field(ds, rec, reader, f, f"vars: {v}") for v, f in ds.vars.items()}
    if text and variables:
        for var, value in list(values.items()):
            decl = variables.get(var)
            vtype = getattr(decl, "type", "any")
            if not isinstance(value, str) or decl is None:
                continue
            if value == "" and not getattr(decl, "required", True):
                del values[var]
            elif vtype in _COERCE:
                try:
                    values[var] = coerce_cell(vtype, value)
                except ValueError as e:
                    raise SuiteError(
                        f"variable {var!r}: {e}", path=ds.file, line=rec.line
                    ) from None
    expected = _field(ds, rec, reader, ds.expected, "expected") if ds.expected else None
    if ds.name:
        name = _field(ds, rec, reader, ds.name, "name")
        if name is None or str(name).strip() == "":
            raise SuiteError(f"name: the {ds.name!r} field is empty", path=ds.file, line=rec.line)
        name = str(name)
    else:
        name = f"{ds.file.rsplit('/', 1)[-1]}:{rec.line}"
    return Case(
        name,
        values,
        ds.asserts,
        rec.line,
        ds.repeat,
        expected,
        ds.weight,
        ds.skip,
        ds.tags,
        ds.description,
        file=ds.file,
    )


def check_datasets(
    suite: Suite, opener: Opener | None = None, variables: Mapping[str, Any] | None = None
) -> list[Finding]:
    """Findings for the data files of ``suite`` (what ``loomgit check`` reports): the
    first unreadable file, bad record or mapping problem, at its file and line."""
    out: list[Finding] = []
    if not suite.datasets:
        return out
    if opener is None and suite.root is not None:
        opener = worktree_opener(suite.root)
    if opener is None:
        return out
    try:
        for _ in suite_cases(suite, opener, variables):
            pass  # reading them is the check (names unique across the suite included)
    except SuiteError as e:
        out.append(error(e.path or suite.path, e.line, e.message))
    return out
