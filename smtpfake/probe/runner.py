"""Running cases: a fresh server per case on its own port, the client pointed at it, the
journal judged. The client is anything that takes a :class:`Target` and returns a
:class:`ClientRun`: a command (``command_client``, what ``smtpfake probe -- CMD`` runs) or a
Python send function (``function_client``, what the pytest helper runs).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from smtpfake.journal import Journal
from smtpfake.probe.cases import Case, Target, target_for
from smtpfake.probe.judge import CheckResult, Evidence, Verdict, judge_checks, verdict
from smtpfake.probe.outcomes import ExitMap, classify
from smtpfake.scenario.checks import ClientKind
from smtpfake.server import Server
from smtpfake.tls import TlsUnavailable

#: after a one-shot client exits, how long its sessions get to end (its close to reach us)
_END_WAIT = 3.0
#: ``{name}`` in a command's arguments; other braces (code, JSON, ``${VAR}``) are left alone
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
#: output kept from a client command, per stream (the end of it)
_OUTPUT_TAIL = 4000


@dataclass(frozen=True)
class ClientRun:
    """What running the client once gave."""

    outcome: str | None = None  # delivered / transient / permanent (one-shot)
    exit_status: int | None = None
    timed_out: bool = False
    error: str = ""
    output: str = ""  # the tail of its stdout and stderr


Client = Callable[[Target, float], ClientRun]  # (target, timeout in seconds) -> run


@dataclass(frozen=True)
class Options:
    kind: ClientKind = ClientKind.ONE_SHOT
    timeout: float = 30.0  # per case, seconds: a one-shot client is stopped after this
    budget: float = 30.0  # a retrying client's time, seconds
    settle: float = 3.0  # retrying: quiet seconds after the expected deliveries to stop early
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port per case; else this one (cases then run one at a time)
    seed: int | None = None
    #: retrying: the client is done when it returns (an in-process function) rather than a
    #: command that hands the message to a queue and exits while the queue goes on
    done_when_returned: bool = False


@dataclass(frozen=True)
class CaseResult:
    case: Case
    kind: ClientKind
    verdict: Verdict
    reason: str
    checks: tuple[CheckResult, ...]
    evidence: Evidence
    seconds: float
    output: str = ""
    errors: tuple[str, ...] = field(default=())  # smtpfake's own errors while serving

    @property
    def name(self) -> str:
        return self.case.name

    def transcript(self) -> str:
        """Every session of the case, as the journal formats it (``SessionRecord.format``: what
        the client sent that a terminal would act on or that is not UTF-8 is shown as ``\\xNN``):
        the text goes to a terminal, an XML or an HTML file."""
        return "\n".join(s.format() for s in self.evidence.sessions) or "(no connection)"


def needs_trustme(case: Case) -> bool:
    """The case serves TLS (or tells the client of a CA file): the server's certificates and
    the CA the client trusts are generated, by the optional ``trustme`` package."""
    return case.tls != "none" or case.scenario.server.tls.enabled


def trustme_missing() -> bool:
    """``pip install .`` without ``[tls]``: the TLS cases cannot be served here."""
    try:
        import trustme  # noqa: F401
    except ImportError:
        return True
    return False


#: why a TLS case cannot run without trustme, in one line
NEEDS_TLS_EXTRA = "needs TLS, and so the 'trustme' package: pip install 'smtpfake[tls]'"


def run_case(case: Case, client: Client, options: Options = Options()) -> CaseResult:
    """Run the client against the case once and judge it."""
    started = time.monotonic()
    try:
        if needs_trustme(case) and trustme_missing():
            # Server() would raise a ScenarioError, or tls_ca_file a TlsUnavailable, mid-run
            raise TlsUnavailable(NEEDS_TLS_EXTRA)
        server = Server(case.scenario, host=options.host, port=options.port, seed=options.seed)
    except TlsUnavailable as exc:  # an optional package is missing: this case cannot run here
        evidence = Evidence((), error=str(exc))
        return CaseResult(
            case, options.kind, Verdict.FAIL, f"cannot serve this case here: {exc}", (),
            evidence, time.monotonic() - started,
        )  # fmt: skip
    with server, tempfile.TemporaryDirectory(prefix="smtpfake-probe-") as folder:
        ca_file = server.tls_ca_file if case.tls != "none" else None
        target = target_for(case, server.host, server.port, ca_file, Path(folder))
        if options.kind is ClientKind.ONE_SHOT:
            run = client(target, options.timeout)
            server.journal.wait(_all_ended, _END_WAIT)
        else:
            run = _retrying(case, client, target, server.journal, options)
        sessions = server.journal.sessions()
        errors = tuple(str(e) for e in server.errors)
    evidence = Evidence(sessions, run.outcome, run.exit_status, run.timed_out, run.error)
    results = judge_checks(case.checks.judge, options.kind, evidence)
    grade, reason = verdict(results, evidence)
    if run.timed_out and options.kind is ClientKind.ONE_SHOT and "did not exit" not in reason:
        reason = f"stopped after {options.timeout:g} s (did not exit in time); {reason}"
    if errors:
        grade, reason = Verdict.FAIL, f"smtpfake error while serving: {errors[0].splitlines()[0]}"
    return CaseResult(
        case, options.kind, grade, reason, results, evidence, time.monotonic() - started,
        run.output, errors,
    )  # fmt: skip


def _activity(journal: Journal) -> tuple[int, int]:
    """(sessions, messages) so far."""
    sessions = journal.sessions()
    return len(sessions), sum(len(s.messages) for s in sessions)


def _changed(journal: Journal, since: tuple[int, int]) -> bool:
    return _activity(journal) != since


def _all_ended(journal: Journal) -> bool:
    return all(s.ended is not None for s in journal.sessions())


def _retrying(
    case: Case, client: Client, target: Target, journal: Journal, options: Options
) -> ClientRun:
    """A retrying client gets the whole budget, less when it has done what the case expects
    (delivered as often as a ``delivered`` check says, then quiet for ``settle`` seconds) and
    no check is about what it must not do later (``retried: false``)."""
    deadline = time.monotonic() + options.budget
    # only the checks a retrying client is judged by: a one-shot ``delivered: 0`` would end
    # the case as soon as a queueing client (sendmail, Postfix) went quiet before its retry
    expected = [
        c.count
        for c in case.checks.judge
        if c.kind == "delivered" and c.applies_to(ClientKind.RETRYING)
    ]
    may_stop = bool(expected) and not any(
        c.kind in ("retried", "max-connections") for c in case.checks.judge
    )
    box: list[ClientRun] = []
    worker = threading.Thread(
        target=lambda: box.append(client(target, options.budget)), daemon=True
    )
    worker.start()
    last = (0, 0)
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        # wakes at once on a new session or message, else every half second
        changed = functools.partial(_changed, since=last)
        journal.wait(changed, min(0.5, deadline - time.monotonic()))
        now = _activity(journal)
        if now != last:
            last, quiet_since = now, time.monotonic()
        settled = time.monotonic() - quiet_since >= options.settle and _all_ended(journal)
        done = options.done_when_returned or (may_stop and last[1] >= expected[0])
        if settled and done and not worker.is_alive():
            break
    worker.join(timeout=max(1.0, options.timeout))
    run = box[0] if box else ClientRun(timed_out=True)
    return ClientRun(None, run.exit_status, run.timed_out, run.error, run.output)


def run_cases(
    cases: Sequence[Case],
    client: Client,
    options: Options = Options(),
    jobs: int = 1,
) -> Iterator[CaseResult]:
    """Each case's result, in the order the cases were given; ``jobs`` at a time (one at a
    time on a fixed port)."""
    jobs = 1 if options.port else max(1, jobs)
    with concurrent.futures.ThreadPoolExecutor(jobs, thread_name_prefix="probe") as pool:
        futures = [pool.submit(run_case, case, client, options) for case in cases]
        for future in futures:
            yield future.result()


def command_client(argv: Sequence[str], exits: ExitMap | None = None) -> Client:
    """A client that runs ``argv`` (``{placeholders}`` filled in) with the case's environment;
    its exit status is the outcome. Stopped (its whole process group) after the timeout."""

    def run(target: Target, timeout: float) -> ClientRun:
        values = target.placeholders()
        if problem := placeholder_problem(argv):
            return ClientRun(error=problem)
        args = [_PLACEHOLDER.sub(lambda m: values[m.group(1)], a) for a in argv]
        env = {**os.environ, **target.variables()}
        try:
            proc = subprocess.Popen(
                args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            return ClientRun(error=f"{args[0]}: {exc.strerror or exc}")
        try:
            out, _ = proc.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out, _ = proc.communicate()
            timed_out = True
        # octets that are not UTF-8 kept (as surrogate escapes): the reports show them as \xNN
        text = out.decode("utf-8", "surrogateescape")[-_OUTPUT_TAIL:]
        status = proc.returncode
        outcome = None if timed_out else (exits or ExitMap()).outcome(status)
        return ClientRun(outcome, status, timed_out, "", text)

    return run


def placeholder_problem(argv: Sequence[str]) -> str:
    """Why the command's ``{placeholders}`` cannot be filled in, or "" when they can."""
    names = Target.placeholder_names()
    unknown = sorted({m for a in argv for m in _PLACEHOLDER.findall(a)} - set(names))
    if not unknown:
        return ""
    known = ", ".join("{" + k + "}" for k in names)
    return f"unknown placeholder {{{unknown[0]}}} in the command (known: {known})"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def function_client(send: Callable[[Target], object]) -> Client:
    """A client that calls ``send(target)`` in a thread: returning is "delivered" (or the
    outcome it returns, a string); an exception is classified (outcomes.classify)."""

    def run(target: Target, timeout: float) -> ClientRun:
        box: list[ClientRun] = []

        def call() -> None:
            try:
                returned = send(target)
            except Exception as exc:  # the client's failure: judged, shown in the report
                box.append(ClientRun(classify(exc), output=f"{type(exc).__name__}: {exc}"))
                return
            outcome = returned if isinstance(returned, str) else "delivered"
            box.append(ClientRun(outcome))

        worker = threading.Thread(target=call, name=f"probe-{target.case}", daemon=True)
        worker.start()
        worker.join(timeout)
        return box[0] if box else ClientRun(timed_out=True)

    return run
