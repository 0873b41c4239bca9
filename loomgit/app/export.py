"""``loomgit export``: the prompts a stage holds, with their includes, as one JSON bundle
that :func:`loomgit.load` reads in images that ship no ``.git``, and that other languages
read through each entry's description (schema 2: :mod:`loomgit.app.bundlefile`)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from loomgit._git import objects
from loomgit.app.bundle import loaded_prompt
from loomgit.app.bundlefile import BUNDLE_FORMAT, BUNDLE_SCHEMA
from loomgit.app.describe import describe
from loomgit.errors import LoomgitError, RefError
from loomgit.fsutil import atomic_write
from loomgit.prompt.discover import glob_for
from loomgit.prompt.media import file_text
from loomgit.stages.state import StageError, canonical_id, read_stage, verify
from loomgit.workspace import Workspace


def export_bundle(
    ws: Workspace,
    stage: str,
    ids: list[str] | None = None,
    *,
    allow_untrusted: bool = False,
    schema: int = BUNDLE_SCHEMA,
) -> dict[str, Any]:
    """The bundle of ``stage``: every prompt it holds (or ``ids``), with its text and the
    text of each file it includes. ``schema=1`` leaves out the descriptions, for
    applications whose loomgit reads only schema 1."""
    state = read_stage(ws, stage)
    if state.head is None:
        raise StageError(f"stage {stage!r} has no promotions yet, so there is nothing to export")
    problems = verify(ws, state)
    if problems and not allow_untrusted:
        raise StageError(
            f"{state.branch} does not match its manifest ({problems[0]}); "
            "'loomgit stages' shows what; --force exports it anyway"
        )
    entries = state.manifest.entries
    if ids:
        chosen = {}
        for i in ids:
            cid = canonical_id(ws, i, state)
            if cid not in entries:
                raise RefError(f"{cid!r} is not on stage {stage!r}")
            chosen[cid] = entries[cid]
        entries = chosen
    blobs = objects.read_many(ws.root, [b for e in entries.values() for b in e.files().values()])

    def text(e: Any, blob: str, path: str) -> str:
        data = blobs.get(blob)
        if data is None:
            raise StageError(
                f"{e.id} {e.version}: {path} (blob {blob[:12]}) is missing from the repository"
            )
        return data.decode("utf-8", "replace")

    def media_text(e: Any, blob: str, path: str) -> str:  # images and documents as data: URLs
        text(e, blob, path)
        return file_text(blobs.get(blob) or b"")

    prompts: dict[str, Any] = {}
    for ident, e in sorted(entries.items()):
        spec = glob_for(ws.config, e.path)  # a plain file's role and template options
        body = text(e, e.blob, e.path)
        includes = {p: media_text(e, b, p) for p, b in sorted(e.includes.items())}
        fields = {
            **(spec.options() if spec is not None else {}),
            "version": e.version,
            "content_hash": e.content_hash,
            "source_commit": e.source_commit,
            "path": e.path,
        }
        entry = bundle_entry(ident, fields, stage, body, includes)
        if schema == 1:
            keep = (*fields, "text", "includes", "tools", "output")
            entry = {k: entry[k] for k in keep}
        prompts[ident] = {**entry, "promoted_by": e.promoted_by, "promoted_at": e.promoted_at}
    return {
        "format": BUNDLE_FORMAT,
        "schema": schema,
        "stage": stage,
        "branch": state.branch,
        "commit": state.head,
        "exported_at": datetime.now(timezone.utc)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
        "prompts": prompts,
    }


def bundle_entry(
    ident: str, fields: Mapping[str, Any], stage: str, text: str, includes: dict[str, str]
) -> dict[str, Any]:
    """One prompt of a schema 2 bundle: its description (:func:`describe`: what other
    languages read) and what ``loomgit.load()`` reads (``text``, ``includes``, a plain
    file's ``role``/``template`` options)."""
    try:
        lp = loaded_prompt(ident, fields, stage, text, includes, "")
    except LoomgitError as e:
        raise StageError(f"{ident}: {e}") from None
    return {**describe(lp), **fields, "text": text, "includes": includes}


def write_bundle(bundle: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write atomically (a reader never sees half a bundle), with the permissions the
    umask gives a new file: a bundle is made to be shipped."""
    data = json.dumps(bundle, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    return atomic_write(path, data)
