"""The published JSON Schemas agree with the validators: the same known keys, every example
of the README and docs/ valid, the corpus's structurally bad files rejected by both; and
`loomgit schema` / `loomgit init` hand them to editors."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from conftest import CORPUS, ROOT, GitRepo

import loomgit._yaml as _yaml
from loomgit import config as config_mod
from loomgit import schemas
from loomgit.batch import pipeline as pipeline_mod
from loomgit.batch.cost import parse_budget
from loomgit.config import Config, GlobSpec, parse_config
from loomgit.errors import LoomgitError
from loomgit.evals import dataset_model, gates, suite_model
from loomgit.evals.assertions import MODIFIERS
from loomgit.evals.assertions.registry import BUILTIN
from loomgit.evals.engine import EVAL_KEYS, check_eval_config
from loomgit.evals.suite import parse_suite
from loomgit.experiments import model as experiment_model
from loomgit.experiments.parse import parse_spec
from loomgit.experiments.spec import settings as experiment_settings
from loomgit.experiments.store import parse_url
from loomgit.inputs.record import FORMATS
from loomgit.prompt import fields as prompt_fields
from loomgit.prompt import validate as prompt_validate
from loomgit.prompt.frontmatter import load_frontmatter, split_frontmatter
from loomgit.prompt.parse import parse_prompt
from loomgit.prompt.parts import VARIABLE_TYPES
from loomgit.prompt.schema import schema_error
from loomgit.providers.cache import CACHE_KEYS, cache_from_config
from loomgit.providers.names import ENTRY_KEYS
from loomgit.providers.names import resolve as resolve_model

NAMES = list(schemas.NAMES)


def props(node: dict[str, Any]) -> set[str]:
    return set(node["properties"])


def ref(schema: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = schema["$defs"][name]
    return found


def one_of(node: dict[str, Any], kind: str) -> dict[str, Any]:
    """The branch of ``node``'s oneOf/anyOf that has ``type: kind``."""
    for branch in node.get("oneOf") or node.get("anyOf") or []:
        if branch.get("type") == kind:
            found: dict[str, Any] = branch
            return found
    raise AssertionError(f"no {kind} branch in {node}")


# -- the schemas themselves ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_each_schema_is_a_valid_2020_12_schema(name: str) -> None:
    schema = schemas.load(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema_error(schema) is None
    assert schema["title"] and schema["description"]


# -- (a) the same known keys as the validators ----------------------------------------------


def test_config_keys_are_the_validators() -> None:
    s = schemas.load("config")
    p = s["properties"]
    assert props(s) == set(config_mod.KNOWN_KEYS)
    glob_entry = ref(s, "glob_entry")
    # role and template are the glob options; GlobSpec holds each option it reads
    assert props(glob_entry) == {f.name for f in fields(GlobSpec)} | {"role", "template"}
    assert glob_entry["properties"]["role"]["enum"] == ["system", "user", "assistant"]
    assert glob_entry["properties"]["template"]["enum"] == ["jinja", "none"]
    render = {f.name[len("render_") :] for f in fields(Config) if f.name.startswith("render_")}
    assert props(p["render"]) == render
    assert props(ref(s, "provider")) == set(ENTRY_KEYS)
    assert props(p["cache"]) == set(CACHE_KEYS)
    assert props(p["eval"]) == set(EVAL_KEYS)
    assert props(p["experiments"]) == set(experiment_model.SETTINGS_KEYS)
    stages = p["stages"]["items"]["pattern"]
    assert stages == config_mod._STAGE_RE.pattern
    assert p["initial_version"]["pattern"] == config_mod._VERSION_RE.pattern


def test_prompt_keys_are_the_validators() -> None:
    s = schemas.load("prompt")
    assert props(s) == set(prompt_validate.KNOWN_KEYS)
    variable = ref(s, "variable")
    assert props(variable) == set(prompt_fields.VARIABLE_KEYS)
    assert variable["properties"]["type"]["enum"] == list(VARIABLE_TYPES)
    shorthand = ref(s, "variables")["additionalProperties"]["oneOf"][1]
    assert shorthand["enum"] == list(VARIABLE_TYPES)


def test_suite_keys_are_the_validators() -> None:
    s = schemas.load("suite")
    assert props(s) == suite_model.SUITE_KEYS
    assert props(ref(s, "case")) == suite_model.CASE_KEYS
    assert props(ref(s, "dataset")) == dataset_model.DATASET_KEYS
    assert ref(s, "dataset")["properties"]["format"]["enum"] == list(FORMATS)
    assert props(s["properties"]["defaults"]) == suite_model.DEFAULT_KEYS
    for node in (s["properties"]["repeat"], ref(s, "case")["properties"]["repeat"]):
        assert node["maximum"] == suite_model.MAX_REPEAT
    _gate_is_the_validators(s)
    _assertion_is_the_validators(s)


def _gate_is_the_validators(s: dict[str, Any]) -> None:
    gate = ref(s, "gate")
    rules = next(b["enum"] for b in gate["oneOf"] if "enum" in b)
    assert rules == list(gates.RULES) and set(rules) == suite_model.GATES
    assert props(one_of(gate, "object")) == set(gates.WEIGHTED_KEYS)


def _assertion_is_the_validators(s: dict[str, Any]) -> None:
    assert props(ref(s, "assertion")) == set(BUILTIN) | set(MODIFIERS)
    # plugin assertion types are not known in advance
    assert ref(s, "assertion").get("additionalProperties", True) is True


def test_experiment_keys_are_the_validators() -> None:
    s = schemas.load("experiment")
    assert props(s) == set(experiment_model.KEYS)
    variants = s["properties"]["variants"]
    assert variants["propertyNames"]["pattern"] == experiment_model.VARIANT_RE.pattern
    assert props(one_of(variants["additionalProperties"], "object")) == (
        experiment_model.VARIANT_KEYS
    )
    metric = s["properties"]["metric"]
    assert props(one_of(metric, "object")) == experiment_model.METRIC_KEYS
    assert set(metric["oneOf"][0]["enum"]) == set(experiment_model.METRIC_ALIASES)


def test_pipeline_keys_are_the_validators() -> None:
    s = schemas.load("pipeline")
    assert props(s) == set(pipeline_mod.KEYS)
    assert s["required"] == list(pipeline_mod.REQUIRED)
    assert s["properties"]["format"]["enum"] == list(FORMATS)
    assert s["$defs"]["gate"] == schemas.load("suite")["$defs"]["gate"]
    assert s["$defs"]["assertion"] == schemas.load("suite")["$defs"]["assertion"]


# -- (b) the documentation's examples are valid -------------------------------------------

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.S | re.M)
YAML_KINDS = ("config", "suite", "experiment", "pipeline")


def _top_keys(name: str) -> set[str]:
    return props(schemas.load(name))


def classify(block: str, data: Any) -> str | None:
    """Which of loomgit's formats a YAML example is: by a ``# FILE`` first line, else by
    its keys; None for other tools' YAML. Raises on a mapping made only of loomgit keys
    that is none of them (an example that lost its way)."""
    first = block.lstrip().split("\n", 1)[0]
    if first.startswith(schemas.MODELINE):  # names its schema
        return PurePosixPath(first[len(schemas.MODELINE) :]).stem
    marker = re.match(r"#\s*([\w./*{}-]+)", first)
    if marker:
        name = PurePosixPath(marker.group(1).rstrip(":"))
        if name.name == "loomgit.yaml":
            return "config"
        if name.name.endswith(".tests.yaml"):
            return "suite"
        if name.parts[0] in ("experiments", "pipelines") and name.suffix in (".yaml", ".yml"):
            return name.parts[0][:-1]
    if not isinstance(data, dict) or not data:
        return None
    keys = {str(k) for k in data}
    if "cases" in keys:
        return "suite"
    if "variants" in keys:
        return "experiment"
    if {"prompt", "input", "output"} & keys == {"prompt", "input", "output"}:
        return "pipeline"
    if keys <= _top_keys("config"):
        return "config"
    ours = set().union(*(_top_keys(k) for k in YAML_KINDS))
    if keys <= ours:
        raise AssertionError(f"an example made of loomgit keys that is no format: {block!r}")
    return None


def doc_examples() -> list[tuple[str, str, Any]]:
    """(where, kind, data) of every example of loomgit's formats in README.md and docs/."""
    out = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            lang, block = m.group(1), m.group(2)
            if lang not in ("", "yaml", "yml", "prompt"):
                continue
            where = f"{doc.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
            if block.startswith("---\n"):
                fm, _, _ = split_frontmatter(block, where)
                out.append((where, "prompt", load_frontmatter(fm or "")))
                continue
            try:
                data = _yaml.plain(_yaml.load(block, path=where))
            except LoomgitError:
                assert lang == "", f"{where}: a ```{lang} example that is not YAML"
                continue  # console output, diagrams
            kind = classify(block, data)
            if kind is not None:
                out.append((where, kind, data))
    return out


EXAMPLES = doc_examples()


def test_the_docs_have_examples_of_every_format() -> None:
    assert {kind for _, kind, _ in EXAMPLES} == set(NAMES)


@pytest.mark.parametrize(("where", "kind", "data"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_doc_example_validates_against_its_schema(where: str, kind: str, data: Any) -> None:
    assert schemas.problem(kind, data) is None, where


def test_a_doc_example_of_loomgit_keys_that_fits_no_format_fails() -> None:
    with pytest.raises(AssertionError, match="no format"):
        classify("stages: [a]\nvariant: x\ncases_: 1\nprompt: a\n", {"prompt": "a", "limit": 1})
    assert classify("on: push\njobs: {}\n", {"on": "push", "jobs": {}}) is None
    assert classify("# pipelines/x.yaml\n", {"prompt": "a"}) == "pipeline"
    modeline = schemas.modeline("experiment", "experiments/x.yaml")
    assert classify(f"{modeline}\nprompt: a\n", {"prompt": "a"}) == "experiment"


TEMPLATES = {
    "loomgit.yaml": "config",
    "summarize.tests.yaml": "suite",
    "summarize.prompt": "prompt",
    "new.prompt": "prompt",
}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_what_init_and_new_write_is_valid(name: str) -> None:
    text = (ROOT / "templates" / name).read_text(encoding="utf-8")
    if TEMPLATES[name] == "prompt":
        fm, _, _ = split_frontmatter(text, name)
        data = load_frontmatter(fm or "")
    else:
        data = _yaml.plain(_yaml.load(text, path=name))
    assert schemas.problem(TEMPLATES[name], data) is None


# -- (c) the corpus: bad structure is rejected by both -------------------------------------


def corpus_kind(rel: str) -> str | None:
    if rel.endswith(".prompt"):
        return "prompt"
    if rel.endswith(".tests.yaml"):
        return "suite"
    if rel.startswith("experiments/"):
        return "experiment"
    if rel.startswith("batch/pipelines/"):
        return "pipeline"
    if rel.startswith("providers/config/") or rel.endswith("/loomgit.yaml"):
        return "config"
    return None


def corpus_files() -> list[tuple[str, str, Any, str]]:
    """(file, kind, data, text) of each corpus file of loomgit's formats that is YAML."""
    out = []
    for p in sorted(CORPUS.rglob("*")):
        rel = p.relative_to(CORPUS).as_posix()
        kind = corpus_kind(rel) if p.is_file() else None
        if kind is None:
            continue
        try:
            text = p.read_bytes().decode("utf-8")
            if kind == "prompt":
                fm, _, _ = split_frontmatter(text, rel)
                data = load_frontmatter(fm) if fm is not None else {}
            else:
                data = _yaml.plain(_yaml.load(text, path=rel))
        except (UnicodeDecodeError, LoomgitError):
            continue  # not YAML: nothing a schema can say
        out.append((rel, kind, data, text))
    return out


def validator_rejects(rel: str, kind: str, text: str) -> bool:
    """Whether loomgit itself refuses the file (an error, or for frontmatter an unknown key)."""
    root = Path(".")
    try:
        if kind == "prompt":
            prompt = parse_prompt(text, rel)
            found = prompt_validate.validate_prompt(prompt, render_sample=False)
            return any(f.level == "error" or "unknown frontmatter key" in f.message for f in found)
        if kind == "suite":
            _, found = parse_suite(text, rel)
        elif kind == "experiment":
            _, found = parse_spec(text, rel, PurePosixPath(rel).stem, Config(root=root))
        elif kind == "pipeline":
            _, found = parse_pipeline_findings(text, rel)
        else:
            cfg = parse_config(text, root, rel)
            cache_from_config(cfg)
            check_eval_config(cfg.section("eval"))
            store = experiment_settings(cfg).get("store")
            if store is not None:
                parse_url(store)
            budget = cfg.raw.get("budget")
            parse_budget(
                budget.get("run", budget.get("default")) if isinstance(budget, dict) else budget
            )
            model = re.match(r"# model: (\S+)", text)
            models = [model.group(1)] if model else [f"{name}/m" for name in cfg.providers]
            keys = {
                e["api_key_env"]: "k"
                for e in cfg.providers.values()
                if isinstance(e.get("api_key_env"), str)
            }
            for name in models:
                resolve_model(name, cfg, env={"MY_GATEWAY_KEY": "k", **keys})
            return False
    except (LoomgitError, ValueError):
        return True
    return any(f.level == "error" for f in found)


def parse_pipeline_findings(text: str, rel: str) -> tuple[Any, list[Any]]:
    return pipeline_mod.parse_pipeline(text, rel)


CORPUS_FILES = corpus_files()

# Files whose problem is one of structure (an unknown key, a wrong type, a value out of
# range, a missing key): the schema must reject them too. The others' problems (a prompt
# that does not exist, a variant of another prompt, a bad regular expression...) are beyond
# what a schema says.
STRUCTURAL = {
    "batch/pipelines/bad_gate.yaml",
    "batch/pipelines/bad_values.yaml",
    "batch/pipelines/missing_required.yaml",
    "batch/pipelines/not_mapping.yaml",
    "batch/pipelines/unknown_key.yaml",
    "evals/bad_defaults.tests.yaml",
    "evals/bad_gate.tests.yaml",
    "evals/bad_repeat.tests.yaml",
    "evals/bad_weight.tests.yaml",
    "evals/empty.tests.yaml",
    "evals/no_cases.tests.yaml",
    "evals/not_a_mapping.tests.yaml",
    "evals/unknown_key.tests.yaml",
    "evals/vars_not_mapping.tests.yaml",
    "experiments/bad_confidence.yaml",
    "experiments/bad_direction.yaml",
    "experiments/bad_metric.yaml",
    "experiments/bad_variant_name.yaml",
    "experiments/bad_weight.yaml",
    "experiments/empty.yaml",
    "experiments/min_samples_one.yaml",
    "experiments/missing_min_samples.yaml",
    "experiments/not_mapping.yaml",
    "experiments/one_variant.yaml",
    "experiments/unknown_key.yaml",
    "history/bad_variable_type.prompt",
    "history/frontmatter_list.prompt",
    "hooks/bad-config/loomgit.yaml",
    "prompts/bad_variable_type.prompt",
    "prompts/dotprompt.prompt",
    "prompts/frontmatter_list.prompt",
    "prompts/params_not_mapping.prompt",
    "providers/config/api-key-in-yaml.yaml",
    "providers/config/bad-retries.yaml",
    "providers/config/key-env-not-a-name.yaml",
    "providers/config/params-list.yaml",
    "providers/config/unknown-key.yaml",
    "providers/config/zero-timeout.yaml",
    "tools/prompts/tool_bad_name.prompt",
    "tools/prompts/tool_not_object.prompt",
    "tools/prompts/tool_ref_absolute.prompt",
    "tools/prompts/tool_ref_extra_key.prompt",
    "tools/prompts/tool_unknown_key.prompt",
    "tools/prompts/tools_not_list.prompt",
}


def test_the_structural_list_names_corpus_files() -> None:
    assert STRUCTURAL <= {rel for rel, *_ in CORPUS_FILES}


@pytest.mark.parametrize(
    ("rel", "kind", "data", "text"), CORPUS_FILES, ids=[c[0] for c in CORPUS_FILES]
)
def test_schema_and_validator_agree_on_the_corpus(
    rel: str, kind: str, data: Any, text: str
) -> None:
    rejected = schemas.problem(kind, data) is not None
    if rel in STRUCTURAL:
        assert rejected, f"{rel}: the schema accepts what loomgit rejects for its structure"
    if rejected:  # the schema is never stricter than loomgit
        assert validator_rejects(rel, kind, text), f"{rel}: {schemas.problem(kind, data)}"
    else:
        assert rel not in STRUCTURAL


# -- loomgit schema ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_schema_command_prints_the_schema(cli, name: str) -> None:  # type: ignore[no-untyped-def]
    r = cli(["schema", name])
    assert r.exit_code == 0, r.err
    assert json.loads(r.out) == schemas.load(name)


def test_schema_command_lists_the_schemas(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["schema"])
    assert r.exit_code == 0, r.err
    listed = [ln.split()[0] for ln in r.out.splitlines()[: len(NAMES)]]
    assert listed == NAMES
    assert "loomgit.yaml" in r.out and ".loomgit/schemas/" in r.out


def test_an_unknown_schema_is_one_line_with_a_suggestion(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["schema", "suites"])
    assert r.exit_code == 2
    assert r.out == ""
    assert r.err == (
        "loomgit: error: unknown schema 'suites' (did you mean 'suite'? "
        "known: config, prompt, suite, experiment, pipeline)\n"
    )
    other = cli(["schema", "zzz"])
    assert other.exit_code == 2 and "did you mean" not in other.err


# -- loomgit init: schemas in the repository, modelines pointing at them --------------------


def test_init_writes_the_schemas_and_modelines_that_find_them(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["init"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    for name in NAMES:
        written = repo.path / schemas.INIT_DIR / f"{name}.json"
        assert f"created {schemas.INIT_DIR}/{name}.json" in r.out
        assert json.loads(written.read_text(encoding="utf-8")) == schemas.load(name)
    for rel, kind in (
        ("loomgit.yaml", "config"),
        ("prompts/support/summarize.tests.yaml", "suite"),
    ):
        first = (repo.path / rel).read_text(encoding="utf-8").split("\n", 1)[0]
        assert first == schemas.modeline(kind, rel)
        target = first.split("$schema=", 1)[1]
        assert (repo.path / rel).parent.joinpath(target).resolve() == (
            repo.path / schemas.INIT_DIR / f"{kind}.json"
        ).resolve()
    # the YAML language server does not read a prompt's frontmatter: no modeline there
    prompt = (repo.path / "prompts/support/summarize.prompt").read_text(encoding="utf-8")
    assert schemas.MODELINE not in prompt
    assert cli(["check"], cwd=repo.path).exit_code == 0
    edited = repo.path / schemas.INIT_DIR / "config.json"
    edited.write_text("{}\n", encoding="utf-8")
    again = cli(["init"], cwd=repo.path)
    assert f"skipped {schemas.INIT_DIR}/config.json (already exists)" in again.out
    assert edited.read_text(encoding="utf-8") == "{}\n"  # never overwritten


def test_a_modeline_is_relative_to_the_file() -> None:
    assert schemas.modeline("config", "loomgit.yaml") == (
        "# yaml-language-server: $schema=.loomgit/schemas/config.json"
    )
    assert schemas.modeline("experiment", "experiments/tone.yaml") == (
        "# yaml-language-server: $schema=../.loomgit/schemas/experiment.json"
    )
