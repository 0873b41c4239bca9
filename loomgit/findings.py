"""Findings: the one-line results of ``loomgit check`` (``path:line: level: message``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    path: str
    line: int | None
    level: str  # error | warning
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.level}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "level": self.level, "message": self.message}


def error(path: str, line: int | None, message: str) -> Finding:
    return Finding(path, line, "error", message)


def warning(path: str, line: int | None, message: str) -> Finding:
    return Finding(path, line, "warning", message)
