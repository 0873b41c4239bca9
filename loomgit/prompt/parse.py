"""Read prompt files: frontmatter, role lines, Prompty mapping, Dotprompt detection.

Parsing raises :class:`PromptError` (with file and line) for anything that leaves no
usable prompt; softer problems are reported by :mod:`loomgit.prompt.validate`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from loomgit.errors import PromptError
from loomgit.prompt.model import VARIABLE_TYPES, MessageTemplate, OutputSpec, Prompt, Variable

MAX_FILE_BYTES = 1_000_000
ROLE_LINE = re.compile(r"^[ \t]*(system|user|assistant)[ \t]*:[ \t]*$", re.IGNORECASE)
ID_RE = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")
_HANDLEBARS = re.compile(
    r"\{\{\s*(?:role\s+\"|#(?:if|each|unless|with)\b|/(?:if|each|unless|with)\b|>\s*\w|media\s+url)"
)
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_EMPTY_DEFAULTS: dict[str, Any] = {"string": "", "array": [], "object": {}}


def id_problem(prompt_id: str) -> str | None:
    """Why ``prompt_id`` is not a valid id, or None."""
    if not prompt_id:
        return "empty id"
    if prompt_id.startswith("/") or re.match(r"^[A-Za-z]:", prompt_id):
        return f"id {prompt_id!r} is an absolute path"
    if not ID_RE.match(prompt_id):
        return f"id {prompt_id!r} may only use letters, digits and _ . / -"
    if any(part in (".", "..") for part in prompt_id.split("/")):
        return f"id {prompt_id!r} must not contain '.' or '..' segments"
    return None


def decode(data: bytes, path: str) -> str:
    """Bytes of a prompt file as text, or a clear error for binary / non-UTF-8 / huge files."""
    if len(data) > MAX_FILE_BYTES:
        raise PromptError(
            f"file is too large ({len(data) / 1_000_000:.1f} MB; prompts are limited to "
            f"{MAX_FILE_BYTES // 1_000_000} MB)",
            path=path,
        )
    if b"\0" in data:
        raise PromptError("binary file (contains NUL bytes), not a text prompt", path=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise PromptError(
            f"not UTF-8 text (byte 0x{data[e.start]:02x} cannot be decoded)", path=path, line=line
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_prompt(
    path: str | Path,
    *,
    display: str | None = None,
    prompt_id: str | None = None,
    root: Path | None = None,
) -> Prompt:
    """Read and parse one prompt file from disk."""
    p = Path(path)
    shown = display or str(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise PromptError("no such file", path=shown) from None
    except IsADirectoryError:
        raise PromptError("is a folder, not a prompt file", path=shown) from None
    except OSError as e:
        raise PromptError(f"cannot read: {e.strerror}", path=shown) from None
    return parse_prompt(decode(data, shown), shown, prompt_id=prompt_id)


def strip_ext(path: str) -> str:
    return re.sub(r"\.[^./]+$", "", path.replace("\\", "/"))


def default_id(path: str) -> str:
    """An id from a path when no glob gave one: the path without ``prompts/`` and extension."""
    p = strip_ext(path)
    return p[len("prompts/") :] if p.startswith("prompts/") else p


def split_frontmatter(text: str, path: str) -> tuple[str | None, str, int]:
    """(frontmatter YAML or None, body, 1-based line where the body starts)."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return None, text, 1
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1 :]), i + 2
    raise PromptError("frontmatter opened with '---' is never closed", path=path, line=1)


def split_messages(body: str, body_line: int, path: str) -> tuple[MessageTemplate, ...]:
    """Split the body at role lines; roles are found in the source, before rendering."""
    lines = body.split("\n")
    starts = [(i, m.group(1).lower()) for i, ln in enumerate(lines) if (m := ROLE_LINE.match(ln))]
    if not starts:
        return (MessageTemplate("user", body.strip("\n"), body_line),)
    lead = _JINJA_COMMENT.sub("", "\n".join(lines[: starts[0][0]]))
    if lead.strip():
        first = next(i for i, ln in enumerate(lines) if ln.strip())
        raise PromptError(
            f"text before the first role line {lines[starts[0][0]].strip()!r}; put it under a "
            "'system:' or 'user:' line",
            path=path,
            line=body_line + first,
        )
    out = []
    for n, (i, role) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        chunk = lines[i + 1 : end]
        src = "\n".join(chunk).strip("\n")
        if not _JINJA_COMMENT.sub("", src).strip():
            raise PromptError(
                f"role line '{role}:' has no message after it", path=path, line=body_line + i
            )
        lead_blank = 0
        while lead_blank < len(chunk) and not chunk[lead_blank].strip():
            lead_blank += 1
        out.append(MessageTemplate(role, src, body_line + i + 1 + lead_blank))
    return tuple(out)


def parse_variables(raw: Any, path: str, line: int | None, meta_key: str) -> dict[str, Variable]:
    from loomgit import yamlio

    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PromptError(f"'{meta_key}' must be a mapping of variable names", path=path, line=line)
    out: dict[str, Variable] = {}
    for name, spec in raw.items():
        doc_line = yamlio.line_of(raw, name)
        vline = doc_line + 1 if doc_line else line  # frontmatter starts on line 2
        if not isinstance(name, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise PromptError(
                f"variable name {name!r} is not a valid identifier", path=path, line=vline
            )
        if spec is None:
            spec = {}
        elif isinstance(spec, str):
            spec = {"type": spec}
        if not isinstance(spec, dict):
            raise PromptError(
                f"variable {name!r}: expected a mapping like {{type: string}}",
                path=path,
                line=vline,
            )
        unknown = set(spec) - {"type", "required", "default", "enum", "description", "sample"}
        if unknown:
            raise PromptError(
                f"variable {name!r}: unknown key(s) {', '.join(sorted(map(str, unknown)))}"
                " (known: type, required, default, enum, description)",
                path=path,
                line=vline,
            )
        vtype = spec.get("type", "string" if "enum" not in spec else "any")
        if vtype not in VARIABLE_TYPES:
            raise PromptError(
                f"variable {name!r}: unknown type {vtype!r} (one of {', '.join(VARIABLE_TYPES)})",
                path=path,
                line=vline,
            )
        enum = spec.get("enum")
        if enum is not None and not isinstance(enum, list):
            raise PromptError(f"variable {name!r}: enum must be a list", path=path, line=vline)
        has_default = "default" in spec
        required = spec.get("required", not has_default)
        if not isinstance(required, bool):
            raise PromptError(
                f"variable {name!r}: required must be true or false", path=path, line=vline
            )
        default = yamlio.plain(spec["default"]) if has_default else _EMPTY_DEFAULTS.get(vtype)
        desc = spec.get("description", "")
        out[name] = Variable(
            name=name,
            type=vtype,
            required=required,
            default=default if not required else None,
            enum=tuple(yamlio.plain(enum)) if enum is not None else None,
            description=str(desc or ""),
            line=vline,
        )
    return out


def prompty_model(raw: Any) -> tuple[str | None, dict[str, Any]]:
    """Prompty's ``model: {api, configuration: {type, name}, parameters}``."""
    if isinstance(raw, str) or raw is None:
        return raw, {}
    if not isinstance(raw, dict):
        return None, {}
    conf = raw.get("configuration") or {}
    name = conf.get("name") or conf.get("azure_deployment") or conf.get("model")
    ptype = str(conf.get("type") or "openai").replace("azure_openai", "openai")
    params = raw.get("parameters") or {}
    return (f"{ptype}/{name}" if name else None), dict(params) if isinstance(params, dict) else {}


def parse_prompt(text: str, path: str, *, prompt_id: str | None = None) -> Prompt:
    """Parse prompt text; ``path`` is used in messages and for the default id."""
    from loomgit import yamlio

    if not text.strip():
        raise PromptError("empty prompt file", path=path)
    text = text.replace("\r\n", "\n")
    fm_text, body, body_line = split_frontmatter(text, path)
    kind = "prompty" if path.endswith(".prompty") else "loomgit"
    meta: Any = {}
    if fm_text is not None:
        meta = yamlio.load(fm_text, path=path, line_offset=1)
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise PromptError(
                f"frontmatter must be a mapping of keys, got {type(meta).__name__}",
                path=path,
                line=2,
            )
    elif not path.endswith((".prompt", ".prompty")):
        kind = "plain"

    lines = {str(k): (yamlio.line_of(meta, k) or 1) + 1 for k in meta}  # file lines
    if (
        "input" in meta and isinstance(meta.get("input"), dict) and "schema" in meta["input"]
    ) or _HANDLEBARS.search(body):
        m = _HANDLEBARS.search(body)
        line = body_line + body[: m.start()].count("\n") if m else lines.get("input")
        raise PromptError(
            "this looks like a Google Dotprompt file (Handlebars syntax); loomgit "
            "prompts use Jinja2 and 'system:'/'user:' role lines",
            path=path,
            line=line,
        )
    if not body.strip():
        raise PromptError(
            "prompt has frontmatter but no body", path=path, line=max(body_line - 1, 1)
        )

    messages = split_messages(body, body_line, path)

    var_key = "variables" if "variables" in meta else ("inputs" if "inputs" in meta else None)
    variables = (
        parse_variables(meta[var_key], path, lines.get(var_key), var_key) if var_key else None
    )

    model: str | None
    params: dict[str, Any]
    if isinstance(meta.get("model"), dict):
        model, params = prompty_model(meta["model"])
        kind = "prompty"
    else:
        model = meta.get("model")
        if model is not None and not isinstance(model, str):
            raise PromptError(
                "model must be a string like openai/gpt-4o-mini", path=path, line=lines.get("model")
            )
        params = {}
    if "params" in meta:
        if not isinstance(meta["params"], dict):
            raise PromptError(
                "params must be a mapping such as {temperature: 0.2}",
                path=path,
                line=lines.get("params"),
            )
        params = {**params, **yamlio.plain(meta["params"])}

    output = None
    if "output" in meta:
        out = meta["output"]
        if isinstance(out, str):
            out = {"format": out}
        if not isinstance(out, dict):
            raise PromptError(
                "output must be a mapping {format, schema}", path=path, line=lines.get("output")
            )
        fmt = out.get("format", "json" if "schema" in out else "text")
        if fmt not in ("text", "json"):
            raise PromptError(
                f"output format must be text or json, got {fmt!r}",
                path=path,
                line=lines.get("output"),
            )
        schema = out.get("schema")
        if schema is not None and not isinstance(schema, dict):
            raise PromptError(
                "output schema must be a JSON Schema mapping", path=path, line=lines.get("output")
            )
        output = OutputSpec(fmt, yamlio.plain(schema) if schema is not None else None)

    sample = meta.get("sample")
    if isinstance(sample, str) and kind == "prompty":
        sample = None  # Prompty allows a file name here; not followed
    if sample is not None and not isinstance(sample, dict):
        raise PromptError(
            "sample must be a mapping of variable values", path=path, line=lines.get("sample")
        )
    if sample is None and var_key == "inputs" and variables:
        raw_inputs = meta["inputs"]
        picked = {
            k: v["sample"] for k, v in raw_inputs.items() if isinstance(v, dict) and "sample" in v
        }
        sample = picked or None
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list):
        raise PromptError("tags must be a list", path=path, line=lines.get("tags"))

    pid = meta.get("id") if isinstance(meta.get("id"), str) else None
    final_id = pid or prompt_id or default_id(path)
    problem = id_problem(final_id)
    if problem:
        raise PromptError(problem, path=path, line=lines.get("id"))
    desc = meta.get("description") or meta.get("name") or ""
    return Prompt(
        id=final_id,
        path=path,
        text=text,
        messages=messages,
        description=str(desc),
        model=model,
        params=params,
        variables=variables,
        output=output,
        sample=yamlio.plain(sample) if sample is not None else None,
        tags=tuple(str(t) for t in tags),
        meta=yamlio.plain(meta),
        meta_lines=lines,
        kind=kind,
        body_line=body_line,
    )
