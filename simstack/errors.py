"""Errors raised when a scenario breaks the format contract.

A :class:`ScenarioError` carries every :class:`Problem` found in one file, each
located by file, line, column (1-based, ``None`` when unknown) and field path, so
that ``str(error)`` reads like compiler output::

    scen.yaml:12:7: goroutines[2].program[0].depth: expected a non-negative integer or a distribution, got 'abc'
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario; ``path`` is '' for file-level problems."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        return self._format(self.message)

    def _format(self, message: str) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        return f"{where}: {self.path}: {message}" if self.path else f"{where}: {message}"


@dataclass(frozen=True)
class ScenarioWarning(Problem):
    """A setting that is legal but almost certainly not meant: ``file:line:col: path: warning: ...``."""

    def __str__(self) -> str:
        return self._format(f"warning: {self.message}")

    def as_error(self) -> Problem:
        """The same problem as an error (``--strict``)."""
        return Problem(self.file, self.line, self.column, self.path, f"{self.message} [--strict]")


class ScenarioError(Exception):
    """A scenario was rejected; ``problems`` lists every reason, in file order."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.column or 0))
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(map(str, self.problems))

    @classmethod
    def single(cls, file: str, line: int | None, column: int | None, path: str, message: str) -> ScenarioError:
        """An error with one problem; the arguments are those of :class:`Problem`."""
        return cls([Problem(file, line, column, path, message)])


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """A hint for a misspelt name: "; did you mean 'x'?", or '' when nothing is close."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def format_path(loc: Iterable[str | int]) -> str:
    """('goroutines', 2, 'program', 0, 'depth') -> 'goroutines[2].program[0].depth'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that the same clean-up runs (exit 143)."""
