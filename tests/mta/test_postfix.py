"""Postfix, a real retrying MTA, as the client: it defers, retries and delivers exactly once.

Each test starts smtpfake on a free loopback port and a throwaway Postfix (``postfix-relay``, from
``../shared/tools``) relaying every message to it with retry times of a few seconds. ``flush`` asks
Postfix for an immediate retry, so a test takes seconds, not minutes. Needs root and Debian's
postfix (``.ci/postfix-deps`` installs it); otherwise the tests skip, saying why.
Deselect with ``-m "not mta"``.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from smtpfake.engine import FakeClock
from smtpfake.journal import Journal, SessionRecord
from smtpfake.server import Server

# one worker runs them all under pytest-xdist: they share one Postfix configuration
pytestmark = [pytest.mark.mta, pytest.mark.xdist_group("postfix")]

ROOT = Path(__file__).resolve().parents[2]
RELAY_TOOL = Path(
    os.environ.get("SMTPFAKE_POSTFIX_RELAY", ROOT.parent / "shared" / "tools" / "postfix-relay")
)
#: set (as CI should, after .ci/postfix-deps) to fail instead of skipping when Postfix is missing
REQUIRED = bool(os.environ.get("SMTPFAKE_REQUIRE_MTA"))
#: Not pytest's tmp_path: Postfix's daemons run as the postfix user and must reach the queue, and
#: its private sockets need a short path. Fixed names, because postfix-relay lists each instance's
#: directory in /etc/postfix/main.cf once: random names would make that list grow every run.
BASE = Path("/tmp/smtpfake-postfix")
WAIT = 30.0  # the longest any one step may take; Postfix retries within seconds when flushed
FLUSH_EVERY = 1.5
POSTFIX_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def postfix_missing_reason() -> str | None:
    """Why the tests cannot run here, or None. Installs postfix (as CI does) when it can."""
    if not RELAY_TOOL.is_file():
        return f"postfix-relay not found at {RELAY_TOOL} (set SMTPFAKE_POSTFIX_RELAY)"
    if os.geteuid() != 0:
        return "postfix-relay needs root (it edits /etc/postfix/main.cf)"
    if shutil.which("postfix", path=POSTFIX_PATH) is None:
        if shutil.which("apt-get") is None:
            return "postfix is not installed and there is no apt-get to install it"
        try:
            subprocess.run(
                ["bash", str(ROOT / ".ci" / "postfix-deps")], timeout=100, capture_output=True
            )
        except subprocess.TimeoutExpired:
            return "installing postfix took over 100 s (run .ci/postfix-deps first)"
        if shutil.which("postfix", path=POSTFIX_PATH) is None:
            return "postfix could not be installed (see /tmp/smtpfake-postfix-apt.log)"
    return None


def unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"SMTPFAKE_REQUIRE_MTA is set, but {reason}")
    pytest.skip(reason)


class Relay:
    """One throwaway Postfix instance, driven through postfix-relay."""

    def __init__(self, name: str, port: int) -> None:
        self.dir = BASE / name
        self.port = port

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RELAY_TOOL), *args], capture_output=True, text=True, timeout=60, check=check
        )

    def start(self) -> None:
        # An instance left running by an interrupted run holds the directory: stop it first.
        self.stop()
        done = self.run("start", str(self.port), str(self.dir), check=False)
        if done.returncode != 0:
            start_log = self.dir / "start.log"
            detail = start_log.read_text() if start_log.exists() else ""
            unavailable(f"postfix could not be started: {done.stderr.strip()} {detail.strip()}")

    def send(self, subject: str) -> None:
        self.run("send", str(self.dir), subject, "rcpt@example.test")

    def flush(self) -> None:
        self.run("flush", str(self.dir))

    def log(self) -> str:
        return self.run("log", str(self.dir), check=False).stdout

    def statuses(self) -> list[str]:
        """The delivery statuses Postfix logged for the relayed message, in order."""
        return re.findall(r"relay=\S+.*? status=(\w+)", self.log())

    def stop(self) -> None:
        if (self.dir / "etc" / "main.cf").exists():
            self.run("stop", str(self.dir), check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def postfix_available() -> Iterator[None]:
    reason = postfix_missing_reason()
    if reason is not None:
        unavailable(reason)
    # Two runs at once (say, two Python versions) would share the fixed directories: take turns.
    BASE.mkdir(mode=0o755, exist_ok=True)
    BASE.chmod(0o755)
    with open(BASE / ".lock", "w") as lock:
        deadline = time.monotonic() + 60
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another test run has held {BASE}/.lock for 60 s")
                time.sleep(0.2)
        yield


@pytest.fixture
def start_pair(
    postfix_available: None, request: pytest.FixtureRequest
) -> Iterator[Callable[..., tuple[Server, Relay]]]:
    """Start smtpfake with a scenario and a Postfix relaying to it; both stopped afterwards."""
    started: list[tuple[Server, Relay]] = []
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40]

    def start(scenario: str, clock: FakeClock | None = None) -> tuple[Server, Relay]:
        server = Server(scenario, clock=clock).start()
        relay = Relay(f"{name}-{len(started)}", server.port)
        started.append((server, relay))
        relay.start()
        return server, relay

    yield start
    for server, relay in started:
        relay.stop()
        errors = list(server.errors)
        server.stop()
        assert not errors, "\n".join(str(e) for e in errors)


def wait_for(what: str, predicate: Callable[[], bool], relay: Relay) -> None:
    """Poll ``predicate`` for at most WAIT seconds, failing with Postfix's log if it never holds."""
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(
                f"timed out after {WAIT:.0f}s waiting for {what}; postfix log:\n{relay.log()}"
            )
        time.sleep(0.1)


def retry_until(
    what: str, predicate: Callable[[Journal], object], server: Server, relay: Relay
) -> None:
    """Ask Postfix to retry now (its deferred queue is otherwise re-run after 3-6 s) until the
    journal shows ``predicate``; at most WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while True:
        relay.flush()
        if server.journal.wait(predicate, timeout=FLUSH_EVERY):
            return
        if time.monotonic() > deadline:
            sessions = "\n".join(s.format() for s in server.sessions)
            pytest.fail(
                f"timed out after {WAIT:.0f}s waiting for {what}\nsessions:\n{sessions}\n"
                f"postfix log:\n{relay.log()}"
            )


def ended(journal: Journal) -> list[SessionRecord]:
    return [s for s in journal.sessions() if s.ended is not None]


def rcpt_replies(sessions: Sequence[SessionRecord]) -> list[str]:
    """The reply to every RCPT TO, over all sessions in order (Postfix pipelines MAIL, RCPT and
    DATA in one write, so the transcript has the three lines, then the three replies:
    ``exchanges()`` pairs them by counting, RFC 2920 §3.1)."""
    return [
        x.reply.text
        for session in sessions
        for x in session.exchanges()
        if x.command.text.upper().startswith("RCPT") and x.reply is not None
    ]


def test_421_at_greeting_once_postfix_defers_retries_and_delivers_once(
    start_pair: Callable[..., tuple[Server, Relay]],
) -> None:
    server, relay = start_pair("421-at-greeting-once")
    subject = f"greeting-{uuid.uuid4().hex[:8]}"
    relay.send(subject)

    # First attempt: greeted with 421 and closed; Postfix defers the message.
    first = server.journal.wait(lambda j: ended(j)[:1], timeout=WAIT)
    assert first, f"Postfix never connected; log:\n{relay.log()}"
    assert first[0].reply_codes == (421,)
    # Postfix answers a 421 greeting with QUIT, into the closed connection: the server reads on
    # for its grace period, so it is recorded, and held against it (RFC 5321 §3.8: after a 421
    # the server closes; only the command a client sent before an unsolicited 421 is forgiven).
    assert first[0].commands in ((), ("QUIT",))
    assert [v.kind for v in first[0].violations] == (
        ["sent-after-close"] if first[0].commands else []
    )
    wait_for("status=deferred", lambda: "deferred" in relay.statuses(), relay)
    assert server.messages == ()

    retry_until("the retry's delivery", lambda j: j.messages(), server, relay)
    wait_for("status=sent", lambda: "sent" in relay.statuses(), relay)

    assert relay.statuses() == ["deferred", "sent"]
    assert len(server.messages) == 1
    message = server.messages[0]
    assert message.subject == subject
    assert message.mail_from == "sender@relay.test"
    assert message.rcpt_tos == ("rcpt@example.test",)
    sessions = server.sessions
    assert sessions[0].reply_codes == (421,)
    assert [len(s.messages) for s in sessions] == [0, 1]
    assert sessions[1].reply_codes[0] == 220
    assert sessions[1].commands[-1].upper() == "QUIT"
    assert [v for s in sessions[1:] for v in s.violations] == []  # the delivery is correct


def test_greylisting_postfix_retries_early_then_late_and_is_accepted_once(
    start_pair: Callable[..., tuple[Server, Relay]],
) -> None:
    # The greylisting window is 300 s on the server's clock; the test moves that clock instead of
    # waiting, between Postfix's real retries.
    clock = FakeClock()
    server, relay = start_pair("greylisting", clock=clock)
    subject = f"greylist-{uuid.uuid4().hex[:8]}"
    relay.send(subject)

    # First attempt: 451 4.7.1 on RCPT; Postfix defers.
    server.journal.wait(lambda j: len(rcpt_replies(ended(j))) >= 1, timeout=WAIT)
    wait_for("status=deferred", lambda: "deferred" in relay.statuses(), relay)
    assert [r[:9] for r in rcpt_replies(ended(server.journal))] == ["451 4.7.1"]
    assert "451 4.7.1" in relay.log()

    # A retry 10 s later (on the server's clock) is too early: refused again.
    clock.advance(10)
    retry_until("an early retry", lambda j: len(rcpt_replies(ended(j))) >= 2, server, relay)
    assert server.messages == ()

    # 301 s after the first attempt the triple has waited long enough.
    clock.advance(291)
    retry_until("the late retry's delivery", lambda j: j.messages(), server, relay)
    wait_for("status=sent", lambda: "sent" in relay.statuses(), relay)

    # Postfix's own queue runs (every 3 s) may add early retries; each must have been refused.
    statuses = relay.statuses()
    assert statuses[-1] == "sent" and set(statuses[:-1]) == {"deferred"} and len(statuses) >= 3
    assert len(server.messages) == 1
    message = server.messages[0]
    assert message.subject == subject
    codes = [r[:3] for r in rcpt_replies(server.sessions)]
    assert codes == ["451"] * (len(statuses) - 1) + ["250"]
    # Postfix pipelines MAIL, RCPT and DATA, so its DATA follows the refused RCPT (RFC 2920 §3.1
    # allows it; see test_pipelining.py): not held against it. Each early retry (within the
    # delay of the first attempt) is retry-too-soon (greylisting's server.retry_after, RFC 6647
    # §2.1); the retry that is accepted is on time; nothing else.
    kinds = [v.kind for s in server.sessions for v in s.violations]
    assert kinds == ["retry-too-soon"] * (len(statuses) - 2)
    (delivered,) = [s for s in server.sessions if s.messages]
    assert delivered.violations == ()
