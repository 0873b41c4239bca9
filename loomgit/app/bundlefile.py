"""The bundle file ``loomgit export`` writes and :func:`loomgit.load` reads: reading it,
and checking it is one, of either schema.

Schema 1 holds per prompt its text, its includes and the fields ``load()`` needs.
Schema 2 (what ``export`` writes) adds, per prompt, the description other languages read
(:func:`loomgit.app.describe.describe`: messages split by role, the variables' JSON
Schema, tools, output, and ``portable`` with ``portable_messages``, the templates with
their includes inlined). Reference: docs/bundle.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from loomgit.errors import LoomgitError

BUNDLE_FORMAT = "loomgit-bundle"
BUNDLE_SCHEMA = 2  # what ``loomgit export`` writes
READS = (1, 2)  # what ``loomgit.load()`` reads
_NEEDS = ("version", "content_hash", "path", "source_commit")


class BundleError(LoomgitError):
    """A bundle file cannot be read or is not one ``loomgit export`` wrote."""


def _v1_entry(e: Any) -> bool:
    return (
        isinstance(e, dict)
        and isinstance(e.get("text"), str)
        and all(isinstance(e.get(k), str) for k in _NEEDS)
        and isinstance(e.get("includes", {}), dict)
    )


def _v2_problem(ident: str, e: dict[str, Any]) -> str | None:
    if e.get("id") != ident:
        return f"bundle entry {ident!r} says its id is {e.get('id')!r}"
    messages = e.get("messages")
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages
    ):
        return f"bundle entry {ident!r}: 'messages' must be a list of {{role, template}} objects"
    if not isinstance(e.get("variables"), dict):
        return f"bundle entry {ident!r}: 'variables' must be a JSON Schema object"
    if not isinstance(e.get("portable"), bool):
        return f"bundle entry {ident!r}: 'portable' must be true or false"
    pm = e.get("portable_messages")
    if e["portable"] and not isinstance(pm, list):
        return f"bundle entry {ident!r} is portable but has no 'portable_messages' list"
    return None


def read_bundle(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The bundle at ``path``, checked (schema 1 or 2); a :class:`BundleError` naming the
    file (and line, for bad JSON) otherwise."""
    shown = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise BundleError("bundle file not found", path=shown) from None
    except OSError as e:
        raise BundleError(f"cannot read bundle: {e.strerror}", path=shown) from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        line = getattr(e, "lineno", None)
        raise BundleError(
            f"not a JSON bundle ({getattr(e, 'msg', e)})", path=shown, line=line
        ) from None
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise BundleError(
            "not a loomgit bundle (write one with 'loomgit export --stage STAGE -o FILE')",
            path=shown,
        )
    schema = data.get("schema")
    if isinstance(schema, bool) or schema not in READS:
        raise BundleError(
            f"bundle schema {schema!r} is not 1 or 2 (export it again with this loomgit)",
            path=shown,
        )
    prompts = data.get("prompts")
    if not isinstance(prompts, dict) or not all(_v1_entry(e) for e in prompts.values()):
        raise BundleError(
            "bundle 'prompts' entries need version, content_hash, path, source_commit and text",
            path=shown,
        )
    if schema == 2:
        for ident, entry in prompts.items():
            problem = _v2_problem(ident, entry)
            if problem:
                raise BundleError(problem, path=shown)
    return data
