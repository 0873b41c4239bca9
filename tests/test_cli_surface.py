"""Every command and option of the CLI, pinned.

The README is the contract: a command, option or flag may change only with a README line
saying why. This test compares the CLI's surface with tests/fixtures/cli_surface.json;
after an intended change, regenerate it with ``LOOMGIT_UPDATE_SNAPSHOTS=1 pytest
tests/test_cli_surface.py`` and say why in the README and the commit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from loomgit.cli import cli

SNAPSHOT = Path(__file__).parent / "fixtures" / "cli_surface.json"


def _surface(cmd: click.Command, name: str, out: dict[str, Any]) -> None:
    out[name] = sorted(
        (
            {
                "name": p.name,
                "opts": sorted([*p.opts, *p.secondary_opts]),
                "kind": type(p).__name__,
                "type": p.type.name,
                "multiple": bool(getattr(p, "multiple", False)),
                "flag": bool(getattr(p, "is_flag", False)),
                "required": p.required,
            }
            for p in cmd.params
        ),
        key=lambda p: str(p["name"]),
    )
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for sub in cmd.list_commands(ctx):
            child = cmd.get_command(ctx, sub)
            assert child is not None, f"{name} {sub}: listed but cannot be loaded"
            _surface(child, f"{name} {sub}", out)


def test_every_command_and_option_is_unchanged() -> None:
    got: dict[str, Any] = {}
    _surface(cli, "loomgit", got)
    if os.environ.get("LOOMGIT_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    want = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert sorted(got) == sorted(want), "commands added or removed"
    for name in want:
        assert got[name] == want[name], f"options of {name!r} changed"
