"""Scenario errors: every problem in a file, each at file:line:col."""

from __future__ import annotations

from dataclasses import dataclass

from smtpfake.scenario.model import Location


@dataclass(frozen=True)
class Problem:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ScenarioError(Exception):
    """A scenario could not be loaded; ``problems`` lists all of them, in file order."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(
            sorted(problems, key=lambda p: (p.location.file, p.location.line, p.location.column))
        )
        super().__init__("\n".join(str(p) for p in self.problems))
