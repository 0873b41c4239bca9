"""OpenTelemetry spans, when ``opentelemetry-api`` is installed (``pip install loomgit[otel]``).

The one module that imports ``opentelemetry``, and only on the first span asked for. It is
a no-op when the package is missing, and nearly free when it is installed but no tracer
provider is set (the API's proxy provider): then no attribute is built.

Spans follow the OpenTelemetry GenAI semantic conventions for client spans (name
``"{gen_ai.operation.name} {gen_ai.request.model}"``, kind CLIENT, ``gen_ai.*``
attributes) and add the prompt's lineage: ``loomgit.prompt.id``, ``.version``,
``.content_hash`` and ``.stage``. The lineage reaches a provider's span through a context
variable set by the caller (:func:`prompt_context`). No message text, variable value or
secret is ever an attribute.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from loomgit._version import __version__

INTERNAL = "INTERNAL"
CLIENT = "CLIENT"
SERVER = "SERVER"

# loomgit's provider names -> the conventions' well-known gen_ai.provider.name values
_PROVIDER_NAMES = {"gemini": "gcp.gemini", "azure": "azure.ai.openai", "bedrock": "aws.bedrock"}

_api: Any = None  # the opentelemetry.trace module, False when it cannot be imported
_provider: Any = None  # a TracerProvider given with use_provider() (tests, embedding)
_tracers: dict[int, Any] = {}
_lineage: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "loomgit_prompt_lineage", default=None
)


def use_provider(provider: Any) -> None:
    """Send spans to ``provider`` instead of the global tracer provider (None: the global)."""
    global _provider
    _provider = provider
    _tracers.clear()


def _tracer() -> Any:
    """The tracer to use, or None when nothing would record a span."""
    global _api
    if _api is None:
        try:
            from opentelemetry import trace
        except ImportError:
            _api = False
        else:
            _api = trace
    if _api is False:
        return None
    provider = _provider if _provider is not None else _api.get_tracer_provider()
    tracer = _tracers.get(id(provider))
    if tracer is None:
        if isinstance(provider, (_api.ProxyTracerProvider, _api.NoOpTracerProvider)):
            return None  # no SDK configured: every span would be dropped
        tracer = provider.get_tracer("loomgit", __version__)
        _tracers.clear()  # one provider at a time
        _tracers[id(provider)] = tracer
    return tracer


def enabled() -> bool:
    """Whether spans are recorded (call sites skip building attributes when not)."""
    return _tracer() is not None


def lineage_attributes(prompt: Any) -> dict[str, str]:
    """The ``loomgit.prompt.*`` attributes of a loaded prompt, or of a mapping with the
    same keys (id, version, content_hash, stage)."""
    out = {}
    for key in ("id", "version", "content_hash", "stage"):
        value = prompt.get(key) if isinstance(prompt, Mapping) else getattr(prompt, key, None)
        if value:
            out[f"loomgit.prompt.{key}"] = str(value)
    return out


@contextmanager
def prompt_context(prompt: Any) -> Iterator[None]:
    """Within the block, provider spans carry ``prompt``'s lineage attributes."""
    if _tracer() is None:
        yield
        return
    token = _lineage.set(lineage_attributes(prompt))
    try:
        yield
    finally:
        _lineage.reset(token)


@contextmanager
def span(
    name: str,
    kind: str = INTERNAL,
    attributes: Mapping[str, Any] | None = None,
    *,
    current: bool = True,
) -> Iterator[Any]:
    """A span around the block, yielding it (None when tracing is off).

    An exception leaving the block sets ``error.type`` (its class name) and an error
    status; its message is not recorded (it may quote a request). ``current=False``
    does not make the span the active one (for async generators, which may be closed
    in another context)."""
    tracer = _tracer()
    if tracer is None:
        yield None
        return
    attrs = {k: v for k, v in (attributes or {}).items() if v is not None}
    kw: dict[str, Any] = {"kind": getattr(_api.SpanKind, kind), "attributes": attrs}
    if current:
        cm = tracer.start_as_current_span(
            name, record_exception=False, set_status_on_exception=False, **kw
        )
        with cm as s:
            try:
                yield s
            except BaseException as e:
                failed(s, e)
                raise
        return
    s = tracer.start_span(name, **kw)
    try:
        yield s
    except BaseException as e:
        failed(s, e)
        raise
    finally:
        s.end()


def failed(s: Any, e: BaseException) -> None:
    """Mark span ``s`` as failed with ``e`` (class name only)."""
    if s is None:
        return
    s.set_attribute("error.type", type(e).__name__)
    s.set_status(_api.Status(_api.StatusCode.ERROR))


def set_attributes(s: Any, attributes: Mapping[str, Any]) -> None:
    if s is not None:
        s.set_attributes({k: v for k, v in attributes.items() if v is not None})


@contextmanager
def render_span(prompt: Any) -> Iterator[Any]:
    """An INTERNAL span ``"loomgit.render {id}"`` with ``prompt``'s lineage."""
    if _tracer() is None:
        yield None
        return
    name = f"loomgit.render {getattr(prompt, 'id', '')}"
    with span(name, INTERNAL, lineage_attributes(prompt)) as s:
        yield s


def execute_attributes(prompt: Any, model: str) -> dict[str, Any]:
    return {**lineage_attributes(prompt), "gen_ai.request.model": model}


def start(name: str, kind: str = INTERNAL, attributes: Mapping[str, Any] | None = None) -> Any:
    """A started span that is not the current one (None when tracing is off); end it
    with :func:`finish`. For work that outlives a block, such as a streamed answer."""
    tracer = _tracer()
    if tracer is None:
        return None
    attrs = {k: v for k, v in (attributes or {}).items() if v is not None}
    return tracer.start_span(name, kind=getattr(_api.SpanKind, kind), attributes=attrs)


@contextmanager
def activate(s: Any) -> Iterator[None]:
    """Within the block, ``s`` (from :func:`start`) is the current span (it is not ended)."""
    if s is None:
        yield
        return
    with _api.use_span(s, end_on_exit=False, record_exception=False, set_status_on_exception=False):
        yield


def finish(s: Any, error: BaseException | None = None) -> None:
    """End span ``s`` from :func:`start`, failed with ``error`` if one is given."""
    if s is None:
        return
    if error is not None:
        failed(s, error)
    s.end()


# -- GenAI client spans -------------------------------------------------------------------
def provider_name(name: str) -> str:
    return _PROVIDER_NAMES.get(name, name)


@contextmanager
def model_call(
    provider: str, model: str, operation: str = "chat", *, current: bool = True
) -> Iterator[Any]:
    """A GenAI client span for one request to ``provider``'s ``model``, with the
    lineage of the prompt being run (see :func:`prompt_context`)."""
    if _tracer() is None:
        yield None
        return
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": provider_name(provider),
        "gen_ai.request.model": model,
    }
    attrs.update(_lineage.get() or {})
    with span(f"{operation} {model}", CLIENT, attrs, current=current) as s:
        yield s


def response(s: Any, data: Any) -> None:
    """Set the response attributes of span ``s`` from a provider's JSON answer (OpenAI
    chat completions, Anthropic messages, Gemini and Ollama shapes are read)."""
    if s is None or not isinstance(data, dict):
        return
    attrs: dict[str, Any] = {}
    model = data.get("model") or data.get("modelVersion")
    if isinstance(model, str):
        attrs["gen_ai.response.model"] = model
    if isinstance(data.get("id"), str):
        attrs["gen_ai.response.id"] = data["id"]
    usage = data.get("usage") or data.get("usageMetadata") or {}
    if isinstance(usage, dict):
        for key, names in (
            ("gen_ai.usage.input_tokens", ("prompt_tokens", "input_tokens", "promptTokenCount")),
            (
                "gen_ai.usage.output_tokens",
                ("completion_tokens", "output_tokens", "candidatesTokenCount"),
            ),
        ):
            for n in names:
                if isinstance(usage.get(n), int):
                    attrs[key] = usage[n]
                    break
    if isinstance(data.get("prompt_eval_count"), int):  # ollama
        attrs["gen_ai.usage.input_tokens"] = data["prompt_eval_count"]
    if isinstance(data.get("eval_count"), int):
        attrs["gen_ai.usage.output_tokens"] = data["eval_count"]
    reasons = [
        str(c.get("finish_reason") or c.get("finishReason"))
        for c in (data.get("choices") or data.get("candidates") or [])
        if isinstance(c, dict) and (c.get("finish_reason") or c.get("finishReason"))
    ]
    for key in ("stop_reason", "done_reason"):
        if isinstance(data.get(key), str):
            reasons.append(data[key])
    if reasons:
        attrs["gen_ai.response.finish_reasons"] = reasons
    s.set_attributes(attrs)


def completion(s: Any, c: Any) -> None:
    """Set the response attributes of span ``s`` from a :class:`Completion`."""
    if s is None or c is None:
        return
    usage = getattr(c, "usage", None)
    attrs: dict[str, Any] = {}
    if usage is not None:
        attrs["gen_ai.usage.input_tokens"] = usage.input_tokens
        attrs["gen_ai.usage.output_tokens"] = usage.output_tokens
    if getattr(c, "finish_reason", None):
        attrs["gen_ai.response.finish_reasons"] = [str(c.finish_reason)]
    s.set_attributes(attrs)
