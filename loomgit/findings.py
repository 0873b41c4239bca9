"""Findings: the one-line results of ``loomgit check`` (``path:line: level: message``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    path: str
    line: int | None
    level: str  # error | warning
    message: str
    col: int | None = None  # 1-based, when the exact place is known (template errors)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        if self.line and self.col:
            where += f":{self.col}"
        return f"{where}: {self.level}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {"path": self.path, "line": self.line}
        if self.col is not None:
            d["col"] = self.col
        return {**d, "level": self.level, "message": self.message}


def error(path: str, line: int | None, message: str, col: int | None = None) -> Finding:
    return Finding(path, line, "error", message, col)


def warning(path: str, line: int | None, message: str) -> Finding:
    return Finding(path, line, "warning", message)
