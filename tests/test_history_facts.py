"""The prompt format's fast paths (used by history) give exactly what the plain
implementation gives: frontmatter splitting, message splitting, content hashes, top-level
YAML blocks and plain block values are checked against the parser's own functions and
the YAML module on many generated inputs."""

from __future__ import annotations

import random

import pytest

from loomgit import _yaml
from loomgit.errors import LoomgitError
from loomgit.history.bump import bump, classify_facts
from loomgit.history.facts import FactsBuilder, facts_from_prompt
from loomgit.prompt.frontmatter import (
    simple_block,
    split_blocks,
    split_frontmatter,
    split_frontmatter_by_lines,
)
from loomgit.prompt.parse import _fast_messages, parse_prompt, split_messages
from loomgit.prompt.parts import content_hash, normalize_text

LINES = [
    "---",
    "--- ",
    "...",
    "a: 1",
    "",
    "  ",
    "system:",
    "user:",
    " USER: ",
    "Assistant :",
    "text {{ x }}",
    "{# c #}",
    "x  ",
    "\t",
    "é",
    "---x",
    "\x1c",
    "\r",
    "{% include 'p.md' %}",
    "\u00a0",
    "\ufeff",
    "id: x",
]


def texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        t = "\n".join(rng.choice(LINES) for _ in range(rng.randint(0, 9)))
        out.append(t + ("\n" if rng.random() < 0.5 else ""))
    return out


def test_split_front_equals_the_parser() -> None:
    for t in texts(1, 20_000):
        try:
            want = split_frontmatter_by_lines(t, "p")
        except LoomgitError as e:
            with pytest.raises(LoomgitError, match=e.message):
                split_frontmatter(t, "p")
            continue
        assert split_frontmatter(t, "p") == want, repr(t)


def _reference_hash(text: str, includes: dict[str, str]) -> str:
    import hashlib

    h = hashlib.sha256(normalize_text(text).encode("utf-8"))
    for name in sorted(includes):
        h.update(b"\0include\0" + name.encode("utf-8") + b"\0")
        h.update(normalize_text(includes[name]).encode("utf-8"))
    return h.hexdigest()


def test_content_hash_fast_path_equals_the_definition() -> None:
    rng = random.Random(2)
    chars = [
        "a",
        " ",
        "\t",
        "\n",
        "\r",
        "\x0b",
        "\x0c",
        "\x1c",
        "\x1f",
        "é",
        "\u00a0",
        "\ufeff",
        "-",
        "\x85",
        "\u2028",
    ]
    samples = texts(3, 5_000) + [
        "".join(rng.choice(chars) for _ in range(rng.randint(0, 12))) for _ in range(20_000)
    ]
    for t in samples:
        assert content_hash(t) == _reference_hash(t, {}), repr(t)
    assert content_hash("x", {"p.md": "y"}) == _reference_hash("x", {"p.md": "y"})


def test_fast_messages_equal_the_parser_when_they_answer() -> None:
    answered = 0
    for t in texts(4, 20_000):
        got = _fast_messages(t)
        if got is None:
            continue
        answered += 1
        assert got == tuple((m.role, m.source) for m in split_messages(t, 1, "p")), repr(t)
    assert answered > 1000


def _blocks_by_lines(fm: str) -> list[tuple[str, str]] | None:
    """The obvious line-by-line definition split_blocks must equal."""
    import re

    key = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*:(?:[ \t]|$)")
    blocks: list[tuple[str, list[str]]] = []
    for line in fm.split("\n"):
        if not line or line[0] in " \t#":
            if blocks:
                blocks[-1][1].append(line)
            continue
        m = key.match(line)
        if m is None:
            if line[0] == "-" and blocks:
                blocks[-1][1].append(line)
                continue
            return None
        blocks.append((m.group(1), [line]))
    return [(k, "\n".join(ls)) for k, ls in blocks]


def test_split_blocks() -> None:
    rng = random.Random(5)
    parts = [
        "a: 1",
        "b:",
        "  - x",
        "- y",
        "# c",
        "",
        " ",
        "\t",
        "c: {x: 1}",
        '"q": 1',
        "d.e: 2",
        "x",
        "f:x",
        "g :",
        "h:\tv",
    ]
    for _ in range(20_000):
        t = "\n".join(rng.choice(parts) for _ in range(rng.randint(0, 7)))
        assert split_blocks(t) == _blocks_by_lines(t), repr(t)


ATOMS = [
    "0",
    "-0",
    "1",
    "-3",
    "0.5",
    "007",
    "1.0",
    "1e3",
    ".5",
    "1_0",
    "yes",
    "No",
    "on",
    "OFF",
    "null",
    "Null",
    "~",
    "true",
    "False",
    "abc",
    "a b",
    "a: b",
    "a #c",
    "x/y",
    "openai/gpt-4o",
    "It's",
    "-",
    "1.2.3",
    "0x1F",
    "1:30",
    "a,b",
    "é",
    " ",
    "",
    "Hello.",
    "!x",
    "&a",
    "*a",
    "'q'",
    '"q"',
    "'it''s'",
    '"a\\"b"',
    "'a, b'",
    "[a]",
    "{a: 1}",
    "a:",
    "2001-12-14",
    "-.5",
    "+1",
    "12:30:00",
    "1.",
    "NaN",
    ".inf",
    "y",
    "n",
    "Y",
    "3 items",
    "[]",
    "{}",
    "[a, [b]]",
    "{a: {b: 1}}",
    "a b, c",
    "true x",
    "yes.",
    "(x)",
    "a;b",
    "%x",
    "@x",
    "`x",
]


def test_plain_blocks_read_as_the_yaml_module_reads_them() -> None:
    rng = random.Random(6)

    def value(depth: int = 0) -> str:
        r = rng.random()
        if r < 0.5 or depth > 1:
            return rng.choice(ATOMS)
        if r < 0.75:
            return (
                "{"
                + ", ".join(
                    f"{rng.choice(['a', 'b', 'type', 'enum'])}: {value(depth + 1)}"
                    for _ in range(rng.randint(0, 3))
                )
                + rng.choice(["}", " }", ""])
            )
        return (
            "["
            + ", ".join(value(depth + 1) for _ in range(rng.randint(0, 3)))
            + rng.choice(["]", " ]", ""])
        )

    def block() -> str:
        key = rng.choice(["description", "params", "tags", "variables", "k"])
        r = rng.random()
        if r < 0.5:
            return f"{key}: {value()}" + rng.choice(["", " "])
        ind = rng.choice(["  ", "    ", "", " "])
        if r < 0.75:
            return (
                f"{key}:"
                + rng.choice(["", " "])
                + "".join(
                    f"\n{ind}{rng.choice(['a', 'b', 'x_1'])}: {value()}"
                    for _ in range(rng.randint(1, 3))
                )
                + rng.choice(["", "\n"])
            )
        return (
            f"{key}:"
            + "".join(f"\n{ind}- {value()}" for _ in range(rng.randint(1, 3)))
            + rng.choice(["", "\n", "\n  x"])
        )

    accepted = 0
    for _ in range(30_000):
        text = block()
        got = simple_block(text)
        if got is None:
            continue
        accepted += 1
        assert repr(got) == repr(_yaml.plain(_yaml.load(text))), text
    assert accepted > 6000
    assert simple_block(
        "variables:\n  ticket: {type: string, required: true}\n"
        "  tone: {type: string, enum: [formal, casual], default: formal}"
    ) == {
        "variables": {
            "ticket": {"type": "string", "required": True},
            "tone": {"type": "string", "enum": ["formal", "casual"], "default": "formal"},
        }
    }


PROMPTS = [
    "---\ndescription: d\nmodel: openai/gpt-4o\nparams: {temperature: 0.2}\nvariables:\n"
    "  a: {type: string}\n  b: {type: integer, default: 3}\n  c: {enum: [x, y], default: x}\n"
    "tags: [t]\noutput:\n  format: json\n  schema: {type: object, properties: {s: {type: string}}}\n"
    "---\nsystem:\nHi {{ a }} {{ b }} {{ c }}\n\nuser:\nGo\n",
    "No frontmatter, {{ who }} and {% if flag %}yes{% endif %}\n",
    "---\ninputs:\n  q:\n    type: string\n    sample: hi\n---\nuser:\n{{ q }}\n",
    "---\nmodel:\n  api: chat\n  configuration: {type: azure_openai, azure_deployment: gpt-4o}\n"
    "  parameters: {max_tokens: 5}\n---\nsystem:\nx\n",
    "---\nid: fixed/name\nsample: {a: 1}\nextra: [1, 2]\n---\nassistant:\nok {{ a }}\n",
]


@pytest.mark.parametrize("text", PROMPTS)
def test_history_facts_equal_the_parsed_prompts(text: str) -> None:
    fast = FactsBuilder().from_text(text, "p.prompt")
    full = facts_from_prompt(parse_prompt(text, "p.prompt"))
    for name in (
        "ok",
        "content_hash",
        "model",
        "params",
        "output_format",
        "output_schema",
        "description",
        "tags",
        "sample",
        "other",
        "messages",
    ):
        assert getattr(fast, name) == getattr(full, name), name
    assert {k: v.to_dict() for k, v in fast.interface.items()} == {
        k: v.to_dict() for k, v in full.interface.items()
    }
    assert classify_facts(fast, full) == ("patch", ["whitespace only"])


def test_bump() -> None:
    assert [bump("1.2.3", c) for c in ("major", "minor", "patch")] == ["2.0.0", "1.3.0", "1.2.4"]
    assert bump("1.3.0-dev.2+abc1234", "patch") == "1.3.1"
    with pytest.raises(ValueError):
        bump("one", "patch")


def test_strip_source_fast_path() -> None:
    import re

    from loomgit.history.facts import strip_source

    comment = re.compile(r"\{#.*?#\}", re.DOTALL)
    for t in texts(7, 20_000):
        want = "\n".join(ln.rstrip() for ln in comment.sub("", t).split("\n")).strip("\n")
        assert strip_source(t) == want, repr(t)
