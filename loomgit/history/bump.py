"""Deciding a version bump: major, minor or patch, with the reasons a person reads.

- **major**: the interface broke (a required variable added, a variable removed or its
  type changed, enum values removed, output format changed, output schema made
  incompatible), or the commit message says so (``BREAKING CHANGE``, ``type!:``);
- **minor**: behaviour changed (message text, model, params, an optional variable added,
  an output-schema field added, an included file changed);
- **patch**: nothing that reaches the model changed (description, tags, comments,
  trailing whitespace, sample values).

Tools (``tools:``, inline or from ``$ref`` files) follow a function signature's rules:
:mod:`loomgit.history.tooldiff`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from loomgit._git.log import is_breaking
from loomgit.history.facts import Facts, facts_from_prompt, strip_source
from loomgit.history.tooldiff import tool_changes

if TYPE_CHECKING:
    from loomgit.history.facts import TextLoader
    from loomgit.prompt.model import Prompt

CHANGES = ("initial", "patch", "minor", "major")
_RANK = {"patch": 1, "minor": 2, "major": 3}
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$")


def parse_version(v: str) -> tuple[int, int, int] | None:
    m = _VERSION.match(v)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def is_final(v: str) -> bool:
    m = _VERSION.match(v)
    return bool(m) and m.group(4) is None  # type: ignore[union-attr]


def bump(version: str, change: str) -> str:
    """``bump("1.2.3", "minor") == "1.3.0"`` (pre-release and build parts are dropped)."""
    nums = version.split(".")
    if len(nums) == 3 and all(n.isdigit() for n in nums):  # the usual X.Y.Z
        parts: tuple[int, int, int] | None = (int(nums[0]), int(nums[1]), int(nums[2]))
    else:
        parts = parse_version(version)
    if parts is None:
        raise ValueError(f"not a version: {version!r}")
    x, y, z = parts
    if change == "major":
        return f"{x + 1}.0.0"
    if change == "minor":
        return f"{x}.{y + 1}.0"
    return f"{x}.{y}.{z + 1}"


def max_change(*changes: str) -> str:
    return max((c for c in changes if c in _RANK), key=_RANK.__getitem__, default="patch")


_ENCODER: Any = None


def _fmt(v: Any) -> str:
    """A value as it reads in a reason: JSON (``0.2``, ``"formal"``, ``["a", "b"]``)."""
    global _ENCODER
    if _ENCODER is None:
        import json

        _ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)
    return _ENCODER.encode(v)  # type: ignore[no-any-return]


class _Reasons:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, kind: str, text: str) -> None:
        self.items.append((kind, text))

    def result(self) -> tuple[str, list[str]]:
        if not self.items:
            return "patch", ["formatting only"]
        change = max_change(*(k for k, _ in self.items))
        ordered = sorted(self.items, key=lambda kv: -_RANK[kv[0]])  # stable: by weight
        return change, [t for _, t in ordered]


def _variables(old: Facts, new: Facts, r: _Reasons) -> None:
    oi, ni = old.interface, new.interface
    for name in oi:
        if name not in ni:
            r.add("major", f'variable "{name}" removed')
    for name, v in ni.items():
        if name not in oi:
            if v.required:
                r.add("major", f'variable "{name}" added (required)')
            else:
                r.add("minor", f'variable "{name}" added (optional)')
            continue
        o = oi[name]
        if o.type != v.type:
            kind = "minor" if v.type == "any" else "major"
            r.add(kind, f'variable "{name}": type {o.type} -> {v.type}')
        if v.required and not o.required:
            r.add("major", f'variable "{name}" is now required')
        elif o.required and not v.required:
            r.add("minor", f'variable "{name}" is now optional')
        if o.enum != v.enum:
            if o.enum is None:
                r.add("major", f'variable "{name}": now limited to {_fmt(list(v.enum or ()))}')
            elif v.enum is None:
                r.add("minor", f'variable "{name}": enum limit removed')
            else:
                gone = [e for e in o.enum if e not in v.enum]
                added = [e for e in v.enum if e not in o.enum]
                if gone:
                    r.add(
                        "major",
                        f'variable "{name}": enum value(s) removed: ' + ", ".join(map(str, gone)),
                    )
                if added:
                    r.add(
                        "minor",
                        f'variable "{name}": enum value(s) added: ' + ", ".join(map(str, added)),
                    )
                if not gone and not added:
                    r.add("patch", f'variable "{name}": enum reordered')
        if not v.required and not o.required and o.default != v.default:
            r.add("minor", f'variable "{name}": default {_fmt(o.default)} -> {_fmt(v.default)}')
        if o.description != v.description:
            r.add("patch", f'variable "{name}": description changed')


def _type_of(schema: Any) -> Any:
    return schema.get("type") if isinstance(schema, dict) else None


def schema_changes(old: Any, new: Any, where: str = "") -> list[tuple[str, str]]:
    """(kind, reason) for an output schema's changes, seen from the code that reads the
    output: a field removed, retyped or no longer required breaks it; a field added or
    newly guaranteed does not."""
    out: list[tuple[str, str]] = []
    label = f'property "{where}"' if where else "output schema"
    if not isinstance(old, dict) or not isinstance(new, dict):
        if old != new:
            out.append(("major", f"{label} changed"))
        return out
    if _type_of(old) != _type_of(new):
        out.append(("major", f"{label}: type {_fmt(_type_of(old))} -> {_fmt(_type_of(new))}"))
        return out
    op, np_ = old.get("properties") or {}, new.get("properties") or {}
    oreq, nreq = set(old.get("required") or []), set(new.get("required") or [])
    if isinstance(op, dict) and isinstance(np_, dict):
        for k in op:
            sub = f"{where}.{k}" if where else str(k)
            if k not in np_:
                out.append(("major", f'output schema: property "{sub}" removed'))
            else:
                out += schema_changes(op[k], np_[k], sub)
        for k in np_:
            if k not in op:
                sub = f"{where}.{k}" if where else str(k)
                out.append(("minor", f'output schema: property "{sub}" added'))
    for k in sorted(map(str, oreq - nreq)):
        if isinstance(np_, dict) and k in np_:
            out.append(("major", f'output schema: property "{_join(where, k)}" no longer required'))
    for k in sorted(map(str, nreq - oreq)):
        out.append(("minor", f'output schema: property "{_join(where, k)}" now required'))
    oe, ne = old.get("enum"), new.get("enum")
    if oe != ne and isinstance(oe, list) and isinstance(ne, list):
        if [e for e in ne if e not in oe]:
            out.append(
                (
                    "major",
                    f"{label}: new enum value(s) " + ", ".join(_fmt(e) for e in ne if e not in oe),
                )
            )
        if [e for e in oe if e not in ne]:
            out.append(("minor", f"{label}: enum value(s) removed"))
    elif oe != ne:
        out.append(("major" if oe is None else "minor", f"{label}: enum changed"))
    if "items" in old or "items" in new:
        out += schema_changes(old.get("items"), new.get("items"), f"{where}[]" if where else "[]")
    rest = {
        "properties",
        "required",
        "enum",
        "items",
        "type",
        "description",
        "title",
        "examples",
        "$comment",
    }
    for k in sorted(set(old) | set(new)):
        if k in rest or old.get(k) == new.get(k):
            continue
        out.append(("minor", f"{label}: {k} changed"))
    if old.get("description") != new.get("description") or old.get("title") != new.get("title"):
        out.append(("patch", f"{label}: description changed"))
    return out


def _join(where: str, k: str) -> str:
    return f"{where}.{k}" if where else k


def _messages(old: Facts, new: Facts, r: _Reasons) -> None:
    roles = [m[0] for m in new.messages]

    def label(i: int, role: str) -> str:
        return f'message "{role}"' if roles.count(role) <= 1 else f'message {i + 1} ("{role}")'

    for i in range(max(len(old.messages), len(new.messages))):
        if i >= len(old.messages):
            r.add("minor", f"{label(i, new.messages[i][0])} added")
        elif i >= len(new.messages):
            r.add("minor", f'message {i + 1} ("{old.messages[i][0]}") removed')
        elif old.messages[i][0] != new.messages[i][0]:
            r.add("minor", f"message {i + 1}: role {old.messages[i][0]} -> {new.messages[i][0]}")
        elif old.messages[i][1] != new.messages[i][1]:
            if strip_source(old.messages[i][1]) != strip_source(new.messages[i][1]):
                r.add("minor", f"{label(i, new.messages[i][0])} changed")
            else:
                r.add("patch", f"{label(i, new.messages[i][0])}: comments or whitespace only")
    tool_files = {*old.tool_files, *new.tool_files}  # judged by the tools they hold
    for name in sorted(set(old.includes) | set(new.includes)):
        o, n = old.includes.get(name), new.includes.get(name)
        if o is None or n is None or o == n or name in tool_files:
            continue  # adding or dropping an include shows as a message change
        if strip_source(o) != strip_source(n):
            r.add("minor", f'included "{name}" changed')
        else:
            r.add("patch", f'included "{name}": comments or whitespace only')


def classify_facts(old: Facts, new: Facts, *, breaking: bool = False) -> tuple[str, list[str]]:
    """The bump from ``old`` to ``new`` and why."""
    r = _Reasons()
    if breaking:
        r.add("major", "commit message marks a breaking change")
    if not (old.ok and new.ok):
        if not new.ok:
            r.add("minor", f"does not parse: {new.error}")
        elif old.content_hash != new.content_hash:
            r.add("minor", "parses again")
        return r.result()
    if old.interface is not new.interface:
        _variables(old, new, r)
    if old.meta_key is None or old.meta_key is not new.meta_key:
        _meta(old, new, r)
    if old.messages != new.messages or old.includes != new.includes:
        _messages(old, new, r)
    if old.tools is not new.tools and [t.key() for t in old.tools] != [t.key() for t in new.tools]:
        for kind, text in tool_changes(old.tools, new.tools):
            r.add(kind, text)
    if not r.items and old.content_hash == new.content_hash:
        return "patch", ["whitespace only"]
    return r.result()


def _meta(old: Facts, new: Facts, r: _Reasons) -> None:
    """Changes of the frontmatter-borne fields (not the variables)."""
    if old.output_format != new.output_format:
        r.add("major", f"output format {old.output_format} -> {new.output_format}")
    elif old.output_schema is not new.output_schema and old.output_schema != new.output_schema:
        if old.output_schema is None:
            r.add("minor", "output schema added")
        elif new.output_schema is None:
            r.add("major", "output schema removed")
        else:
            for kind, text in schema_changes(old.output_schema, new.output_schema):
                r.add(kind, text)
    if old.model != new.model:
        r.add("minor", f"model {old.model or 'default'} -> {new.model or 'default'}")
    for k in sorted(set(old.params) | set(new.params), key=str):
        o, n = old.params.get(k, _NONE), new.params.get(k, _NONE)
        if o == n:
            continue
        if o is _NONE:
            r.add("minor", f"params.{k} set to {_fmt(n)}")
        elif n is _NONE:
            r.add("minor", f"params.{k} removed")
        else:
            r.add("minor", f"params.{k} {_fmt(o)} -> {_fmt(n)}")
    if old.description != new.description:
        r.add("patch", "description changed")
    if old.tags != new.tags:
        r.add("patch", "tags changed")
    if old.sample != new.sample:
        r.add("patch", "sample changed")
    for k in sorted(set(old.other) | set(new.other)):
        if old.other.get(k) != new.other.get(k):
            r.add("patch", f'frontmatter "{k}" changed')


_NONE = object()


def classify(
    old: Prompt,
    new: Prompt,
    old_loader: TextLoader | None = None,
    new_loader: TextLoader | None = None,
    *,
    message: str = "",
) -> tuple[str, list[str]]:
    """``(change, reasons)`` between two parsed prompts; ``message`` is the commit message
    (``BREAKING CHANGE`` / ``type!:`` force a major bump). Loaders give included files."""
    return classify_facts(
        facts_from_prompt(old, old_loader),
        facts_from_prompt(new, new_loader),
        breaking=is_breaking(message) if message else False,
    )
