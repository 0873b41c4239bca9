"""The memos of a history pass (loomgit.history.memo) give exactly what the functions
they stand in for give: the content hash with each included file normalized once, the
include names kept per text and the include-name check kept per name. Asked twice, on
purpose, so the second answer comes from the memo."""

from __future__ import annotations

import random

import pytest

from loomgit.history import memo
from loomgit.prompt.includes import Roots, name_allowed
from loomgit.prompt.parts import content_hash, include_names

TEXTS = [
    "plain\n",
    "no final newline",
    "\n\nsurrounded by blank lines\n\n\n",
    "trailing blanks  \nand a tab\t\nend",
    "crlf\r\nline ends\r\n",
    "lone\rcarriage return",
    "\ufeffa byte order mark\n",
    "unicode ünïcödé \u00a0\nnon-breaking space at the end\u00a0\n",
    "vertical\x0b tab\x0c form feed\x1c\x1d\x1e\x1f\n",
    '{% include "prompts/partials/tone.md" %}\n{{ x }}  \n',
    "",
    "\n",
]
INCLUDES = [
    None,
    {},
    {"prompts/partials/tone.md": "Formal.  \r\n"},
    {"b.md": "b\n", "a.md": "\ufeffa \n\n", "c/ü.md": "ü\u00a0"},
]


@pytest.mark.parametrize("includes", INCLUDES)
@pytest.mark.parametrize("text", TEXTS)
def test_content_hash_is_the_formats_own(text: str, includes: dict[str, str] | None) -> None:
    for _ in range(2):
        assert memo.content_hash(text, includes) == content_hash(text, includes)


def test_content_hash_on_random_texts() -> None:
    rng = random.Random(5)
    alphabet = ["a", " ", "\t", "\n", "\r", "\r\n", "\ufeff", "ü", "\u00a0", "{%", "\x0b"]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        inc = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        for includes in (None, {"p/i.md": inc}):
            assert memo.content_hash(text, includes) == content_hash(text, includes), repr(text)


@pytest.mark.parametrize(
    "source",
    [
        "no tags at all",
        '{% include "a.md" %}{%- import \'b.md\' as b %}{% from "c.md" import x %}',
        '{% extends "base.md" %}{% include name %}{% include ["x.md"] %}',
        "{{ '{%' }} include \"not.md\" %}",
    ],
)
def test_include_names_are_the_formats_own(source: str) -> None:
    for _ in range(2):
        assert list(memo.includes_of(source)) == include_names(source)


@pytest.mark.parametrize(
    "name",
    ["prompts/a.md", "../x.md", "/abs.md", "prompts/.git/x", "C:x", "other/a.md", "", "p\\a"],
)
def test_include_check_is_the_formats_own(name: str) -> None:
    for roots in (Roots(("prompts/",)), Roots(("prompts/",), ("other/",)), Roots(("",))):
        for _ in range(2):
            assert memo.allowed(name, roots) == name_allowed(name, roots)
