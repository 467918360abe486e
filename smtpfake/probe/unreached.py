"""A client command that never reached the server: one clear error, not a wall of failures.

``smtpfake probe -- python3 typo.py`` finds the interpreter (so the command passes the check
made before any case), but every case then goes alike: exit 2, no connection, the same "can't
open file" (a case that wants a permanent failure even passes). The rule: when two or more cases
ran and the client connected in none of them and, in each, exited (not stopped at the timeout)
with the same status, one that does not mean "delivered", and the same output, the command as
given cannot be probed: the probe says so once, quoting the end of that output, and exits 2 as
for its other command-line mistakes (no table, no report written). One case that differs (the
client connected, or exited otherwise) and every case is judged and shown as usual; so is a
client that says "delivered" (exit 0) without connecting, its own fault for the cases to show,
and a selection of one case (its row and reports say what the client wrote). The rows are held
back only while the cases so far all went alike: the first that differs shows them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smtpfake.probe.runner import CaseResult

#: cases that must have gone alike: one alone may be the client's own failure in that case,
#: and its row (and report) say what it wrote
MIN_CASES = 2
#: the lines of the client's output quoted in the error (its end: where a traceback says why)
QUOTED_LINES = 5


def _signature(result: CaseResult) -> tuple[int, str] | None:
    """How the client went in this case when it never connected and exited reporting a failure
    (a status not "delivered"), else None. The verdict is not asked: a case that wants a
    permanent failure passes on any such exit, connected or not."""
    evidence = result.evidence
    if evidence.sessions or evidence.timed_out or evidence.exit_status is None:
        return None
    if evidence.outcome == "delivered":  # a claim to have sent, never connecting: judged
        return None
    return (evidence.exit_status, result.output)


class Unreached:
    """Holds back the results while every case so far is the same exit without a connection
    (:meth:`shown` yields the ones to show, and a lone one at the end); :meth:`problem` says,
    after the last, whether every case was."""

    def __init__(self) -> None:
        self._held: list[CaseResult] = []
        self._alike: tuple[int, str] | None = None
        self._judged = False  # a case differed: everything is shown as it comes

    def shown(self, results: Iterable[CaseResult]) -> Iterator[CaseResult]:
        """``results`` as they come, less those held back (see the class)."""
        for result in results:
            if not self._judged:
                signature = _signature(result)
                if signature is not None and (not self._held or signature == self._alike):
                    self._alike = signature
                    self._held.append(result)
                    continue
                self._judged = True
                yield from self._held
                self._held.clear()
            yield result
        if len(self._held) < MIN_CASES:  # one case alone: its row says why, as any failure's
            self._judged = True
            yield from self._held
            self._held.clear()

    def problem(self, command: str) -> str | None:
        """The error when every case ended as the held ones did, else None."""
        if self._judged or not self._held or self._alike is None:
            return None
        status, output = self._alike
        return (
            f"the client exited with status {status} in each of the {len(self._held)} cases "
            f"without connecting: the command cannot be probed as given ({command}); "
            f"{_quoted(output)}"
        )


def _quoted(output: str) -> str:
    """The end of the client's output, each line indented, or that it wrote nothing."""
    from smtpfake.visible import visible  # what a terminal would act on, shown as \\xNN

    lines = [visible(line) for line in output.strip().splitlines()[-QUOTED_LINES:]]
    if not lines:
        return "it wrote nothing"
    return "its output:\n" + "\n".join(f"    {line}" for line in lines)
