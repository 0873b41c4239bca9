"""Schema and validator, key by key: every key a schema knows, given a value of each JSON
type in an otherwise valid file, is accepted or refused by both alike, except where the
difference is one listed here with its reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_schemas import validator_rejects

from loomgit import schemas
from loomgit.evals.assertions.registry import BUILTIN

# (kind, file, a valid document, the path of the mapping whose keys are probed)
PLACES: list[tuple[str, str, dict[str, Any], tuple[str | int, ...]]] = [
    ("config", "loomgit.yaml", {}, ()),
    ("config", "loomgit.yaml", {"prompts": [{"glob": "p/*.md"}]}, ("prompts", 0)),
    ("config", "loomgit.yaml", {"providers": {"p": {"type": "echo"}}}, ("providers", "p")),
    ("config", "loomgit.yaml", {"cache": {}}, ("cache",)),
    ("config", "loomgit.yaml", {"eval": {}}, ("eval",)),
    ("config", "loomgit.yaml", {"experiments": {}}, ("experiments",)),
    ("suite", "p/x.tests.yaml", {"cases": [{}]}, ()),
    ("suite", "p/x.tests.yaml", {"cases": [{}]}, ("cases", 0)),
    ("suite", "p/x.tests.yaml", {"cases": [{}], "defaults": {}}, ("defaults",)),
    ("suite", "p/x.tests.yaml", {"cases": [{"assert": [{"contains": "a"}]}]}, ("cases", 0, "assert", 0)),
    ("suite", "p/x.tests.yaml", {"cases": [{}], "gate": {"weighted": True}}, ("gate",)),
    ("experiment", "experiments/x.yaml", {"prompt": "p", "variants": {"a": "p@1", "b": "p@2"}, "metric": "rate", "min_samples": 10}, ()),
    ("experiment", "experiments/x.yaml", {"prompt": "p", "variants": {"a": {"ref": "p@1"}, "b": {"ref": "p@2"}}, "metric": "rate", "min_samples": 10}, ("variants", "a")),
    ("experiment", "experiments/x.yaml", {"prompt": "p", "variants": {"a": "p@1", "b": "p@2"}, "metric": {"type": "rate"}, "min_samples": 10}, ("metric",)),
    ("pipeline", "pipelines/x.yaml", {"prompt": "p", "input": "in.csv", "output": "out.jsonl"}, ()),
    ("prompt", "prompts/x.prompt", {}, ()),
    ("prompt", "prompts/x.prompt", {"variables": {"v": {}}}, ("variables", "v")),
    ("prompt", "prompts/x.prompt", {"output": {}}, ("output",)),
]  # fmt: skip
VALUES: list[Any] = [None, True, 1, 1.5, "x", [], ["x"], {}, {"a": 1}]

# Sections loomgit reads with ``Config.section()``: a value that is not a mapping is read
# as no settings at all. The schema marks it, since it is surely a mistake.
IGNORED_IF_NOT_MAPPING = {"cache", "ci", "defaults", "eval", "experiments", "replay"}
# Keys read as ``value or default``: an empty list or mapping counts as absent.
EMPTY_IS_ABSENT = {
    ("suite", (), "defaults"),
    ("suite", (), "distribution"),
    ("suite", ("cases", 0), "tags"),
    ("suite", ("cases", 0), "vars"),
    ("prompt", (), "tags"),
}
# What only loomgit can tell: the prompt and stages that exist, a check's syntax, an API
# key in the environment, a provider type that a plugin may add, a template's variables.
BEYOND_A_SCHEMA = {
    ("experiment", (), "prompt"): "a variant must be a version of prompt:",
    ("experiment", (), "promote_to"): "a stage of loomgit.yaml",
    ("experiment", ("variants", "a"), "ref"): "a version of prompt:",
    ("suite", (), "distribution"): "a check such as 'mean(score) >= 0.8'",
    ("config", ("providers", "p"), "type"): "a built-in, preset or plugin type",
    ("config", ("providers", "p"), "base_url"): "an http(s) URL",
    ("config", ("providers", "p"), "model"): "the model a bare name stands for",
    ("prompt", ("variables", "v"), "default"): "a value of the variable's type",
    ("prompt", ("variables", "v"), "enum"): "values of the variable's type",
}


def expected_difference(
    kind: str, at: tuple[str | int, ...], key: str, value: Any, schema_rejects: bool
) -> str | None:
    """Why schema and loomgit may disagree on this value, or None when they must not."""
    if kind == "config" and at == () and key in IGNORED_IF_NOT_MAPPING and schema_rejects:
        return "loomgit ignores a section that is not a mapping"
    if value in ([], {}) and (kind, at, key) in EMPTY_IS_ABSENT and schema_rejects:
        return "loomgit reads an empty value as absent"
    if kind == "config" and at == () and key == "pipelines" and schema_rejects:
        return "loomgit falls back to pipelines/ when the folder is not a text"
    if kind == "prompt" and at == () and key in ("id", "description") and schema_rejects:
        return "loomgit ignores an id that is not text, and shows any description as text"
    if (
        kind == "prompt"
        and at == ()
        and key in ("model", "output", "inputs")
        and not schema_rejects
    ):
        return "Prompty's forms (a model mapping, list-form inputs) are read by the formats"
    if kind == "config" and at == ("prompts", 0) and key in ("role", "template"):
        return "glob options: loomgit validates them where it applies them"
    if kind == "prompt" and at == ("variables", "v") and key in ("sample", "description"):
        return "loomgit keeps a variable's description and sample as given"
    if kind == "prompt" and at == ("output",) and key == "schema" and not schema_rejects:
        return "an output schema is checked as JSON Schema by check"
    if kind == "suite" and at[-2:] == ("assert", 0):
        if key == "name" and value is True:
            return "loomgit reads true as the number 1"
        if key == "not" and isinstance(value, dict) and not schema_rejects:
            return "the negated assertion names a plugin type or breaks its own rules"
    if kind == "config" and at == ("cache",) and key == "dir" and schema_rejects:
        return "loomgit turns a cache folder that is not text into text"
    if kind == "experiment" and key == "weight" and not schema_rejects:
        return "weights: every variant or none"
    reason = BEYOND_A_SCHEMA.get((kind, at, key))
    return reason if reason is not None and not schema_rejects else None


def node_at(schema: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
    """The object schema that describes the mapping at ``path`` of a document."""

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        for branch in node.get("oneOf") or node.get("anyOf") or []:
            branch = resolve(branch)
            if "object" in branch.get("type", ()) or "properties" in branch:
                return branch
        return node

    node = resolve(schema)
    for part in path:
        if isinstance(part, int):
            node = resolve(resolve(node)["items"] if "items" in node else one_array(node))
        elif part in node.get("properties", {}):
            node = resolve(node["properties"][part])
        else:
            node = resolve(node["additionalProperties"])
    return node


def one_array(node: dict[str, Any]) -> dict[str, Any]:
    for branch in node.get("oneOf") or node.get("anyOf") or []:
        if branch.get("type") == "array":
            found: dict[str, Any] = branch["items"]
            return found
    raise AssertionError(node)


def with_value(doc: Any, path: tuple[str | int, ...], key: str, value: Any) -> Any:
    doc = json.loads(json.dumps(doc))
    node = doc
    for part in path:
        node = node[part]
    if key in BUILTIN and path[-2:] == ("assert", 0):
        node.clear()  # an assertion names one type
    node[key] = value
    return doc


def text_of(kind: str, doc: Any) -> str:
    """The file: JSON is YAML 1.2; a prompt's body uses each declared variable."""
    if kind != "prompt":
        return json.dumps(doc) + "\n"
    names = doc.get("variables") if isinstance(doc.get("variables"), dict) else {}
    body = " ".join(f"{{{{ {n} }}}}" for n in names) or "hello"
    return f"---\n{json.dumps(doc)}\n---\n{body}\n"


CASES = [
    (kind, rel, base, at, key)
    for kind, rel, base, at in PLACES
    for key in sorted(node_at(schemas.load(kind), at)["properties"])
]


def test_the_probed_documents_are_valid() -> None:
    for kind, rel, base, _ in PLACES:
        assert schemas.problem(kind, base) is None, base
        assert not validator_rejects(rel, kind, text_of(kind, base)), base


@pytest.mark.parametrize(
    ("kind", "rel", "base", "at", "key"),
    CASES,
    ids=[f"{c[0]}:{'.'.join(map(str, (*c[3], c[4])))}" for c in CASES],
)
def test_schema_and_validator_agree_key_by_key(
    kind: str, rel: str, base: dict[str, Any], at: tuple[str | int, ...], key: str
) -> None:
    differ = []
    for value in VALUES:
        doc = with_value(base, at, key, value)
        schema_rejects = schemas.problem(kind, doc) is not None
        loomgit_rejects = validator_rejects(rel, kind, text_of(kind, doc))
        if schema_rejects != loomgit_rejects and not expected_difference(
            kind, at, key, value, schema_rejects
        ):
            differ.append(
                f"{json.dumps(value)}: schema {'refuses' if schema_rejects else 'accepts'}, "
                f"loomgit {'refuses' if loomgit_rejects else 'accepts'}"
            )
    assert differ == []
