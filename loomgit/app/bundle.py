"""Prompts for applications: ``loomgit.load()`` and the bundles ``loomgit export`` writes
(:mod:`loomgit.app.export`).

An application reads the prompt a stage holds either straight from the repository's
object database or from a bundle (one JSON file written by ``loomgit export``) for images
that ship no ``.git``::

    import loomgit
    p = loomgit.load("support/summarize", stage="production")        # repo of the cwd
    p = loomgit.load("support/summarize", bundle="prompts.json")     # or LOOMGIT_BUNDLE
    messages = p.render(ticket="Printer on fire")
    body = {"model": "gpt-4o-mini", "messages": messages, **p.request_params()}

``request_params()`` is the prompt's ``params`` with its tools (``$ref`` files read from
the stage or bundle, never the working tree) and its output schema as ``response_format``,
in OpenAI's chat-completions vocabulary. Loading is cached: a warm call costs a ``stat`` of the bundle (or of the stage branch's
ref files) and a few dictionary look-ups, so a new promotion or a redeployed bundle is
picked up without a restart.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from loomgit import _git, tracing
from loomgit._git import objects
from loomgit._git.refs import read_ref
from loomgit.app.bundlefile import BUNDLE_FORMAT as BUNDLE_FORMAT
from loomgit.app.bundlefile import BUNDLE_SCHEMA as BUNDLE_SCHEMA
from loomgit.app.bundlefile import BundleError as BundleError
from loomgit.app.bundlefile import read_bundle as read_bundle
from loomgit.config import Config, GlobSpec, find_root, load_config
from loomgit.errors import LoomgitError, RefError
from loomgit.fsutil import file_stamp
from loomgit.prompt.discover import glob_for
from loomgit.prompt.media import file_text
from loomgit.prompt.model import OutputSpec, Prompt, Tool
from loomgit.prompt.parse import parse_prompt
from loomgit.prompt.parts import IncludeLoader
from loomgit.prompt.toolspec import resolve_tools
from loomgit.stages.state import canonical_id, check_stage, read_manifest
from loomgit.workspace import Workspace

ENV_BUNDLE = "LOOMGIT_BUNDLE"


@dataclass(frozen=True)
class LoadedPrompt:
    """A prompt as a stage holds it, ready to render."""

    id: str
    version: str
    stage: str
    content_hash: str
    source_commit: str
    path: str
    prompt: Prompt
    includes: dict[str, str] = field(default_factory=dict)  # path -> text
    origin: str = ""  # "repo:<root>" or "bundle:<file>"

    @property
    def model(self) -> str | None:
        return self.prompt.model

    @property
    def params(self) -> dict[str, Any]:
        return self.prompt.params

    @property
    def text(self) -> str:
        return self.prompt.text

    @property
    def tools(self) -> tuple[Tool, ...]:
        """The tools the prompt offers the model (``$ref`` files read)."""
        return self.prompt.tools

    @property
    def output(self) -> OutputSpec | None:
        """The output spec (``format`` and JSON ``schema``), if the prompt has one."""
        return self.prompt.output

    def request_params(self) -> dict[str, Any]:
        """``params`` plus ``tools`` and ``response_format`` (OpenAI's chat-completions
        vocabulary), ready to send with the rendered messages."""
        return self.prompt.call_params()

    def render(
        self, variables: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Render the messages. Variables come as a mapping, keywords, or both;
        with neither, the prompt's ``sample`` is used."""
        values = None if variables is None and not kwargs else {**(variables or {}), **kwargs}
        return self.render_values(values)

    def render_values(
        self, values: Mapping[str, Any] | None, **limits: Any
    ) -> list[dict[str, Any]]:
        """:meth:`render` with the variables as one mapping (None: the sample) and render
        ``limits`` (``max_chars``, ``timeout_s``) for callers that set them (the server)."""
        with tracing.render_span(self):
            return self.prompt.render(values, loader=self._loader, **limits)

    @cached_property
    def _loader(self) -> IncludeLoader:
        # one loader for the prompt's life: the sandbox keeps compiled templates per
        # loader, and a new bound ``includes.get`` each call would compile them again
        includes = self.includes

        def load(name: str) -> str | None:
            return includes.get(name)

        return load

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "stage": self.stage,
            "content_hash": self.content_hash,
            "source_commit": self.source_commit,
            "path": self.path,
            "origin": self.origin,
            "tools": [t.to_dict() for t in self.tools],
            "output": None if self.output is None else self.output.to_dict(),
        }


def loaded_prompt(
    ident: str,
    entry: Mapping[str, Any],
    stage: str,
    text: str,
    includes: dict[str, str],
    origin: str,
) -> LoadedPrompt:
    path = str(entry["path"])  # role/template: its glob entry's options for a plain file
    prompt = parse_prompt(text, path, prompt_id=ident, glob=GlobSpec.from_options(path, entry))
    prompt = resolve_tools(prompt, includes.get)  # tool files travel with the includes
    return LoadedPrompt(
        ident,
        str(entry["version"]),
        stage,
        str(entry["content_hash"]),
        str(entry["source_commit"]),
        str(entry["path"]),
        prompt,
        includes,
        origin,
    )


# --- load -------------------------------------------------------------------------------

_lock = threading.RLock()
_bundles: dict[str, tuple[Any, dict[str, Any], dict[str, LoadedPrompt]]] = {}
_repos: dict[tuple[str, str], _RepoStage] = {}
_roots: dict[str, tuple[Path, Path]] = {}  # cwd or repo argument -> (root, git common dir)


def _from_bundle(ident: str, stage: str | None, path: str | os.PathLike[str]) -> LoadedPrompt:
    key = os.path.abspath(path)
    stamp = file_stamp(key)
    hit = _bundles.get(key)
    if hit is None or hit[0] != stamp or stamp is None:
        with _lock:
            data = read_bundle(key)
            hit = (stamp, data, {})
            _bundles[key] = hit
    _, data, cache = hit
    got = cache.get(ident)
    if got is None:
        if stage is not None and data.get("stage") != stage:
            raise RefError(f"{key}: the bundle holds stage {data.get('stage')!r}, not {stage!r}")
        entry = data["prompts"].get(ident)
        if entry is None:
            held = ", ".join(sorted(data["prompts"])) or "nothing"
            raise RefError(f"{ident!r} is not in the bundle {key} (it holds {held})")
        try:
            got = loaded_prompt(
                ident,
                entry,
                str(data.get("stage")),
                entry["text"],
                {str(k): str(v) for k, v in (entry.get("includes") or {}).items()},
                f"bundle:{key}",
            )
        except LoomgitError as e:
            raise BundleError(f"prompt {ident!r}: {e}", path=key) from None
        cache[ident] = got
    elif stage is not None and got.stage != stage:
        raise RefError(f"{key}: the bundle holds stage {got.stage!r}, not {stage!r}")
    return got


class _RepoStage:
    """One stage of one repository, re-read when its ref files change."""

    def __init__(self, root: Path, common: Path, stage: str) -> None:
        cfg = self.config = load_config(root)
        check_stage(cfg, stage)
        self.root, self.stage = root, stage
        branch = cfg.branch_for(stage)
        self.ref = f"refs/heads/{branch}"
        self.stamp_files = (
            common / self.ref,
            common / "packed-refs",
            common / "reftable" / "tables.list",
        )
        self.stamp: tuple[Any, ...] | None = None
        self.head: str | None = None
        self.entries: dict[str, Any] = {}
        self.cache: dict[str, LoadedPrompt] = {}

    def current_stamp(self) -> tuple[Any, ...]:
        return tuple(file_stamp(p) for p in self.stamp_files)

    def refresh(self) -> None:
        stamp = self.current_stamp()
        head = read_ref(self.root, self.ref)
        if head != self.head:
            self.cache = {}
            self.entries = {}
            if head is not None:
                manifest, _, err = read_manifest(self.root, head, self.stage)
                if err:
                    raise RefError(f"stage {self.stage!r}: {err} (see 'loomgit stages')")
                self.entries = dict(manifest.entries)
            self.head = head
        self.stamp = stamp

    def get(self, ident: str) -> LoadedPrompt:
        got = self.cache.get(ident)
        if got is not None:
            return got
        if self.head is None:
            raise RefError(
                f"stage {self.stage!r} has no promotions yet in {self.root} "
                f"({self.ref.removeprefix('refs/heads/')} does not exist)"
            )
        e = self.entries.get(ident)
        if e is None:
            held = ", ".join(sorted(self.entries)) or "nothing"
            raise RefError(f"{ident!r} is not on stage {self.stage!r} (it holds {held})")
        got = prompt_from_blobs(
            self.root,
            self.config,
            ident,
            self.stage,
            path=e.path,
            blob=e.blob,
            includes=e.includes,
            version=e.version,
            content_hash=e.content_hash,
            source_commit=e.source_commit,
        )
        self.cache[ident] = got
        return got


def _repo_paths(repo: str | os.PathLike[str] | None) -> tuple[Path, Path]:
    key = os.fspath(repo) if repo is not None else os.getcwd()
    hit = _roots.get(key)
    if hit is not None:
        return hit
    root = find_root(key)
    common = _git.git_dir(root)
    if common is None:
        raise RefError(
            f"{key} is not inside a git repository; pass repo=PATH, or load from a "
            f"bundle (bundle=FILE or {ENV_BUNDLE}=FILE)"
        )
    common_path = common.resolve()
    _roots[key] = (root, common_path)
    return root, common_path


def prompt_from_blobs(
    root: Path,
    config: Config,
    ident: str,
    stage: str,
    *,
    path: str,
    blob: str,
    includes: Mapping[str, str],
    version: str,
    content_hash: str,
    source_commit: str,
) -> LoadedPrompt:
    """The prompt whose file is ``blob`` (and whose includes are ``includes``, path ->
    blob) in the object database of ``root``: one read of every blob."""
    blobs = objects.read_many(root, [blob, *includes.values()])
    text = (blobs.get(blob) or b"").decode("utf-8", "replace")
    texts = {p: file_text(blobs.get(b) or b"") for p, b in includes.items()}
    spec = glob_for(config, path)
    fields = {
        **(spec.options() if spec is not None else {}),
        "path": path,
        "version": version,
        "content_hash": content_hash,
        "source_commit": source_commit,
    }
    return loaded_prompt(ident, fields, stage, text, texts, f"repo:{root}")


def stage_state(repo: str | os.PathLike[str] | None, stage: str) -> _RepoStage:
    """``stage`` of the repository at ``repo`` as its branch is now: re-read (manifest and
    all) only when the branch's ref files changed, and shared by every caller."""
    root, common = _repo_paths(repo)
    key = (str(root), stage)
    rs = _repos.get(key)
    if rs is not None and rs.stamp == rs.current_stamp():
        return rs
    with _lock:
        if rs is None:
            rs = _repos[key] = _RepoStage(root, common, stage)
        if rs.stamp != rs.current_stamp():
            rs.refresh()
        return rs


def _from_repo(ident: str, stage: str, repo: str | os.PathLike[str] | None) -> LoadedPrompt:
    rs = stage_state(repo, stage)
    got = rs.cache.get(ident)
    if got is not None:
        return got
    with _lock:
        if ident in rs.cache or ident in rs.entries:
            return rs.get(ident)
        # an id suffix or a path: what the working tree calls it (remembered as an alias)
        got = rs.get(canonical_id(Workspace(rs.root), ident))
        rs.cache[ident] = got
        return got


def load(
    id: str,
    stage: str = "production",
    repo: str | os.PathLike[str] | None = None,
    bundle: str | os.PathLike[str] | None = None,
) -> LoadedPrompt:
    """The prompt ``stage`` holds for ``id``, ready to ``render()``.

    Read from ``bundle`` when given, else from the repository ``repo`` when given, else
    from the bundle named by ``LOOMGIT_BUNDLE``, else from the repository around the
    current directory. Results are cached and re-read only when the bundle file or the
    stage branch changes.
    """
    if bundle is not None:
        return _from_bundle(id, stage, bundle)
    if repo is None:
        env = os.environ.get(ENV_BUNDLE)
        if env:
            return _from_bundle(id, stage, env)
    return _from_repo(id, stage, repo)


def clear_cache() -> None:
    """Forget every loaded bundle and stage (for tests and long-lived tools)."""
    with _lock:
        _bundles.clear()
        _repos.clear()
        _roots.clear()
