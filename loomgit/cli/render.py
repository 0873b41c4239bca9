from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..errors import RenderError, UsageError
from .output import print_json, style


def coerce(vtype: str, name: str, raw: str) -> Any:
    """A ``--var`` string converted to the variable's declared type."""
    try:
        if vtype == "integer":
            return int(raw)
        if vtype == "number":
            return float(raw) if any(c in raw for c in ".eE") else int(raw)
        if vtype == "boolean":
            low = raw.lower()
            if low in ("true", "yes", "1", "on"):
                return True
            if low in ("false", "no", "0", "off"):
                return False
            raise ValueError(raw)
        if vtype in ("array", "object"):
            value = json.loads(raw)
            if not isinstance(value, list if vtype == "array" else dict):
                raise ValueError(raw)
            return value
    except ValueError:
        raise RenderError(f"--var {name}={raw}: not a valid {vtype}") from None
    return raw


def read_vars_file(path: str) -> dict[str, Any]:
    from .. import yamlio

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"--vars-file {path}: cannot read ({e})") from None
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(f"invalid JSON: {e.msg}", path=path, line=e.lineno) from None
    else:
        data = yamlio.plain(yamlio.load(text, path=path))
    if not isinstance(data, dict):
        raise UsageError("vars file must hold a mapping of variable names to values", path=path)
    return data


def collect_vars(prompt: Any, pairs: tuple[str, ...], vars_file: str | None) -> dict[str, Any] | None:
    """Variables from ``--vars-file`` and ``--var k=v`` (None: use the prompt's sample)."""
    if not pairs and not vars_file:
        return None
    values: dict[str, Any] = read_vars_file(vars_file) if vars_file else {}
    declared = prompt.variables or {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--var {pair!r}: expected NAME=VALUE")
        var = declared.get(name)
        values[name] = coerce(var.type, name, raw) if var is not None else raw
    return values


@click.command()
@click.argument("ref")
@click.option("--var", "pairs", multiple=True, metavar="NAME=VALUE", help="A variable (repeatable).")
@click.option("--vars-file", type=click.Path(dir_okay=False), help="Variables from a JSON or YAML file.")
@click.option("--json", "as_json", is_flag=True, help="Print {id, version, model, params, messages}.")
def render(ref: str, pairs: tuple[str, ...], vars_file: str | None, as_json: bool) -> int:
    """Render REF's messages (REF: an id, a path, or ID@VERSION|STAGE|COMMIT).

    Without --var or --vars-file the prompt's sample values are used.
    """
    from ..resolve import resolve
    from ..workspace import Workspace

    ws = Workspace()
    res = resolve(ws, ref)
    prompt = res.prompt
    values = collect_vars(prompt, pairs, vars_file)
    messages = prompt.render(values, loader=res.loader, max_chars=ws.config.render_max_chars,
                             timeout_s=ws.config.render_timeout_s)
    if as_json:
        print_json({"id": prompt.id, "version": res.version, "model": prompt.model,
                    "params": prompt.params, "messages": messages})
        return 0
    for i, m in enumerate(messages):
        if i:
            click.echo()
        click.echo(style(f"{m['role']}:", bold=True))
        click.echo(m["content"])
    return 0
