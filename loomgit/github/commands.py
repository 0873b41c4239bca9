"""What a job step tells the runner: workflow commands (``::warning file=F,line=L::...``,
escaped as the runner expects), step outputs (``$GITHUB_OUTPUT``, heredoc syntax so values
may hold newlines) and the job summary (``$GITHUB_STEP_SUMMARY``, kept under 1 MiB)."""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from loomgit.github.comment import truncate_markdown

SUMMARY_LIMIT = 1024 * 1024  # GitHub drops a step summary of 1 MiB or more


def escape_command_data(text: str) -> str:
    """Escape a workflow command's message as the runner expects (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_command_property(text: str) -> str:
    return escape_command_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(
    level: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    title: str | None = None,
) -> str:
    """``::warning file=F,line=L,title=T::message`` (level: debug, notice, warning, error);
    with ``file``/``line`` GitHub shows it on that line of the pull request's diff."""
    if level not in ("debug", "notice", "warning", "error"):
        raise ValueError(level)
    props = []
    if file:
        props.append(f"file={escape_command_property(file)}")
    if line:
        props.append(f"line={int(line)}")
    if title:
        props.append(f"title={escape_command_property(title)}")
    head = f"::{level} {','.join(props)}::" if props else f"::{level}::"
    return head + escape_command_data(message)


@dataclass(frozen=True)
class Annotation:
    """A message for the job's log: a workflow command in Actions (``level`` one of debug,
    notice, warning, error), with ``file``/``line`` shown on that line of the diff."""

    level: str
    message: str
    file: str | None = None
    line: int | None = None
    title: str | None = None

    def command(self) -> str:
        return workflow_command(
            self.level, self.message, file=self.file, line=self.line, title=self.title
        )


def write_outputs(path: str | os.PathLike[str], values: Mapping[str, object]) -> None:
    """Append step outputs to ``$GITHUB_OUTPUT`` (``name<<DELIM`` form, so a value may
    span lines; the delimiter is random and checked against the value)."""
    lines = []
    for name, value in values.items():
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_-]*$", name):
            raise ValueError(f"bad output name {name!r}")
        text = _output_text(value)
        delim = f"ghadelimiter_{secrets.token_hex(16)}"
        while delim in text:  # pragma: no cover - 128 random bits
            delim = f"ghadelimiter_{secrets.token_hex(16)}"
        lines.append(f"{name}<<{delim}\n{text}\n{delim}\n")
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(lines))


def _output_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def write_summary(
    path: str | os.PathLike[str], markdown: str, *, limit: int = SUMMARY_LIMIT, note: str = ""
) -> bool:
    """Append ``markdown`` to the job summary, cut so the step's summary stays under
    ``limit`` bytes. Returns True when it had to cut."""
    try:
        used = os.path.getsize(path)
    except OSError:
        used = 0
    budget = limit - used - 1
    cut = len(markdown.encode("utf-8")) > budget
    if cut:
        tail = (
            "\n\n> [!WARNING]\n> The report was cut to fit GitHub's 1 MiB job-summary "
            "limit." + (f" {note}" if note else "") + "\n"
        )
        markdown = truncate_markdown(markdown, budget - len(tail.encode("utf-8")), unit="bytes")
        markdown += tail
    with open(path, "a", encoding="utf-8") as f:
        f.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return cut
