from __future__ import annotations

import json
from typing import Any

import click

from loomgit.cli.output import echo, echo_content, print_json, style
from loomgit.cli.transcript import show_messages
from loomgit.cli.variables import collect_vars
from loomgit.errors import ProviderError, UsageError
from loomgit.refs import resolve
from loomgit.workspace import Workspace


@click.command()
@click.argument("ref")
@click.option(
    "--var", "pairs", multiple=True, metavar="NAME=VALUE", help="A variable (repeatable)."
)
@click.option(
    "--vars-file", type=click.Path(dir_okay=False), help="Variables from a JSON or YAML file."
)
@click.option(
    "--run",
    "run_it",
    is_flag=True,
    help="Send the rendered messages to the model and print its answer.",
)
@click.option(
    "--model",
    metavar="PROVIDER/MODEL",
    help="With --run or --format: the model to use instead of the prompt's (e.g. ollama/llama3.2).",
)
@click.option(
    "--format",
    "api_format",
    type=click.Choice(["openai", "anthropic", "gemini", "cohere", "ollama"]),
    help="Print the exact JSON request body this provider's API would get (nothing is sent).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print {id, version, model, params, messages} (and completion with --run).",
)
def render(
    ref: str,
    pairs: tuple[str, ...],
    vars_file: str | None,
    run_it: bool,
    model: str | None,
    api_format: str | None,
    as_json: bool,
) -> int:
    """Render REF's messages (REF: an id, a path, or ID@VERSION|STAGE|COMMIT).

    Variables are the prompt's sample, with --vars-file and --var on top. With --run the
    messages go to the model (the prompt's model:, or --model) and the answer is printed
    with its tokens, latency and cost.
    """

    if model is not None and not run_it and api_format is None:
        raise UsageError(
            "--model is used with --run or --format (loomgit render ID --run --model "
            "PROVIDER/MODEL)"
        )
    if api_format is not None and (run_it or as_json):
        raise UsageError(
            "--format prints the request body and sends nothing: it does not combine "
            f"with {'--run' if run_it else '--json'}"
        )
    ws = Workspace()
    res = resolve(ws, ref)
    prompt = res.prompt
    values = collect_vars(prompt, pairs, vars_file)
    messages = prompt.render(
        values,
        loader=res.loader,
        max_chars=ws.config.render_max_chars,
        timeout_s=ws.config.render_timeout_s,
    )
    if api_format is not None:
        defaults = ws.config.section("defaults")
        use = model or prompt.model or defaults.get("model")
        params = {**(defaults.get("params") or {}), **prompt.call_params()}
        print_request(ws.config, api_format, use, messages, params)
        return 0
    completion = None
    if run_it:
        defaults = ws.config.section("defaults")
        use = model or prompt.model or defaults.get("model")
        if not use:
            raise UsageError(
                f"{prompt.id}: no model to run: pass --model PROVIDER/MODEL, or set "
                "model: in the prompt or defaults: {model: ...} in loomgit.yaml"
            )
        params = {**(defaults.get("params") or {}), **prompt.call_params()}
        completion = run_model(ws.config, str(use), messages, params)
    if as_json:
        data = {
            "id": prompt.id,
            "version": res.version,
            "model": prompt.model,
            "params": prompt.params,
            "messages": messages,
        }
        if completion is not None:
            data["completion"] = completion.to_dict()
        print_json(data)
        return check_tool_calls(completion)
    if completion is not None:
        print_answer(completion)
        check_tool_calls(completion)
        echo(style(summary(completion, ws.config), dim=True), err=True)
        return 0
    show_messages(messages)
    return 0


def print_answer(c: Any) -> None:
    """The answer's text, then each tool call as ``→ name {arguments}``, or the refusal."""
    if c.text:
        echo_content(c.text)
    if c.refusal is not None:
        echo(f"refused: {c.refusal}")
    for t in c.tool_calls:
        args = t.arguments_text if t.error else json.dumps(t.arguments, ensure_ascii=False)
        echo(f"→ {t.name} {args}")


def check_tool_calls(c: Any) -> int:
    """0, or the provider error of a tool call whose arguments do not parse (exit 3)."""
    bad = [t for t in (c.tool_calls if c is not None else ()) if t.error]
    if bad:
        raise ProviderError(
            f"{c.model}: tool call {bad[0].name!r} ({bad[0].id}): {bad[0].error}"
            + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
        )
    return 0


def print_request(
    config: Any, api_format: str, model: Any, messages: list[dict[str, Any]], params: Any
) -> None:
    """The body on stdout; where it goes and what was adapted on stderr."""
    # start-up: the provider layer only for --format
    from loomgit.providers.preview import build

    req = build(api_format, str(model) if model else None, messages, params, config)
    print_json(req.body)
    echo(style(f"POST {req.url} ({req.model})", dim=True), err=True)
    for n in req.notes:
        echo(f"loomgit: note: {req.model}: {n}", err=True)


def run_model(
    config: Any, model: str, messages: list[dict[str, Any]], params: dict[str, Any]
) -> Any:
    """One uncached call through the provider layer; retries are reported on stderr."""
    import asyncio
    import logging
    import sys

    # start-up: the provider layer loads asyncio and the providers; only --run needs them
    from loomgit.providers.client import ModelClient

    async def go() -> Any:
        async with ModelClient(config, cache=False) as client:
            return await client.complete(model, messages, params)

    log = logging.getLogger("loomgit.providers")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("loomgit: warning: %(message)s"))
    log.addHandler(handler)
    try:
        return asyncio.run(go())
    finally:
        log.removeHandler(handler)


def summary(c: Any, config: Any) -> str:
    """``model · 25 → 12 tokens · 312 ms · $0.000011 · stop``."""
    if c.cost_usd is None:
        cost = f"cost unknown (add {c.model!r} under pricing: in loomgit.yaml)"
    elif c.cost_usd == 0:
        cost = "$0"
    else:
        cost = f"${c.cost_usd:.6f}"
    parts = [
        c.model,
        f"{c.usage.input_tokens} → {c.usage.output_tokens} tokens",
        f"{c.latency_ms:.0f} ms",
        cost,
    ]
    if c.finish_reason:
        parts.append(str(c.finish_reason))
    if c.attempts > 1:
        parts.append(f"{c.attempts} attempts")
    return " · ".join(parts)
