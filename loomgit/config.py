"""``loomgit.yaml``: a frozen, validated view of the repository's configuration.

Unknown top-level keys are an error (with a suggestion): a typo such as ``stage:`` for
``stages:`` would otherwise be silently ignored. Sections owned by other parts of loomgit
(``eval``, ``cache``, ``experiments``...) are validated by those parts and kept in ``raw``.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import loomgit._yaml as _yaml
from loomgit._git.run import work_tree
from loomgit.errors import ConfigError

CONFIG_FILE = "loomgit.yaml"
DEFAULT_GLOBS = ("prompts/**/*.prompt",)
KNOWN_KEYS = {
    "prompts": "list of globs, or {glob, id, role, template} mappings",
    "stages": "ordered list of stage names",
    "stage_branch": "branch name pattern with {stage}",
    "initial_version": "version of a prompt's first appearance",
    "history": "first-parent | full",
    "main_branch": "the branch whose versions are final",
    "providers": "named provider entries",
    "pricing": "USD per 1M tokens per model",
    "render": "{max_chars, timeout_s}",
    "cache": "{dir, ttl, enabled}",
    "replay": "{dir} of recorded model answers",
    "eval": "evaluation defaults",
    "defaults": "{model, params}",
    "experiments": "experiment store settings",
    "ci": "GitHub Action settings",
    "pipelines": "pipeline folder",
    "budget": "cost budget",
    "includes": "folders templates may include files from",
}
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
_STAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


GLOB_KEYS = {
    "glob": "the files, such as prompts/**/*.md",
    "id": "id pattern such as '{1}' (first wildcard)",
    "role": "system | user | assistant: the role of a plain file's text",
    "template": "jinja | none: 'none' renders plain files verbatim",
}
ROLES = ("system", "user", "assistant")
TEMPLATE_MODES = ("jinja", "none")


@dataclass(frozen=True)
class GlobSpec:
    """One prompt glob, with an optional id template (``{1}`` = first wildcard) and the
    options of the plain files it matches (files without frontmatter): the ``role`` of
    their text when it has no role lines (``user`` when None), and ``template: none``
    to take their text verbatim, braces and all, with no variables."""

    glob: str
    id: str | None = None
    role: str | None = None
    template: str = "jinja"

    @property
    def verbatim(self) -> bool:
        return self.template == "none"

    def options(self) -> dict[str, str]:
        """The plain-file options that differ from the defaults (``{role, template}``),
        as a bundle and the history cache key record them."""
        out = {"role": self.role} if self.role else {}
        return {**out, "template": self.template} if self.verbatim else out

    @classmethod
    def from_options(cls, glob: str, options: Any) -> GlobSpec:
        """A glob entry with ``options`` (from :meth:`options`; a bundle's entry)."""
        role, template = options.get("role"), options.get("template", "jinja")
        if (role is not None and role not in ROLES) or template not in TEMPLATE_MODES:
            raise ConfigError(f"bad options role={role!r}, template={template!r} for {glob}")
        return cls(glob, None, role, template)


def closest(word: object, known: Any) -> str | None:
    """The one of ``known`` closest to ``word`` (a misspelt key or name), if any is."""
    close = difflib.get_close_matches(str(word), [str(k) for k in known], n=1)
    return close[0] if close else None


def did_you_mean(key: object, known: Any) -> str:
    """`` (did you mean 'x'?)`` for a key close to one of ``known``, else ``""``."""
    close = closest(key, known)
    return f" (did you mean {close!r}?)" if close else ""


@lru_cache(maxsize=256)
def glob_regex(glob: str) -> re.Pattern[str]:
    """The regex of a prompt glob: one group per wildcard (``**/``, ``**``, ``*``, ``?``),
    numbered as an id template's ``{1}``, ``{2}``..."""
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("((?:[^/]+/)*)")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append("(.*)")
            i += 2
            continue
        if c == "*":
            out.append("([^/]*)")
        elif c == "?":
            out.append("([^/])")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("^" + "".join(out) + "$")


def _check_id_template(glob: str, template: str) -> str | None:
    """Why ``template`` cannot name files of ``glob`` (a placeholder it lacks), or None."""
    groups = glob_regex(glob).groups
    for m in re.finditer(r"\{(\d+)\}", template):
        n = int(m.group(1))
        if n < 1 or n > groups:
            have = (
                "no wildcards"
                if not groups
                else "1 wildcard (use {1})"
                if groups == 1
                else f"{groups} wildcards (use {{1}}..{{{groups}}})"
            )
            return f"id {template!r} uses placeholder {{{n}}} but glob {glob!r} has {have}"
    return None


@dataclass(frozen=True)
class Config:
    root: Path
    prompts: tuple[GlobSpec, ...] = tuple(GlobSpec(g) for g in DEFAULT_GLOBS)
    stages: tuple[str, ...] = ("staging", "production")
    stage_branch: str = "stage/{stage}"
    initial_version: str = "1.0.0"
    history: str = "first-parent"
    main_branch: str | None = None
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    pricing: dict[str, dict[str, float]] = field(default_factory=dict)
    render_max_chars: int = 1_000_000
    render_timeout_s: float = 1.0
    includes: tuple[str, ...] = ()  # extra include roots, each "folder/" ("" never)
    raw: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def section(self, name: str) -> dict[str, Any]:
        """A raw config section (``{}`` when absent)."""
        value = self.raw.get(name)
        return value if isinstance(value, dict) else {}

    def secret_env_names(self) -> tuple[str, ...]:
        """The variables the configured providers read their keys from (``api_key_env``):
        their values are kept out of everything loomgit publishes."""
        names = (e.get("api_key_env") for e in self.providers.values() if isinstance(e, dict))
        return tuple(sorted({n for n in names if isinstance(n, str) and n}))

    def branch_for(self, stage: str) -> str:
        return self.stage_branch.replace("{stage}", stage)


def find_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The repository root: the top of the work tree as git decides it (honouring
    ``GIT_DIR`` and ``GIT_WORK_TREE`` as hooks and CI set them; a bare repository's own
    folder), or, outside git, the nearest folder upwards holding ``loomgit.yaml``; the
    start folder when there is neither."""
    here = Path(start or os.getcwd()).resolve()
    top = work_tree(here)
    if top is not None:
        return top
    for d in (here, *here.parents):
        if (d / CONFIG_FILE).is_file():
            return d
    return here


def load_config(root: str | os.PathLike[str] | None = None) -> Config:
    """Read ``loomgit.yaml`` at ``root`` (found from the cwd when not given)."""
    root_path = Path(root).resolve() if root is not None else find_root()
    path = root_path / CONFIG_FILE
    if not path.is_file():
        return Config(root=root_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read: {e}", path=CONFIG_FILE) from None
    return parse_config(text, root_path, CONFIG_FILE)


def parse_config(text: str, root: Path, name: str = CONFIG_FILE) -> Config:
    try:
        data = _yaml.load(text, path=name)
    except _yaml.YamlError as e:
        raise ConfigError(e.message, path=e.path, line=e.line, col=e.col) from None
    if data is None:
        return Config(root=root, path=root / name)
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping of settings", path=name, line=1)

    def err(msg: str, key: str) -> ConfigError:
        return ConfigError(f"{key}: {msg}", path=name, line=_yaml.line_of(data, key))

    for key in data:
        if key not in KNOWN_KEYS:
            hint = did_you_mean(key, KNOWN_KEYS)
            raise err(f"unknown setting{hint}; known: {', '.join(sorted(KNOWN_KEYS))}", key)

    kw: dict[str, Any] = {}
    if "prompts" in data:
        raw = data["prompts"]
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            raise err("must be a non-empty list of globs", "prompts")
        fallback = _yaml.line_of(data, "prompts")
        specs = [_glob_spec(item, raw, n, name, fallback) for n, item in enumerate(raw)]
        kw["prompts"] = tuple(specs)
    if "stages" in data:
        st = data["stages"]
        if (
            not isinstance(st, list)
            or not st
            or not all(isinstance(s, str) and _STAGE_RE.match(s) for s in st)
        ):
            raise err("must be a list of stage names (letters, digits, - and _)", "stages")
        if len(set(st)) != len(st):
            raise err("stage names must be unique", "stages")
        kw["stages"] = tuple(st)
    if "stage_branch" in data:
        sb = data["stage_branch"]
        if not isinstance(sb, str) or "{stage}" not in sb:
            raise err("must be a branch name containing {stage}", "stage_branch")
        kw["stage_branch"] = sb
    if "initial_version" in data:
        iv = str(data["initial_version"])
        if not _VERSION_RE.match(iv):
            raise err("must be a version like 1.0.0", "initial_version")
        kw["initial_version"] = iv
    if "history" in data:
        if data["history"] not in ("first-parent", "full"):
            raise err("must be 'first-parent' or 'full'", "history")
        kw["history"] = data["history"]
    if "main_branch" in data:
        if not isinstance(data["main_branch"], str):
            raise err("must be a branch name", "main_branch")
        kw["main_branch"] = data["main_branch"]
    if "providers" in data:
        pv = data["providers"]
        if not isinstance(pv, dict) or not all(isinstance(v, dict) for v in pv.values()):
            raise err("must map names to {type, base_url, api_key_env, params}", "providers")
        kw["providers"] = _yaml.plain(pv)
    if "pricing" in data:
        pr = data["pricing"]
        ok = isinstance(pr, dict) and all(
            isinstance(v, dict) and all(isinstance(x, (int, float)) for x in v.values())
            for v in pr.values()
        )
        if not ok:
            raise err(
                "must map 'provider/model' to {input: USD, output: USD} per 1M tokens", "pricing"
            )
        kw["pricing"] = _yaml.plain(pr)
    if "render" in data:
        rd = data["render"]
        if not isinstance(rd, dict):
            raise err("must be a mapping {max_chars, timeout_s}", "render")
        if "max_chars" in rd:
            if not isinstance(rd["max_chars"], int) or rd["max_chars"] <= 0:
                raise err("max_chars must be a positive integer", "render")
            kw["render_max_chars"] = int(rd["max_chars"])
        if "timeout_s" in rd:
            if not isinstance(rd["timeout_s"], (int, float)) or rd["timeout_s"] <= 0:
                raise err("timeout_s must be a positive number", "render")
            kw["render_timeout_s"] = float(rd["timeout_s"])
    if "includes" in data:
        kw["includes"] = _include_roots(data["includes"], err)
    return Config(root=root, raw=_yaml.plain(data), path=root / name, **kw)


def _glob_spec(item: Any, entries: Any, n: int, name: str, fallback: int | None) -> GlobSpec:
    """One entry of ``prompts:``: a glob, or a mapping of :data:`GLOB_KEYS`."""
    entry_line = _yaml.line_of(entries, n) or fallback

    def fail(msg: str, key: str | None = None) -> ConfigError:
        line = (_yaml.line_of(item, key) if key is not None else None) or entry_line
        return ConfigError(f"prompts: {msg}", path=name, line=line)

    if isinstance(item, str):
        return GlobSpec(item)
    if not isinstance(item, dict):
        raise fail("each entry must be a glob or {glob: ..., id: ...}")
    for key in item:
        if key not in GLOB_KEYS:
            hint = did_you_mean(key, GLOB_KEYS)
            known = ", ".join(GLOB_KEYS)
            raise fail(f"unknown key {str(key)!r} in a glob entry{hint}; known: {known}", key)
    glob = item.get("glob")
    if not isinstance(glob, str) or not glob:
        raise fail("each mapping entry needs glob: set to a pattern such as prompts/**/*.md")
    pid = item.get("id")
    if pid is not None and not isinstance(pid, str):
        raise fail("id must be a string such as '{1}'", "id")
    why = _check_id_template(glob, pid) if pid is not None else None
    if why:
        raise fail(why, "id")
    role = item.get("role")
    if role is not None and role not in ROLES:
        raise fail(f"role must be one of {', '.join(ROLES)}, got {role!r}", "role")
    template = item.get("template", "jinja")
    if template not in TEMPLATE_MODES:
        raise fail(
            f"template must be 'jinja' or 'none' (braces taken as literal text), got {template!r}",
            "template",
        )
    return GlobSpec(glob, pid, role, template)


def _include_roots(raw: Any, err: Any) -> tuple[str, ...]:
    """``includes:``: repository folders (``shared/``, ``lib/partials``) templates may
    include files from, besides the prompts' own folders."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise err("must be a list of folders in the repository, such as [shared/]", "includes")
    out = []
    for item in raw:
        parts = [p for p in item.strip().replace("\\", "/").split("/") if p not in ("", ".")]
        if item.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", item):
            raise err(
                f"{item!r} must be a folder inside the repository, not an absolute path", "includes"
            )
        if not parts:
            raise err(f"{item!r} names the whole repository; list the folders to share", "includes")
        if (
            ".." in parts
            or any(p.lower() == ".git" for p in parts)
            or any(ch in item for ch in "*?[")
        ):
            raise err(
                f"{item!r} must be a plain folder inside the repository (no '..', .git or wildcards)",
                "includes",
            )
        out.append("/".join(parts) + "/")
    return tuple(dict.fromkeys(out))
