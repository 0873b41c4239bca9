"""What ``loomgit check`` says about a prompt's conversation placeholders and content
parts, without rendering: each literal ``image("...")``/``document("...")`` resolved and
checked as rendering would (the include rule, size, type), a ``messages`` variable used
inside a message's text, a variable that hides ``image()`` or ``document()``."""

from __future__ import annotations

from loomgit.errors import LoomgitError
from loomgit.findings import Finding, error, warning
from loomgit.prompt.media import load_media, media_refs
from loomgit.prompt.model import Prompt
from loomgit.prompt.parts import IncludeLoader
from loomgit.prompt.render import inline_problem, inline_turns


def hiding_names(prompt: Prompt) -> set[str]:
    """Declared variables named ``image`` or ``document`` that a template mentions: the
    parser counts those names as the functions, the render reads the variable."""
    return {
        n
        for n in ("image", "document")
        if n in (prompt.variables or {}) and any(n in m.source for m in prompt.messages)
    }


def part_findings(prompt: Prompt, loader: IncludeLoader | None) -> list[Finding]:
    out: list[Finding] = []
    for name in ("image", "document"):
        var = (prompt.variables or {}).get(name)
        if var is not None:
            out.append(
                warning(
                    prompt.path,
                    var.line,
                    f"variable {name!r} hides the {name}() function for content parts "
                    "in this prompt's templates",
                )
            )
    for m in prompt.messages:
        if m.verbatim or m.placeholder is not None:
            continue
        for kind, ref, at in media_refs(m.source):
            try:
                load_media(kind, ref, loader)
            except LoomgitError as e:
                out.append(error(prompt.path, m.line + m.source.count("\n", 0, at), e.message))
    out += [
        error(prompt.path, line, inline_problem(name))
        for line, name in inline_turns(prompt, loader)
    ]
    return out
