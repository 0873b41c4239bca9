"""The one module that imports ruamel.yaml.

Documents are loaded round-trip so that line numbers are known (for ``file:line``
errors) and so that a file loomgit edits keeps its comments.
"""

from __future__ import annotations

import io
from typing import Any

from loomgit.errors import LoomgitError


class YamlError(LoomgitError, ValueError):
    """Malformed YAML; carries the file and line of the problem."""


def _yaml(typ: str = "rt") -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ=typ)
    y.allow_duplicate_keys = False
    return y


def load(text: str, path: str | None = None, line_offset: int = 0) -> Any:
    """Parse one YAML document. ``line_offset`` is added to reported lines
    (for frontmatter that starts below line 1).

    libyaml reads it first (:mod:`loomgit.yamlfast`, about 20x faster, same values and
    lines); when that reader is unsure or the text is malformed, ruamel reads it again,
    so every error message and line is ruamel's."""
    from loomgit.yamlfast import load as fast_load

    data = fast_load(text)
    if data is not None:
        return data
    return load_roundtrip(text, path, line_offset)


def load_roundtrip(text: str, path: str | None = None, line_offset: int = 0) -> Any:
    """:func:`load` with ruamel only: comments are kept for :func:`dump`."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return _yaml().load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = (mark.line + 1 + line_offset) if mark is not None else None
        problem = e.problem or e.context or "malformed YAML"
        raise YamlError(f"invalid YAML: {problem}", path=path, line=line) from None
    except YAMLError as e:
        raise YamlError(
            f"invalid YAML: {str(e).splitlines()[0]}",
            path=path,
            line=line_offset + 1 if line_offset else None,
        ) from None
    except Exception as e:  # ruamel raises assorted errors on odd input
        raise YamlError(f"invalid YAML: {e}", path=path) from None


def line_of(node: Any, key: Any = None, default: int | None = None) -> int | None:
    """1-based line of ``node[key]`` (or of ``node`` itself) in its document."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return default
    try:
        if key is None:
            return int(lc.line) + 1
        if isinstance(key, int):
            return int(lc.item(key)[0]) + 1
        return int(lc.key(key)[0]) + 1
    except Exception:
        return default


def plain(obj: Any) -> Any:
    """Turn ruamel's commented containers into plain dicts/lists (JSON-safe scalars)."""
    if isinstance(obj, dict):
        return {
            str(k) if not isinstance(k, (str, int, float, bool)) else k: plain(v)
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, str):
        return str(obj)
    return str(obj)


def dump(obj: Any) -> str:
    """Serialise ``obj`` as YAML, keeping comments of round-trip-loaded data."""
    buf = io.StringIO()
    _yaml().dump(obj, buf)
    return buf.getvalue()
