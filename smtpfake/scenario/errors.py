"""Scenario errors: every problem in a file, each at file:line:col."""

from __future__ import annotations

from smtpfake.frozen_dataclass import frozen_dataclass
from smtpfake.scenario.model import Location


@frozen_dataclass
class Problem:
    """One thing wrong in a scenario, at the place it was written."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ScenarioError(Exception):
    """A scenario could not be loaded; ``problems`` lists them in file order, up to
    limits.MAX_PROBLEMS (``more`` counts the rest; ``str()`` ends "... and N more problems")."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...], *, more: int = 0) -> None:
        self.problems = tuple(
            sorted(problems, key=lambda p: (p.location.file, p.location.line, p.location.column))
        )
        #: problems found but not listed (past limits.MAX_PROBLEMS)
        self.more = more
        lines = [str(p) for p in self.problems]
        if more:
            where = f"{self.problems[0].location.file}: " if self.problems else ""
            lines.append(f"{where}... and {more} more problem{'s' if more != 1 else ''}")
        super().__init__("\n".join(lines))
