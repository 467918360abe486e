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
        where = str(self.location)
        return f"{where}: {self.message}" if where else self.message


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


class ParamsError(ScenarioError):
    """A scenario given parameter values it does not take (a name it does not declare, a value
    of the wrong type or out of range), with nothing else wrong: a mistake in the setting, not
    in the file. ``settings``: each as ``NAME=VALUE: what is wrong``, for a face to tell as its
    own setting's problem (``smtpfake serve: error: --param x=1: ...``); ``problems`` are those
    of any ScenarioError (at the scenario's start, or at the parameter's declaration)."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...], settings: list[str]) -> None:
        super().__init__(problems)
        self.settings = tuple(settings)


def cannot_read(file: str, exc: OSError | UnicodeDecodeError) -> ScenarioError:
    """The ScenarioError of a scenario file that cannot be read. Nothing in it was read, so no
    line:col: ``scen/full.yaml: cannot read: No such file or directory``. Text that is not
    UTF-8 is told at its first bad byte, the one place that can be pointed at:
    ``a.yaml:3:5: cannot read: not UTF-8 (byte 0xe9: invalid continuation byte)``."""
    if isinstance(exc, UnicodeDecodeError):
        data = bytes(exc.object)
        start = data.rfind(b"\n", 0, exc.start) + 1  # of the bad byte's line
        line = data.count(b"\n", 0, start) + 1
        column = len(data[start : exc.start].decode("utf-8", "replace")) + 1  # in characters
        message = f"cannot read: not UTF-8 (byte 0x{data[exc.start]:02x}: {exc.reason})"
        return ScenarioError([Problem(Location(file, line, column), message)])
    # strerror alone: str(exc) repeats the file name ("[Errno 2] ...: 'scen/full.yaml'")
    return ScenarioError([Problem(Location(file, 0, 0), f"cannot read: {exc.strerror or exc}")])
