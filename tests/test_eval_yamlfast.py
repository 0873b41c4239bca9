"""The libyaml reader for large suites reads exactly what ruamel reads (values and lines),
and steps aside (None) whenever it could differ."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
from conftest import CORPUS, ROOT

from loomgit import yamlfast, yamlio
from loomgit.evals.suite import parse_suite

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
            out[f"{path}/{k}"] = yamlio.line_of(node, k)
            out.update(lines(v, f"{path}/{k}"))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out[f"{path}[{i}]"] = yamlio.line_of(node, i)
            out.update(lines(v, f"{path}[{i}]"))
    return out


def assert_same(text: str) -> None:
    fast = yamlfast.load(text)
    slow = yamlio.load(text)
    if fast is None:
        return  # stepped aside: ruamel reads it
    assert same(yamlio.plain(fast), yamlio.plain(slow)), text
    assert lines(fast) == lines(slow), text


@pytest.mark.parametrize("scalar", SCALARS)
def test_scalars_resolve_as_ruamel_does(scalar: str) -> None:
    for doc in (
        f"k: {scalar}\n",
        f"- {scalar}\n",
        f"{{k: [{scalar}]}}\n" if "," not in scalar else "k: 1\n",
    ):
        try:
            yamlio.load(doc)
        except yamlio.YamlError:
            continue  # ruamel refuses it: parse_suite reports ruamel's error either way
        if "!!" not in scalar:
            assert yamlfast.load(doc) is not None, (
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
            yamlio.load(text)
        except yamlio.YamlError:
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
        assert yamlfast.load(doc) is None, doc


def test_large_suite_is_parsed_fast_and_identically() -> None:
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
        t0 = time.perf_counter()
        fast_suite, problems = parse_suite(text, "big.tests.yaml")
        took = time.perf_counter() - t0
        assert fast_suite is not None and problems == []
        slow = yamlfast.load
        try:
            yamlfast.load = lambda _t: None  # type: ignore[assignment]
            slow_suite, _ = parse_suite(text, "big.tests.yaml")
        finally:
            yamlfast.load = slow  # type: ignore[assignment]
        assert slow_suite == fast_suite
        assert took < 1.0
