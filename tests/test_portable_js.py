"""Generated templates of the portable subset render the same in loomgit and in the
JavaScript loader (clients/js/src/render.js, run by ``node``; skipped without it): text
around every mix of whitespace control, comments, raw blocks, conditions, loops and
values of every JSON kind, and the same error line when a key is missing."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo

from loomgit.errors import LoomgitError
from loomgit.prompt.jinja import cached_env, render_source
from loomgit.prompt.parts import MessageTemplate
from loomgit.prompt.portable import portable_problems

ROOT = Path(__file__).resolve().parent.parent
NODE = shutil.which("node")
VALUES: dict[str, Any] = {
    "s": "x",
    "n": 2,
    "f": 0.25,
    "e": "",
    "z": 0,
    "l": ["a", 1, None, True, 0.5, "it's"],
    "d": {"k": "v", "n": [1, {"q": "é"}], "t": False},
    "u": "ü\u200b\t\\",
    "m": {},
}
EXPRS = [
    "s", "n", "f", "e", "z", "l", "d", "u", "m", "d.k", "d.n", "d['k']", "d.n[1].q",
    "l[0]", "l[-1]", "l[5]", "s == 'x'", "n != 2", "not e", "e or s", "s and n",
    "z or m", "d.t == false", "n == 2", "(n == 2) or f", "none", "true", "1.5", "1e-5",
    "'q\\'s'", '"a\\nb"', "not not l", "l == l", "d == d", "d.zz", "s.nope",
    "'\\x41\\101\\a\\u00e9\\U0001F600\\7'", "'é\\t\\\\'",
]  # fmt: skip
TEXT = [
    "a",
    " ",
    "\n",
    "  \n",
    "\t",
    "x y",
    "\n\n",
    " \n ",
    "}",
    "%",
    "{ ",
    "\u3000",
    "\xa0\x1c",
    "\u200b",
    "\ufeff",
    "\r\n",
]


def _mark() -> str:
    return random.choice(["", "", "-"])


def _bmark() -> str:  # a block tag's: "+" too (no effect with trim/lstrip_blocks off)
    return random.choice(["", "", "-", "+"])


def _gen(depth: int, loop: bool) -> str:
    out = []
    for _ in range(random.randint(1, 5)):
        r = random.random()
        if r < 0.35:
            out.append(random.choice(TEXT))
        elif r < 0.6:
            e = "loop.index" if loop and random.random() < 0.2 else random.choice(EXPRS)
            out.append("{{" + _mark() + " " + e + " " + _mark() + "}}")
        elif r < 0.67:
            out.append("{#" + _mark() + " c " + _mark() + "#}")
        elif r < 0.72:
            out.append("{%" + _mark() + " raw " + _mark() + "%} {{ r }} {%" + _mark())
            out.append(" endraw " + _mark() + "%}")
        elif r < 0.87 and depth < 3:
            out.append("{%" + _bmark() + " if " + random.choice(EXPRS[:24]) + " " + _bmark() + "%}")
            out.append(_gen(depth + 1, loop))
            if random.random() < 0.4:
                out.append("{%" + _mark() + " elif " + random.choice(EXPRS[:24]) + " " + _mark())
                out.append("%}" + _gen(depth + 1, loop))
            if random.random() < 0.5:
                out.append("{%" + _mark() + " else " + _mark() + "%}" + _gen(depth + 1, loop))
            out.append("{%" + _mark() + " endif " + _mark() + "%}")
        elif depth < 3:
            it = random.choice(["l", "d", "s", "d.n", "m", "e"])
            out.append("{%" + _bmark() + f" for it in {it} " + _bmark() + "%}")
            out.append(random.choice(["{{ it }}", "[{{ loop.index0 }}{{ loop.last }}]", "-"]))
            out.append(_gen(depth + 1, True))
            if random.random() < 0.3:
                out.append("{% else %}" + _gen(depth + 1, loop))
            out.append("{%" + _mark() + " endfor " + _mark() + "%}")
    return "".join(out)


class _Msgs:
    def __init__(self, source: str) -> None:
        self.path = "p.prompt"
        self.messages = (MessageTemplate("user", source, 1),)
        self.variables = None


def _python(source: str) -> dict[str, str]:
    try:
        return {"out": render_source(source, VALUES, env=cached_env(), where=("p.prompt", 1))}
    except LoomgitError as e:
        return {"error": str(e)}


@pytest.mark.skipif(NODE is None, reason="no node on PATH (the JavaScript loader's tests)")
def test_generated_templates_render_the_same_in_javascript(tmp_path: Path) -> None:
    random.seed(18)
    templates = []
    for _ in range(1000):
        t = _gen(0, False)
        templates.append(t + random.choice(["", "\n", "\n\n", " \n"]))
    for t in templates:
        assert portable_problems(_Msgs(t)) == [], t
    want = [_python(t) for t in templates]
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps([{"template": t, "values": VALUES} for t in templates]))
    proc = subprocess.run(
        [str(NODE), str(ROOT / "clients/js/test/tools/render-batch.js"), str(batch)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    diffs = [(t, w, g) for t, w, g in zip(templates, want, got, strict=True) if w != g]
    assert not diffs, f"{len(diffs)} of {len(templates)} differ; first: {diffs[0]!r}"
    assert sum("error" in w for w in want) > 50  # the missing keys are among them
    assert sum("out" in w for w in want) > 500


def test_generated_includes_inline_to_the_same_text() -> None:
    """Included files of every shape, with whitespace control on the include tags, at
    the edges of the included files and on their neighbours: the inlined template
    renders (with no loader) exactly what the includes render."""
    from loomgit.prompt.portable import inline_includes

    random.seed(19)
    for _ in range(600):
        files = {
            f"inc/{i}.md": _gen(1, False) + random.choice(["", "\n", "\n\n", " "]) for i in range(3)
        }
        files["inc/2.md"] = random.choice([" ", "\n", ""]) + files["inc/2.md"]
        files["inc/2.md"] = files["inc/2.md"].replace("x y", '{% include "inc/0.md" %}', 1)

        def inc(i: int) -> str:
            return "{%" + _mark() + f' include "inc/{i}.md" ' + _mark() + "%}"

        edge = ["", "{{- s }}", "{{ s -}}", "{%- if s %}y{% endif -%}", "{# c -#}", "{#- c #}"]
        ws = ["", " ", "\n", " \n ", "\n\n"]
        parts = [_gen(1, False), random.choice(edge), random.choice(ws), inc(random.randrange(3))]
        parts += [random.choice(ws), random.choice(edge), random.choice(TEXT), inc(2)]
        parts += [random.choice(ws), random.choice(edge)]
        source = "".join(parts)
        want = _python_with(source, files.get)
        flat = inline_includes(source, files.get)
        assert "include" not in flat, source
        got = _python_with(flat, None)
        # an error's line is the inlined text's, not the included file's (docs/bundle.md)
        assert _unlined(got) == _unlined(want), (want, got, source, files, flat)


def _unlined(outcome: dict[str, str]) -> dict[str, str]:
    return {k: re.sub(r"^p\.prompt:\d+: ", "p.prompt: ", v) for k, v in outcome.items()}


def _python_with(source: str, loader: Any) -> dict[str, str]:
    try:
        return {"out": render_source(source, VALUES, env=cached_env(loader), where=("p.prompt", 1))}
    except LoomgitError as e:
        return {"error": str(e)}


@pytest.mark.skipif(NODE is None, reason="no node on PATH (the JavaScript loader's tests)")
def test_an_exported_bundle_renders_the_same_in_javascript(
    repo: GitRepo, cli: Any, tmp_path: Path
) -> None:
    """The whole way: prompts committed and promoted, ``loomgit export``, then the
    JavaScript loader and ``loomgit.load()`` render every case of the shared fixtures
    from that bundle with the same result."""
    import loomgit
    from loomgit.app.bundle import clear_cache

    fixtures = ROOT / "tests/fixtures/portable"
    files = {f"prompts/{p.name}": p.read_text() for p in (fixtures / "prompts").iterdir()}
    files |= {f"shared/{p.name}": p.read_text() for p in (fixtures / "shared").iterdir()}
    files["loomgit.yaml"] = (
        'prompts: ["prompts/**/*.prompt", {glob: "prompts/*.md", template: none, role: system}]\n'
        "includes: [shared/]\n"
    )
    repo.commit("prompts", files)
    cases = json.loads((fixtures / "cases.json").read_text())
    for ident in cases:
        r = cli(["promote", ident, "latest", "--to", "staging"], cwd=repo.path)
        assert r.exit_code == 0, r.err
    bundle = tmp_path / "prompts.json"
    assert cli(["export", "--stage", "staging", "-o", str(bundle)], cwd=repo.path).exit_code == 0
    todo = [{"id": i, "variables": c["variables"]} for i, cs in cases.items() for c in cs]
    (tmp_path / "cases.json").write_text(json.dumps(todo))
    proc = subprocess.run(
        [
            NODE,
            str(ROOT / "clients/js/test/tools/render-bundle.js"),
            str(bundle),
            str(tmp_path / "cases.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    clear_cache()
    want = []
    for c in todo:
        try:
            want.append(
                {
                    "messages": loomgit.load(c["id"], stage="staging", bundle=bundle).render(
                        c["variables"]
                    )
                }
            )
        except loomgit.LoomgitError as e:
            want.append({"error": str(e)})
    assert json.loads(proc.stdout) == want
    assert len(want) > 20 and sum("error" in w for w in want) >= 5
