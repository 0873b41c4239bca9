"""The one YAML module: its libyaml fast path reads exactly what ruamel reads (values and
lines, YAML 1.2's core schema) and steps aside (None) whenever it could differ; every
YAML file and frontmatter block in the tree reads the same on both paths; limits hold."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest
from conftest import CORPUS, ROOT

from loomgit import _yaml
from loomgit.evals.suite import parse_suite
from loomgit.prompt.parse import split_frontmatter

SCALARS = [
    "yes",
    "no",
    "on",
    "off",
    "y",
    "true",
    "True",
    "TRUE",
    "tRue",
    "false",
    "null",
    "Null",
    "~",
    "",
    "017",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "+12",
    "-3",
    ".5",
    "1.",
    "1e3",
    "1.0e+3",
    "-2.5E-3",
    ".inf",
    "-.Inf",
    ".NaN",
    "12:30",
    "1,000",
    "3.14",
    "=",
    "'5'",
    '"007"',
    "!!str 5",
    "a: b",
    "- x",
    "café",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    "2002-12-14T21:59:43Z",
    "2001-1-5",
    '"\\u00e9\\n"',
    "'it''s'",
    "0o",
    "0x",
    "_1",
    "1__0",
    "+.5",
    "1e",
    "e3",
    ".",
    "-",
    "+",
]


DATETIMES = {"2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2002-12-14T21:59:43Z"}


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def lines(node: Any, path: str = "") -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    if isinstance(node, dict):
        for k, v in node.items():
            out[f"{path}/{k}"] = _yaml.line_of(node, k)
            out.update(lines(v, f"{path}/{k}"))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out[f"{path}[{i}]"] = _yaml.line_of(node, i)
            out.update(lines(v, f"{path}[{i}]"))
    return out


def assert_same(text: str) -> None:
    fast = _yaml.fast_load(text)
    slow = _yaml.load_roundtrip(text)
    if fast is None:
        return  # stepped aside: ruamel reads it
    assert same(_yaml.plain(fast), _yaml.plain(slow)), text
    assert lines(fast) == lines(slow), text


@pytest.mark.parametrize("scalar", SCALARS)
def test_scalars_resolve_as_ruamel_does(scalar: str) -> None:
    for doc in (
        f"k: {scalar}\n",
        f"- {scalar}\n",
        f"{{k: [{scalar}]}}\n" if "," not in scalar else "k: 1\n",
    ):
        try:
            _yaml.load_roundtrip(doc)
        except _yaml.YamlError:
            continue  # ruamel refuses it: parse_suite reports ruamel's error either way
        if "!!" not in scalar and scalar not in DATETIMES:  # those are left to ruamel
            assert _yaml.fast_load(doc) is not None, (
                doc
            )  # it did read it, so the check means something
        assert_same(doc)


def test_every_suite_in_the_tree_reads_the_same() -> None:
    files = [
        *ROOT.glob("templates/*.yaml"),
        *(CORPUS / "evals").glob("*.yaml"),
        *ROOT.glob("tests/**/*.tests.yaml"),
    ]
    assert len(files) > 10
    for f in files:
        text = f.read_bytes().decode("utf-8", "replace")
        try:
            _yaml.load_roundtrip(text)
        except _yaml.YamlError:
            continue
        assert_same(text)


def test_block_flow_anchors_and_multiline() -> None:
    assert_same("""# comment
providers: [echo, 'mock/x']
defaults: &d
  assert:
    - not_contains: "As an AI"   # trailing comment
cases:
  - name: one
    vars:
      ticket: |
        line one
        line two
      n: 3
    assert:
      - contains: >-
          folded
          text
      - {regex: '^\\d+$', weight: 0.5}
  - name: two
    vars: {ticket: "x", list: [1, 2.5, null, yes]}
    assert: []
  -
    name: three
    vars: *d
extra: ~
""")


def test_steps_aside_when_unsure() -> None:
    for doc in (
        "a: 1\na: 2\n",  # duplicate key: ruamel's error message
        "base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n",  # merge keys
        "a: !!int '5'\n",  # explicit tags
        "--- 1\n--- 2\n",  # several documents
        "a: [1, 2\n",  # syntax error
        "? [1, 2]\n: x\n",
    ):  # complex key
        assert _yaml.fast_load(doc) is None, doc


def test_large_suite_is_parsed_fast_and_identically(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [
        {
            "name": f"c{i}",
            "vars": {
                "ticket": f"printer {i} on floor {i % 9}",
                "n": i,
                "flag": i % 2 == 0,
                "nothing": None,
            },
            "assert": [{"icontains": "printer"}, {"regex": f"{i}$", "weight": 0.5}],
        }
        for i in range(1000)
    ]
    block = "gate: all_pass\ncases:\n" + "".join(
        f'  - name: c{i}\n    vars:\n      ticket: "printer {i}"\n      n: {i}\n'
        f'    assert:\n      - icontains: printer\n      - not: {{contains: "x{i}"}}\n'
        for i in range(1000)
    )
    for text in (json.dumps({"cases": cases}), block):
        assert_same(text)
        # the fast path reads it alone: ruamel (about 20x slower) is never started
        with monkeypatch.context() as m:
            m.setattr(_yaml, "_ruamel", lambda *a, **k: pytest.fail("ruamel read the suite"))
            fast_suite, problems = parse_suite(text, "big.tests.yaml")
        assert fast_suite is not None and problems == []
        fast = _yaml._fast_load
        try:
            _yaml._fast_load = lambda *_a: None  # type: ignore[assignment]
            slow_suite, _ = parse_suite(text, "big.tests.yaml")
        finally:
            _yaml._fast_load = fast  # type: ignore[assignment]
        assert slow_suite == fast_suite


def _yaml_documents() -> list[tuple[str, str]]:
    """(name, text) of every YAML file and frontmatter block in the tree's tests, templates
    and docs."""
    out = []
    for f in sorted(
        {
            *ROOT.glob("tests/**/*.yaml"),
            *ROOT.glob("tests/**/*.yml"),
            *ROOT.glob("templates/**/*.yaml"),
            *ROOT.glob("*.yml"),
        }
    ):
        out.append((str(f.relative_to(ROOT)), f.read_bytes().decode("utf-8", "replace")))
    for f in sorted({*ROOT.glob("tests/**/*.prompt"), *ROOT.glob("tests/**/*.prompty")}):
        text = f.read_bytes().decode("utf-8", "replace").replace("\r\n", "\n")
        try:
            fm, _, _ = split_frontmatter(text, str(f))
        except Exception:
            continue
        if fm is not None:
            out.append((str(f.relative_to(ROOT)), fm))
    return out


def test_every_yaml_file_and_frontmatter_in_the_tree_reads_the_same() -> None:
    docs = _yaml_documents()
    assert len(docs) > 60
    read = 0
    for name, text in docs:
        try:
            slow = _yaml.load_roundtrip(text)
        except _yaml.YamlError:
            with pytest.raises(_yaml.YamlError):
                _yaml.load(text)
            continue
        fast = _yaml.fast_load(text)
        if fast is not None:
            read += 1
            assert same(_yaml.plain(fast), _yaml.plain(slow)), name
            assert lines(fast) == lines(slow), name
        assert same(_yaml.plain(_yaml.load(text)), _yaml.plain(slow)), name
    assert read > 40  # the fast path did read most of them


def _generated(seed: int, n: int) -> list[str]:
    """Small documents mixing block and flow layouts, quoting and scalar kinds."""
    rng = random.Random(seed)
    words = [
        s for s in SCALARS if s and ":" not in s and "," not in s and not s.startswith(("-", "!"))
    ]

    def value(depth: int) -> str:
        r = rng.random()
        if depth > 2 or r < 0.5:
            return rng.choice(words)
        if r < 0.75:
            return "[" + ", ".join(rng.choice(words) for _ in range(rng.randint(0, 3))) + "]"
        return "{" + ", ".join(f"k{i}: {rng.choice(words)}" for i in range(rng.randint(0, 3))) + "}"

    docs = []
    for _ in range(n):
        lines_ = []
        for i in range(rng.randint(1, 5)):
            if rng.random() < 0.3:
                lines_.append(f"key{i}:")
                lines_ += [f"  - {value(1)}" for _ in range(rng.randint(1, 3))]
            elif rng.random() < 0.3:
                lines_.append(f"key{i}:")
                lines_ += [f"  sub{j}: {value(1)}" for j in range(rng.randint(1, 3))]
            else:
                lines_.append(f"key{i}: {value(0)}")
        docs.append("\n".join(lines_) + "\n")
    return docs


def test_generated_documents_read_the_same() -> None:
    for doc in _generated(7, 800):
        assert_same(doc)


def test_yaml_1_2_on_both_paths() -> None:
    doc = "a: yes\nb: no\nc: on\nd: off\ne: 017\nf: 0o17\ng: true\nh: ~\n"
    want = {"a": "yes", "b": "no", "c": "on", "d": "off", "e": 17, "f": 15, "g": True, "h": None}
    assert _yaml.plain(_yaml.fast_load(doc)) == want
    assert _yaml.plain(_yaml.load_roundtrip(doc)) == want


def test_limits_raise_yaml_errors_with_path_and_line(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi")
    )
    for load in (_yaml.load, _yaml.load_roundtrip):
        with pytest.raises(_yaml.YamlError, match="expands to more than") as e:
            load(bomb, path="bomb.yaml", line_offset=1)
        assert e.value.path == "bomb.yaml" and e.value.line is not None
    deep = "a: " + "[" * 300 + "]" * 300 + "\n"
    for load in (_yaml.load, _yaml.load_roundtrip):
        with pytest.raises(_yaml.YamlError, match="nests deeper than 200") as e:
            load(deep, path="deep.yaml")
        assert e.value.line == 1
    for load in (_yaml.fast_load, _yaml.load_roundtrip):  # recursive: refused on both
        with pytest.raises(_yaml.YamlError, match="recursive structure") as e:
            load("a: 1\nb: &a [1, *a]\n", path="loop.yaml")
        assert e.value.line == 2
    monkeypatch.setattr(_yaml, "LIMITS", _yaml.Limits(max_chars=10))
    with pytest.raises(_yaml.YamlError, match="too large") as e:
        _yaml.load("a: 12345678901\n", path="big.yaml", line_offset=1)
    assert (e.value.path, e.value.line) == ("big.yaml", 2)


def test_history_does_not_load_heavy_libraries() -> None:
    import subprocess
    import sys

    code = (
        "import sys, loomgit.history, loomgit.refs\n"
        "print([m for m in ('jinja2', 'jsonschema', 'ruamel.yaml', 'yaml') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
