"""``loomgit.stage.json``: what a stage branch holds, one entry per prompt id.

The manifest sits at the root of every stage commit. Each entry names the version, its
content hash, the commit it was promoted from, the file's path and blob, the blobs of the
files it includes, and who promoted it when. It is written with sorted keys so that the
same stage state always gives the same blob.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

MANIFEST_FILE = "loomgit.stage.json"
SCHEMA = 1


class ManifestError(ValueError):
    """The manifest of a stage commit is not one loomgit wrote."""


@dataclass(frozen=True)
class Entry:
    """One prompt on a stage."""

    id: str
    version: str
    content_hash: str
    source_commit: str
    path: str
    blob: str
    includes: dict[str, str] = field(default_factory=dict)  # path -> blob id
    promoted_by: str = ""
    promoted_at: str = ""
    forced: bool = False

    def files(self) -> dict[str, str]:
        """Paths and blobs this entry puts in the stage tree."""
        return {**self.includes, self.path: self.blob}

    def same_content(self, other: Entry) -> bool:
        return self.version == other.version and self.content_hash == other.content_hash

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        del d["id"]
        return d

    def stamped(self, by: str, at: str, forced: bool) -> Entry:
        return replace(self, promoted_by=by, promoted_at=at, forced=forced)


@dataclass(frozen=True)
class Manifest:
    stage: str
    entries: dict[str, Entry] = field(default_factory=dict)

    def with_entry(self, entry: Entry) -> Manifest:
        return Manifest(self.stage, {**self.entries, entry.id: entry})

    def versions(self) -> dict[str, str]:
        return {i: e.version for i, e in sorted(self.entries.items())}

    def tree_files(self, manifest_blob: str) -> dict[str, str]:
        """The stage tree: every entry's files (a shared include takes the newest
        promotion's blob; each entry's own blobs stay in its manifest entry) plus the
        manifest itself."""
        files: dict[str, str] = {}
        for e in sorted(self.entries.values(), key=lambda e: (e.promoted_at, e.id)):
            files.update(e.files())
        files[MANIFEST_FILE] = manifest_blob
        return files

    def dumps(self) -> bytes:
        data = {
            "schema": SCHEMA,
            "stage": self.stage,
            "prompts": {i: e.to_dict() for i, e in sorted(self.entries.items())},
        }
        return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def loads(data: bytes, stage: str) -> Manifest:
    """Parse a manifest; anything that is not one loomgit wrote raises :class:`ManifestError`."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ManifestError(f"{MANIFEST_FILE} is not valid JSON ({err})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("prompts"), dict):
        raise ManifestError(f"{MANIFEST_FILE} has no 'prompts' mapping")
    if raw.get("schema") != SCHEMA:
        raise ManifestError(
            f"{MANIFEST_FILE} has schema {raw.get('schema')!r}; this loomgit "
            f"reads schema {SCHEMA} (upgrade loomgit?)"
        )
    entries: dict[str, Entry] = {}
    for ident, e in raw["prompts"].items():
        try:
            inc = e.get("includes") or {}
            if not isinstance(inc, dict) or not all(isinstance(v, str) for v in inc.values()):
                raise TypeError("includes must map paths to blob ids")
            entries[ident] = Entry(
                id=str(ident),
                version=_str(e, "version"),
                content_hash=_str(e, "content_hash"),
                source_commit=_str(e, "source_commit"),
                path=_str(e, "path"),
                blob=_str(e, "blob"),
                includes=dict(inc),
                promoted_by=str(e.get("promoted_by", "")),
                promoted_at=str(e.get("promoted_at", "")),
                forced=bool(e.get("forced", False)),
            )
        except KeyError as ex:
            raise ManifestError(f"{MANIFEST_FILE}: entry {ident!r} has no {ex.args[0]!r}") from None
        except (AttributeError, TypeError) as ex:
            why = str(ex) if isinstance(ex, TypeError) else "not a mapping"
            raise ManifestError(f"{MANIFEST_FILE}: entry {ident!r} is malformed ({why})") from None
    return Manifest(stage, entries)


def _str(e: dict[str, Any], key: str) -> str:
    v = e[key]
    if not isinstance(v, str) or not v:
        raise TypeError(f"{key} must be a non-empty string")
    return v
