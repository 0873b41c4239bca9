"""Semantic diff of two prompt references: the bump and its reasons, variables, model,
params, output, tools, and a line diff of each message (and, on request, of rendered messages)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loomgit._git.objects import BlobReader
from loomgit.errors import LoomgitError, RenderError
from loomgit.history.bump import classify
from loomgit.history.facts import FactsBuilder, collect_includes
from loomgit.history.lookup import Resolved, load_version
from loomgit.history.pending import working_version
from loomgit.history.repo import Repo
from loomgit.history.tooldiff import tools_diff
from loomgit.history.versions import history
from loomgit.prompt.conversation import content_text
from loomgit.prompt.discover import glob_for
from loomgit.prompt.model import IncludeLoader, Prompt
from loomgit.prompt.render import interface

if TYPE_CHECKING:
    from loomgit.workspace import Workspace


@dataclass(frozen=True)
class Side:
    ref: str
    id: str
    version: str | None
    commit: str | None
    path: str
    prompt: Prompt
    loader: IncludeLoader

    @classmethod
    def of(cls, ref: str, r: Resolved) -> Side:
        return cls(ref, r.prompt.id, r.version, r.commit, r.prompt.path, r.prompt, r.loader)

    def label(self) -> str:
        at = self.version or (self.commit[:7] if self.commit else "working tree")
        return f"{self.id}@{at}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "id": self.id,
            "version": self.version,
            "commit": self.commit,
            "path": self.path,
        }


@dataclass
class SemDiff:
    old: Side | None
    new: Side | None
    change: str
    reasons: list[str]
    variables: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    includes: list[dict[str, Any]] = field(default_factory=list)
    rendered: list[dict[str, Any]] | None = None
    tools: dict[str, Any] | None = None  # added, removed, changed (tooldiff.tools_diff)

    @property
    def identical(self) -> bool:
        return (
            self.old is not None
            and self.new is not None
            and self.old.prompt.text == self.new.prompt.text
            and not any(m["status"] != "same" for m in self.messages)
            and not self.reasons_changed
        )

    @property
    def tool_entries(self) -> list[dict[str, Any]]:
        """Each added, removed and changed tool, with a diff of its definition."""
        t = self.tools or {}
        return [*t.get("added", []), *t.get("removed", []), *t.get("changed", [])]

    @property
    def reasons_changed(self) -> bool:
        return (
            self.reasons not in ([], ["formatting only"], ["whitespace only"])
            or self.old is None
            or self.new is None
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.old.to_dict() if self.old else None,
            "to": self.new.to_dict() if self.new else None,
            "change": self.change,
            "reasons": self.reasons,
            "variables": self.variables,
            "params": self.params,
            "model": self.model,
            "output": self.output,
            "messages": self.messages,
            "includes": self.includes,
            "tools": self.tools,
            "rendered": self.rendered,
        }


def _udiff(a: str, b: str, a_name: str, b_name: str) -> str:
    lines = difflib.unified_diff(a.splitlines(), b.splitlines(), a_name, b_name, lineterm="")
    return "\n".join(lines)


def _messages(
    old: list[tuple[str, str]], new: list[tuple[str, str]], a: str, b: str
) -> list[dict[str, Any]]:
    out = []
    for i in range(max(len(old), len(new))):
        o = old[i] if i < len(old) else None
        n = new[i] if i < len(new) else None
        role = (n or o)[0]  # type: ignore[index]
        if o is None:
            status = "added"
        elif n is None:
            status = "removed"
        elif o == n:
            status = "same"
        else:
            status = "changed"
        diff = (
            ""
            if status == "same"
            else _udiff(
                o[1] if o else "",
                n[1] if n else "",
                f"{a} ({o[0] if o else role})",
                f"{b} ({n[0] if n else role})",
            )
        )
        out.append({"index": i + 1, "role": role, "status": status, "diff": diff})
    return out


def _dict_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {
        "added": {k: new[k] for k in new if k not in old},
        "removed": {k: old[k] for k in old if k not in new},
        "changed": {
            k: {"from": old[k], "to": new[k]} for k in old if k in new and old[k] != new[k]
        },
    }


def diff_prompts(
    old: Side | None,
    new: Side | None,
    variables: dict[str, Any] | None = None,
    render: bool = False,
    limits: dict[str, Any] | None = None,
) -> SemDiff:
    """The semantic diff from ``old`` to ``new`` (either may be None: added / deleted)."""
    if old is None or new is None:
        side = new or old
        assert side is not None
        change, reasons = ("initial", ["new prompt"]) if old is None else ("deleted", ["deleted"])
    else:
        change, reasons = classify(old.prompt, new.prompt, old.loader, new.loader)
        if old.prompt.text == new.prompt.text and reasons in (
            ["formatting only"],
            ["whitespace only"],
        ):
            change, reasons = "none", []

    def iface(s: Side | None) -> dict[str, Any]:
        return {k: v.to_dict() for k, v in interface(s.prompt, s.loader).items()} if s else {}

    def msgs(s: Side | None) -> list[tuple[str, str]]:
        return [(m.role, m.source) for m in s.prompt.messages] if s else []

    a_name = old.label() if old else "/dev/null"
    b_name = new.label() if new else "/dev/null"
    d = SemDiff(
        old,
        new,
        change,
        reasons,
        variables=_dict_changes(iface(old), iface(new)),
        params=_dict_changes(old.prompt.params if old else {}, new.prompt.params if new else {}),
        messages=_messages(msgs(old), msgs(new), a_name, b_name),
    )
    om, nm = (old.prompt.model if old else None), (new.prompt.model if new else None)
    if om != nm:
        d.model = {"from": om, "to": nm}

    def out_of(s: Side | None) -> dict[str, Any] | None:
        o = s.prompt.output if s else None
        return o.to_dict() if o else None

    if out_of(old) != out_of(new):
        d.output = {"from": out_of(old), "to": out_of(new)}
    d.includes = _includes(old, new, a_name, b_name)
    d.tools = tools_diff(old.prompt.tools if old else (), new.prompt.tools if new else ())
    if render:
        d.rendered = _render_diff(old, new, variables, a_name, b_name, limits or {})
    return d


def _includes(old: Side | None, new: Side | None, a: str, b: str) -> list[dict[str, Any]]:
    """A line diff of each included file that differs between the two sides."""

    def texts(s: Side | None) -> dict[str, str]:
        if s is None:
            return {}
        return collect_includes([m.source for m in s.prompt.messages], s.loader)[0]

    ot, nt = texts(old), texts(new)
    out = []
    for name in sorted(set(ot) | set(nt)):
        o, n = ot.get(name), nt.get(name)
        if o == n:
            continue
        status = "added" if o is None else ("removed" if n is None else "changed")
        out.append(
            {
                "path": name,
                "status": status,
                "diff": _udiff(o or "", n or "", f"{a} ({name})", f"{b} ({name})"),
            }
        )
    return out


def _render_diff(
    old: Side | None,
    new: Side | None,
    variables: dict[str, Any] | None,
    a: str,
    b: str,
    limits: dict[str, Any],
) -> list[dict[str, Any]]:
    def render(s: Side | None) -> tuple[list[tuple[str, str]], str | None]:
        if s is None:
            return [], None
        values = {**(s.prompt.sample or {}), **(variables or {})}  # given vars over the sample
        try:
            msgs = s.prompt.render(values, loader=s.loader, **limits)
        except RenderError as e:
            return [], str(e)
        return [(m["role"], content_text(m.get("content"))) for m in msgs], None

    (om, oerr), (nm, nerr) = render(old), render(new)
    out = _messages(om, nm, a, b)
    if oerr or nerr:
        out.append(
            {
                "index": 0,
                "role": "",
                "status": "error",
                "diff": "; ".join(f"{n}: {e}" for n, e in ((a, oerr), (b, nerr)) if e),
            }
        )
    return out


def working_side(ws: Workspace, ident: str, ref: str) -> Side:
    """The working-tree file of a prompt (id or path), as the side ``ref`` of a diff."""
    prompt = ws.prompt(ident)
    return Side.of(ref, Resolved(prompt, ws.loader, working_version(ws, prompt)))


def changed_since(ws: Workspace, base: str) -> list[tuple[Side | None, Side | None]]:
    """Every prompt whose content differs between ``base`` and the working tree (found by
    content hash; only those are parsed, their old sides read through one cat-file)."""
    h = history(ws, base)
    builder = FactsBuilder(lambda p: glob_for(ws.config, p))
    live = {e.key for e in h.live()}
    seen: set[int] = set()
    todo = []
    for pf in ws.files():
        key = h.key_for(pf.path, pf.id)
        old = h.latest_of(key) if key is not None and key in live else None
        if key is not None:
            seen.add(key)
        try:
            text = (ws.root / pf.path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = None
        if (
            old is not None
            and text is not None
            and old.path == pf.path
            and builder.from_text(text, pf.path, ws.loader).content_hash == old.content_hash
        ):
            continue
        todo.append((pf, old))
    gone = [h.latest_of(k) for k in sorted(live - seen)]
    pairs: list[tuple[Side | None, Side | None]] = []
    repo = Repo.of(ws)
    with BlobReader(ws.root) as reader:

        def side(v: Any) -> Side:
            prompt, loader = load_version(repo, v, reader)
            return Side(f"{v.id}@{base}", prompt.id, v.version, v.commit, v.path, prompt, loader)

        for pf, old in todo:
            try:
                before = side(old) if old is not None else None
            except LoomgitError:
                before = None
            pairs.append((before, working_side(ws, pf.path, pf.id)))
        for v in gone:
            if v is not None:
                pairs.append((side(v), None))
    return pairs
