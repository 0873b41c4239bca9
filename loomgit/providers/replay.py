"""Recorded answers committed in the repository, so suites run with no key and no network.

A recording is one JSON file per request,
``.loomgit/recordings/<provider>/<model>/<key>.json`` (``replay: {dir: ...}`` in
``loomgit.yaml`` moves it), keyed like the response cache by the model's full name, the
params sent, the messages and the sample index. It holds the request (for review in pull
requests) and the answer — never headers or keys. ``--record`` (``ModelClient(...,
mode="record")``) answers from an existing recording and fills missing ones from the real
provider; ``replay`` (``mode="replay"`` or a ``replay/provider/model`` name) answers only
from recordings and names the missing one.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loomgit.fsutil import atomic_write
from loomgit.providers.base import Completion, Provider
from loomgit.providers.cache import request_key
from loomgit.providers.errors import RecordingMissing

if TYPE_CHECKING:
    from loomgit.config import Config

DEFAULT_DIR = ".loomgit/recordings"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _segment(s: str) -> str:
    s = _UNSAFE.sub("_", s).lstrip(".")
    return s or "_"


class RecordingStore:
    def __init__(self, directory: str | os.PathLike[str], root: Path | None = None) -> None:
        self.dir = Path(directory)
        self.root = root

    def folder(self, model: str) -> Path:
        """Where ``model``'s recordings live (``provider/model``, unsafe characters as ``_``)."""
        return self.dir.joinpath(*(_segment(p) for p in model.split("/")))

    def has_recordings(self, model: str) -> bool:
        folder = self.folder(model)
        return folder.is_dir() and any(folder.glob("*.json"))

    def path(self, model: str, key: str) -> Path:
        return self.folder(model) / f"{key[:24]}.json"

    def shown(self, path: Path) -> str:
        if self.root is not None:
            try:
                return str(path.relative_to(self.root))
            except ValueError:
                pass
        return str(path)

    def load(self, model: str, key: str) -> Completion | None:
        path = self.path(model, key)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise RecordingMissing(
                f"{self.shown(path)}: unreadable recording ({e}); delete it and record again"
            ) from None
        if (
            not isinstance(doc, dict)
            or doc.get("key") != key
            or not isinstance(doc.get("completion"), dict)
        ):
            return None
        return Completion.from_dict(
            doc["completion"], model=model, cached=True, raw={"recording": self.shown(path)}
        )

    def save(
        self,
        model: str,
        key: str,
        params: dict[str, Any],
        messages: list[dict[str, Any]],
        sample: int,
        completion: Completion,
    ) -> Path:
        path = self.path(model, key)
        answer = completion.to_dict()
        for k in ("cached", "attempts", "model"):
            answer.pop(k, None)
        doc = {
            "key": key,
            "model": model,
            "params": params,
            "sample": sample,
            "messages": [
                {
                    k: m.get(k, "")
                    for k in ("role", "content", "tool_calls", "tool_call_id", "name")
                    if k in ("role", "content") or m.get(k)
                }
                for m in messages
            ],
            "completion": answer,
            "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        atomic_write(path, json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
        return path

    def load_embeddings(self, model: str, key: str) -> list[list[float]] | None:
        try:
            doc = json.loads(self.path(model, key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("key") != key:
            return None
        vectors = doc.get("embeddings")
        return vectors if isinstance(vectors, list) else None

    def save_embeddings(
        self, model: str, key: str, texts: list[str], vectors: list[list[float]]
    ) -> Path:
        path = self.path(model, key)
        doc = {
            "key": key,
            "model": model,
            "texts": list(texts),
            "embeddings": vectors,
            "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        atomic_write(path, json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n")
        return path

    def missing(
        self, model: str, key: str, label: str | None = None, sample: int = 0
    ) -> RecordingMissing:
        where = (
            f" ({label}{', sample ' + str(sample) if sample else ''})"
            if label
            else (f" (sample {sample})" if sample else "")
        )
        return RecordingMissing(
            f"{model}: no recording for this request{where}: expected "
            f"{self.shown(self.path(model, key))}; run with --record and the provider's API "
            "key to record it"
        )


def store_from_config(config: Config) -> RecordingStore:
    section = config.section("replay")
    d = Path(os.path.expanduser(str(section.get("dir") or DEFAULT_DIR)))
    return RecordingStore(d if d.is_absolute() else config.root / d, config.root)


class ReplayProvider(Provider):
    """``replay/<provider>/<model>``: answers of ``<provider>/<model>`` from recordings."""

    name = "replay"
    local = True

    def __init__(
        self, target: str, store: RecordingStore, *, defaults: dict[str, Any] | None = None
    ) -> None:
        super().__init__(target, label=f"replay/{target}", defaults=defaults)
        self.target = target
        self.store = store

    async def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Completion:
        key = request_key(self.target, self.merge_params(params), messages)
        found = self.store.load(self.target, key)
        if found is None:
            raise self.store.missing(self.target, key)
        return found
