"""Prompt files of other tools, read as they are: Prompty (current and legacy
specifications) and GitHub Models ``.prompt.yml`` files, whose ``testData`` and
``evaluators`` are their suite. Every file of tests/corpus/formats passes ``check`` and
renders with the model, params and variables its format gives; every bad one gives one
line with file and line."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from conftest import CORPUS, GitRepo

FORMATS = CORPUS / "formats"
CONFIG = (
    "prompts:\n"
    "  - agents/*.prompty\n"
    '  - "prompts/**/*.prompt.yml"\n'
    '  - "prompts/**/*.prompt.yaml"\n'
    "  - bad/*\n"
)

# id -> (model, params, {variable: (type, required, default)}, rendered text the answer holds)
PROMPTY = {
    "current_chat": (
        "openai/gpt-4o-mini",
        {"temperature": 0.2, "max_tokens": 400, "top_p": 0.9, "stop": ["###"]},
        {
            "customer": ("string", False, "there"),
            "ticket": ("string", True, None),
            "priority": ("integer", False, 3),
        },
        "Hi there, about your ticket: My invoice shows the wrong address.",
    ),
    "current_outputs": (
        "openai/gpt-4o",
        {"temperature": 0, "seed": 42},
        {"statement": ("string", False, "")},
        "Alice and Bob are going to a science fair on Friday.",
    ),
    "current_mustache": (
        "openai/gpt-4o-mini",
        {},
        {"name": ("string", False, "World"), "city": ("string", False, "")},
        "Say hello to World from Lisbon.",
    ),
    "current_foundry": (
        "foundry/gpt-4.1",
        {"temperature": 0.3, "reasoning_effort": "low"},
        {"question": ("string", True, None), "context": ("any", False, "")},
        "Who maintains the Prompty specification?",
    ),
    "support/agent-basic": (
        "openai/gpt-35-turbo",
        {"max_tokens": 1000},
        {
            "firstName": ("string", False, ""),
            "lastName": ("string", False, ""),
            "question": ("string", False, ""),
        },
        "You are helping Jane Doe to find answers",
    ),
    "markdown_roles": (
        "openai/gpt-4o-mini",
        {},
        {"question": ("string", False, "")},
        "How do I reset my password?",
    ),
    "legacy_basic": (
        "openai/gpt-35-turbo",
        {"max_tokens": 128, "temperature": 0.2},
        {"firstName": ("any", True, None), "lastName": ("any", True, None)},
        "You are helping Jane Doe to find answers",
    ),
    "legacy_inputs": (
        "openai/gpt-4o",
        {"temperature": 0.5, "top_p": 1, "response_format": {"type": "text"}},
        {
            "firstName": ("string", False, "User"),
            "age": ("number", False, 18),
            "orders": ("array", False, []),
            "question": ("string", False, ""),
        },
        "- lamp",
    ),
    "legacy_file_sample": (
        "openai/gpt-4o",
        {"max_tokens": 300},
        {"statement": ("string", False, "")},
        "Extract the event information.",
    ),
    "legacy_template_dict": (
        "openai/gpt-35-turbo",
        {"temperature": 0.5},
        {"name": ("string", False, "World")},
        "Hello World!",
    ),
    "legacy_outputs": (
        "openai/gpt-4",
        {"temperature": 0.1, "response_format": {"type": "json_object"}},
        {"answer": ("string", False, ""), "context": ("string", False, "")},
        "Answer: The Alpine Explorer tent is the most waterproof.",
    ),
}

GHMODELS = {
    "summarizer": ("openai/gpt-4o-mini", {"temperature": 0.5}, ["input"]),
    "sentiment_json": (
        "openai/gpt-4.1-mini",
        {"temperature": 0, "max_tokens": 100, "top_p": 1},
        ["language", "review"],
    ),
    "translate": ("openai/gpt-4o-mini", {}, ["target", "text"]),
}

# bad file -> (line, text the one error line holds)
BAD = {
    "messages_not_list.prompt.yml": (3, "'messages' must be a non-empty list"),
    "unknown_role.prompt.yml": (6, "unknown role 'narrator'"),
    "missing_content.prompt.yml": (6, "message 2 has no content"),
    "testdata_not_mappings.prompt.yml": (8, "testData item 2 must be a mapping"),
    "testdata_not_list.prompt.yaml": (6, "testData must be a list of mappings"),
    "unknown_evaluator.prompt.yml": (12, "unknown evaluator kind (regex;"),
    "unknown_string_check.prompt.yml": (8, "string needs exactly one of contains"),
    "bad_response_format.prompt.yml": (3, "responseFormat 'json' must be one of"),
    "malformed_yaml.prompt.yml": (4, "invalid YAML"),
    "testdata_missing_variable.prompt.yml": (9, "testData item 2 does not set 'target'"),
    "prompty_unknown_key.prompty": (3, "unknown Prompty key 'modle'; did you mean 'model'?"),
    "prompty_bad_kind.prompty": (4, "unknown kind 'strng'"),
    "prompty_input_without_name.prompty": (4, "item 1 must be a mapping with a 'name'"),
    "prompty_mustache_section.prompty": (12, "Mustache tag '{{#' is not supported"),
    "prompty_bad_template.prompty": (3, "template format 'liquid' is not supported"),
}


@pytest.fixture
def formats_repo(repo: GitRepo) -> GitRepo:
    shutil.copytree(FORMATS / "prompty", repo.path / "agents")
    shutil.copytree(FORMATS / "ghmodels", repo.path / "prompts")
    repo.commit("formats", {"loomgit.yaml": CONFIG.replace("  - bad/*\n", "")})
    return repo


def test_corpus_is_complete() -> None:
    assert {p.name for p in (FORMATS / "bad").iterdir()} == set(BAD)
    assert len(list((FORMATS / "prompty").iterdir())) == len(PROMPTY)
    assert len(list((FORMATS / "ghmodels").iterdir())) == len(GHMODELS)


def test_every_format_file_passes_check(formats_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["check"], cwd=formats_repo.path)
    assert r.exit_code == 0, r.out + r.err
    assert ": error: " not in r.out and "warning" not in r.out, r.out
    listing = json.loads(cli(["list", "--json"], cwd=formats_repo.path).out)
    assert {p["id"] for p in listing} == set(PROMPTY) | set(GHMODELS)


@pytest.mark.parametrize("pid", sorted(PROMPTY))
def test_prompty_model_params_variables_and_render(formats_repo: GitRepo, cli, pid: str) -> None:  # type: ignore[no-untyped-def]
    model, params, variables, text = PROMPTY[pid]
    r = cli(["render", pid, "--json"], cwd=formats_repo.path)
    assert r.exit_code == 0, r.err
    data = json.loads(r.out)
    assert (data["model"], data["params"]) == (model, params)
    assert text in "\n".join(m["content"] for m in data["messages"])
    if pid == "markdown_roles":
        assert [m["role"] for m in data["messages"]] == ["system", "user", "assistant", "user"]
    shown = json.loads(cli(["show", pid, "--json"], cwd=formats_repo.path).out)
    got = shown.get("variables") or shown.get("prompt", {}).get("variables")
    if pid == "legacy_basic":  # no inputs: the names the template uses
        assert got is None or set(got) >= {"firstName", "lastName", "question"}
        return
    assert {k: (v["type"], v["required"], v.get("default")) for k, v in got.items()} == variables


def test_prompty_outputs_become_a_json_schema(formats_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    from loomgit.prompt.parse import read_prompt

    p = read_prompt(
        formats_repo.path / "agents/current_outputs.prompty", display="current_outputs.prompty"
    )
    assert p.output is not None and p.output.format == "json"
    assert p.output.schema == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "The event's name"},
            "date": {"type": "string"},
            "participants": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "participants"],
    }


def test_env_references_are_never_expanded(
    formats_repo: GitRepo, cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "secret-deployment")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://secret.example")
    for pid in ("legacy_basic", "current_chat", "current_foundry", "legacy_inputs"):
        for args in (["render", pid, "--json"], ["show", pid, "--json"]):
            r = cli(args, cwd=formats_repo.path)
            assert r.exit_code == 0, r.err
            for secret in ("sk-secret-value", "secret-deployment", "secret.example"):
                assert secret not in r.out + r.err
    # ${env:NAME:default}: the default written in the file is the model
    data = json.loads(cli(["render", "legacy_basic", "--json"], cwd=formats_repo.path).out)
    assert data["model"] == "openai/gpt-35-turbo"


@pytest.mark.parametrize("pid", sorted(GHMODELS))
def test_github_models_prompt_model_params_and_variables(
    formats_repo: GitRepo, cli, pid: str
) -> None:  # type: ignore[no-untyped-def]
    model, params, names = GHMODELS[pid]
    values = [f"--var={n}=V{n}" for n in names]
    r = cli(["render", pid, "--json", *values], cwd=formats_repo.path)
    assert r.exit_code == 0, r.err
    data = json.loads(r.out)
    assert (data["model"], data["params"]) == (model, params)
    text = "\n".join(m["content"] for m in data["messages"])
    assert all(f"V{n}" in text for n in names)
    r = cli(["render", pid, "--var", "unknown=1", *values], cwd=formats_repo.path)
    assert r.exit_code == 1 and "unknown variable(s): unknown" in r.err


def test_github_models_placeholders_only_substitute(formats_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(
        ["render", "translate", "--json", "--var", "target=French", "--var", "text={{ 7*7 }}"],
        cwd=formats_repo.path,
    )
    assert r.exit_code == 0, r.err
    msgs = json.loads(r.out)["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[0]["content"] == (
        "Translate to French. Keep code such as {% if x %}, {{ user.name }} and {#c#} unchanged."
    )
    assert msgs[1]["content"] == "{{ 7*7 }}"  # a value is text, never a template


def test_github_models_jinja_in_a_message_is_text(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit(
        "x",
        {
            "loomgit.yaml": 'prompts:\n  - "prompts/*.prompt.yml"\n',
            "prompts/x.prompt.yml": "messages:\n  - role: user\n    content: "
            "\"{{ ''.__class__.__mro__ }} {% for i in range(10**9) %}x{% endfor %} {{{a}}}\"\n",
        },
    )
    r = cli(["render", "x", "--var", "a=1"], cwd=repo.path)
    assert r.exit_code == 0, r.err
    assert "{{ ''.__class__.__mro__ }} {% for i in range(10**9) %}x{% endfor %} {1}" in r.out


def test_github_models_suite_runs_test_data_with_evaluators(formats_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["eval", "summarizer", "--model", "echo", "--json"], cwd=formats_repo.path)
    assert r.exit_code == 1, r.out + r.err  # echo repeats the prompt: 'Summary -' is not first
    rows = json.loads(r.out)
    results = rows["results"] if isinstance(rows, dict) else rows
    text = json.dumps(results)
    assert "testData 1" in text and "testData 2" in text
    assert "Output should start with 'Summary -'" in text and "Similar to expected" in text


def test_github_models_string_evaluators_follow_gh_models(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    """gh models: contains/startsWith/endsWith ignore case, equals does not; {{key}} in an
    evaluator's text is filled from the test case."""
    repo.commit(
        "x",
        {
            "loomgit.yaml": 'prompts:\n  - "prompts/*.prompt.yml"\n',
            "prompts/echo.prompt.yml": "model: echo\nmessages:\n  - role: user\n"
            "    content: 'Hello {{name}} (v1.0)'\n"
            "testData:\n  - name: Ada\n  - name: Bob\n"
            "evaluators:\n"
            "  - name: starts\n    string: {startsWith: 'HELLO'}\n"
            "  - name: ends\n    string: {endsWith: '(V1.0)'}\n"
            "  - name: has name\n    string: {contains: '{{name}}'}\n"
            "  - name: exact\n    string: {equals: 'Hello {{name}} (v1.0)'}\n",
        },
    )
    r = cli(["eval", "echo"], cwd=repo.path)
    assert r.exit_code == 0, r.out + r.err
    assert "2 passed" in r.out
    repo.write(
        {
            "prompts/echo.prompt.yml": (repo.path / "prompts/echo.prompt.yml")
            .read_text()
            .replace("equals: 'Hello", "equals: 'HELLO")
        }
    )
    r = cli(["eval", "echo"], cwd=repo.path)
    assert r.exit_code == 1 and "exact" in r.out


def test_github_models_file_without_test_data_has_no_suite(formats_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(["eval", "translate", "--model", "echo"], cwd=formats_repo.path)
    assert r.exit_code == 2 and "no test suite" in r.err, r.err


def test_history_versions_github_models_and_prompty_files(formats_repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    path = formats_repo.path / "prompts/summarizer.prompt.yml"
    formats_repo.commit(
        "warmer", {"prompts/summarizer.prompt.yml": path.read_text().replace("0.5", "0.7")}
    )
    log = json.loads(cli(["log", "summarizer", "--json"], cwd=formats_repo.path).out)
    assert [v["version"] for v in log] == ["1.1.0", "1.0.0"]
    chat = formats_repo.path / "agents/current_chat.prompty"
    formats_repo.commit(
        "new input",
        {
            "agents/current_chat.prompty": chat.read_text().replace(
                "  - name: priority", "  - name: product\n    kind: string\n  - name: priority"
            )
        },
    )
    log = json.loads(cli(["log", "current_chat", "--json"], cwd=formats_repo.path).out)
    assert log[0]["version"] != "1.0.0"


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_format_files_give_one_line(repo: GitRepo, cli, name: str) -> None:  # type: ignore[no-untyped-def]
    line, text = BAD[name]
    shutil.copytree(FORMATS / "bad", repo.path / "bad")
    repo.commit("bad", {"loomgit.yaml": CONFIG})
    r = cli(["check", f"bad/{name}"], cwd=repo.path)
    assert r.exit_code == 1, r.out + r.err
    errors = [ln for ln in r.out.splitlines() if ": error: " in ln]
    assert len(errors) == 1, r.out
    assert re.match(rf"bad/{re.escape(name)}:{line}(:\d+)?: ", errors[0]), errors[0]
    assert text in errors[0], errors[0]
    assert "Traceback" not in r.out + r.err
    if name == "testdata_missing_variable.prompt.yml":
        return  # the prompt itself renders; its suite's second case cannot
    r = cli(["render", f"bad/{name}"], cwd=repo.path)
    assert r.exit_code == 1 and r.out == ""
    err = r.err.strip().splitlines()
    assert len(err) == 1 and re.match(
        rf"loomgit: error: bad/{re.escape(name)}:{line}(:\d+)?: ", err[0]
    ), r.err


def test_history_reads_a_body_by_the_format_of_its_file() -> None:
    """One history pass over a .prompt and a .prompty with the same text: each is split
    by its own format's rules (Prompty: leading text is a system message)."""
    from loomgit.history.facts import FactsBuilder

    text = "---\ndescription: same\n---\nYou are terse.\n\nuser:\n{{ q }}\n"
    builder = FactsBuilder()
    prompty = builder.from_text(text, "a.prompty")
    plain = builder.from_text(text, "a.prompt")
    assert prompty.ok and prompty.messages == (("system", "You are terse."), ("user", "{{ q }}"))
    assert not plain.ok and "text before the first role line" in plain.error
    attrs = builder.from_text('# System:\nA\nuser[name="ada", n=2]:\nB\n', "b.prompty")
    assert attrs.messages == (("system", "A"), ("user", "B"))


def test_github_models_extra_keys_are_accepted_with_a_warning(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    repo.commit(
        "x",
        {
            "loomgit.yaml": 'prompts:\n  - "prompts/*.prompt.yml"\n',
            "prompts/x.prompt.yml": "name: X\nmodelParameter:\n  temperature: 1\n"
            "messages:\n  - role: user\n    content: Hello\n",
        },
    )
    r = cli(["check"], cwd=repo.path)
    assert r.exit_code == 0, r.out
    assert (
        "prompts/x.prompt.yml:2: warning: unknown key 'modelParameter'; did you mean "
        "'modelParameters'?"
    ) in r.out


def test_prompty_legacy_type_is_open_current_kind_is_not(repo: GitRepo, cli) -> None:  # type: ignore[no-untyped-def]
    """Prompty 1 does not restrict an input's ``type``; Prompty 2 lists the kinds."""
    body = "---\ninputs:\n  history:\n    {key}: chat_history\n---\nuser:\n{{{{ history }}}}\n"
    repo.commit(
        "x",
        {
            "loomgit.yaml": "prompts:\n  - '*.prompty'\n",
            "legacy.prompty": body.format(key="type"),
            "current.prompty": body.format(key="kind"),
        },
    )
    assert cli(["check", "legacy.prompty"], cwd=repo.path).exit_code == 0
    r = cli(["check", "current.prompty"], cwd=repo.path)
    assert r.exit_code == 1 and "current.prompty:3: error: input 'history': unknown kind" in r.out
