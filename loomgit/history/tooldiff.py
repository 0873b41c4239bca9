"""How a prompt's tools changed, and what that does to its version.

A tool is a function signature the application implements and the model calls, so the
rules are a signature's: a tool removed or renamed, a parameter removed or retyped, a new
required parameter (or one made required), enum values removed are **major**; a new tool,
a new optional parameter, a parameter made optional, enum values added or another schema
keyword changed are **minor**; descriptions, titles, examples and the order of the tools
are **patch**. Parameters nested in objects (``address.city``) and in array items
(``lines[].sku``) follow the same rules.
"""

from __future__ import annotations

import json
from typing import Any

from loomgit.prompt.tools import Tool

Change = tuple[str, str]  # (major | minor | patch, reason)
_DOC_KEYS = {"description", "title", "examples", "$comment"}
_SHAPE_KEYS = {"type", "properties", "required", "enum", "items"}


def _fmt(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)


def tool_changes(old: tuple[Tool, ...], new: tuple[Tool, ...]) -> list[Change]:
    """(kind, reason) for each difference between two versions' tools."""
    out: list[Change] = []
    by_old = {t.name: t for t in old}
    by_new = {t.name: t for t in new}
    gone = [n for n in by_old if n not in by_new]
    added = [n for n in by_new if n not in by_old]
    renamed: dict[str, str] = {}
    for g in gone:  # same parameters under another name: a rename
        match = next(
            (
                a
                for a in added
                if a not in renamed.values() and by_new[a].parameters == by_old[g].parameters
            ),
            None,
        )
        if match is not None:
            renamed[g] = match
    for g in gone:
        if g in renamed:
            out.append(("major", f'tool "{g}" renamed to "{renamed[g]}"'))
        else:
            out.append(("major", f'tool "{g}" removed'))
    for a in added:
        if a not in renamed.values():
            out.append(("minor", f'tool "{a}" added'))
    for name, o in by_old.items():
        n = by_new.get(name)
        if n is None:
            continue
        if o.description != n.description:
            out.append(("patch", f'tool "{name}": description changed'))
        out += _schema(name, o.parameters, n.parameters, "")
    common_old = [t.name for t in old if t.name in by_new]
    common_new = [t.name for t in new if t.name in by_old]
    if common_old != common_new:
        out.append(("patch", "tools reordered"))
    return out


def _label(tool: str, where: str) -> str:
    return f'tool "{tool}": parameter "{where}"' if where else f'tool "{tool}": parameters'


def _schema(tool: str, old: Any, new: Any, where: str) -> list[Change]:
    label = _label(tool, where)
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [] if old == new else [("major", f"{label} changed")]
    out: list[Change] = []
    if old.get("type") != new.get("type"):
        out.append(("major", f"{label}: type {_fmt(old.get('type'))} -> {_fmt(new.get('type'))}"))
        return out
    op, np_ = old.get("properties"), new.get("properties")
    op = op if isinstance(op, dict) else {}
    np_ = np_ if isinstance(np_, dict) else {}
    oreq = set(old.get("required") or []) if isinstance(old.get("required"), list) else set()
    nreq = set(new.get("required") or []) if isinstance(new.get("required"), list) else set()
    for k in op:
        sub = f"{where}.{k}" if where else str(k)
        if k not in np_:
            out.append(("major", f"{_label(tool, sub)} removed"))
        else:
            out += _schema(tool, op[k], np_[k], sub)
    for k in np_:
        if k not in op:
            sub = f"{where}.{k}" if where else str(k)
            kind = "major" if k in nreq else "minor"
            out.append(
                (kind, f"{_label(tool, sub)} added ({'required' if k in nreq else 'optional'})")
            )
    for k in sorted(map(str, (nreq - oreq) & set(op) & set(np_))):
        out.append(("major", f"{_label(tool, _join(where, k))} is now required"))
    for k in sorted(map(str, (oreq - nreq) & set(np_))):
        out.append(("minor", f"{_label(tool, _join(where, k))} is now optional"))
    oe, ne = old.get("enum"), new.get("enum")
    if oe != ne:
        if isinstance(oe, list) and isinstance(ne, list):
            removed = [e for e in oe if e not in ne]
            added = [e for e in ne if e not in oe]
            if removed:
                out.append(
                    ("major", f"{label}: enum value(s) removed: " + ", ".join(map(_fmt, removed)))
                )
            if added:
                out.append(
                    ("minor", f"{label}: enum value(s) added: " + ", ".join(map(_fmt, added)))
                )
            if not removed and not added:
                out.append(("patch", f"{label}: enum reordered"))
        elif ne is None:
            out.append(("minor", f"{label}: enum limit removed"))
        else:
            out.append(("major", f"{label}: now limited to {_fmt(ne)}"))
    if "items" in old or "items" in new:
        out += _schema(tool, old.get("items"), new.get("items"), f"{where}[]" if where else "[]")
    for k in sorted(set(old) | set(new)):
        if k in _SHAPE_KEYS or k in _DOC_KEYS or old.get(k) == new.get(k):
            continue
        out.append(("minor", f"{label}: {k} changed"))
    if any(old.get(k) != new.get(k) for k in _DOC_KEYS):
        out.append(("patch", f"{label}: description changed"))
    return out


def _join(where: str, k: str) -> str:
    return f"{where}.{k}" if where else k


def tools_diff(old: tuple[Tool, ...], new: tuple[Tool, ...]) -> dict[str, Any] | None:
    """What ``diff`` shows of the tools (None when equal): ``added``, ``removed`` and
    ``changed`` tools, each ``{name, from, to, diff}`` (``from``/``to``: the definition on
    that side, ``diff``: a unified diff of the two as JSON), and the ``changes`` in words."""
    if [t.key() for t in old] == [t.key() for t in new]:
        return None
    by_old = {t.name: t for t in old}
    by_new = {t.name: t for t in new}
    out: dict[str, Any] = {"added": [], "removed": [], "changed": []}
    for name in [*by_old, *(n for n in by_new if n not in by_old)]:
        o, n = by_old.get(name), by_new.get(name)
        if o is not None and n is not None and o.key() == n.key():
            continue
        kind = "added" if o is None else ("removed" if n is None else "changed")
        entry: dict[str, Any] = {"name": name}
        if o is not None:
            entry["from"] = o.to_dict()
        if n is not None:
            entry["to"] = n.to_dict()
        entry["diff"] = _udiff(name, o, n)
        out[kind].append(entry)
    out["changes"] = [text for _, text in tool_changes(old, new)]
    return out


def _udiff(name: str, old: Tool | None, new: Tool | None) -> str:
    import difflib

    def lines(t: Tool | None) -> list[str]:
        return (
            [] if t is None else json.dumps(t.to_dict(), indent=2, ensure_ascii=False).splitlines()
        )

    a = f"tool {name} (before)" if old is not None else "/dev/null"
    b = f"tool {name} (after)" if new is not None else "/dev/null"
    return "\n".join(difflib.unified_diff(lines(old), lines(new), a, b, lineterm=""))
