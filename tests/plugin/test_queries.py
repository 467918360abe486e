"""Item 8: asking the journal questions; near misses when nothing matches."""

from __future__ import annotations

import dataclasses
import re
import smtplib
import socket
import time
from collections.abc import Iterator

import pytest

from smtpfake.control import SmtpFake
from smtpfake.queries import retries
from smtpfake.server import Server


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server("default") as s:
        yield s


@pytest.fixture
def fake(server: Server) -> SmtpFake:
    server.reset()
    server.use("default")
    return SmtpFake(server)


def send(fake: SmtpFake, sender: str, to: list[str], subject: str, extra: str = "") -> None:
    body = f"Subject: {subject}\r\n{extra}\r\nhello\r\n".encode()
    with smtplib.SMTP(fake.host, fake.port, timeout=5) as c:
        c.sendmail(sender, to, body)


def test_find_messages_by_each_field(fake: SmtpFake) -> None:
    send(fake, "app@x.test", ["ann@y.test", "bob@y.test"], "Welcome", "X-Kind: signup\r\n")
    send(fake, "billing@x.test", ["ann@y.test"], "Invoice 7", "X-Kind: invoice\r\n")
    assert [m.subject for m in fake.find_messages(to="ANN@y.test")] == ["Welcome", "Invoice 7"]
    assert [m.subject for m in fake.find_messages(to="bob@y.test")] == ["Welcome"]
    assert [m.mail_from for m in fake.find_messages(sender="billing@x.test")] == ["billing@x.test"]
    assert len(fake.find_messages(subject=re.compile(r"Invoice \d+"))) == 1
    assert fake.find_messages(subject="welcome") == ()  # subjects compare exactly
    (m,) = fake.find_messages(headers={"X-Kind": "invoice"}, to="ann@y.test")
    assert m.subject == "Invoice 7"
    (signup,) = fake.assert_delivered(to="bob@y.test", subject="Welcome")
    assert signup.rcpt_tos == ("ann@y.test", "bob@y.test")
    fake.assert_not_delivered(to="eve@y.test")
    with pytest.raises(AssertionError, match=r"expected no message matching to='ann@y\.test'"):
        fake.assert_not_delivered(to="ann@y.test")


def test_no_match_lists_the_closest_candidates(fake: SmtpFake) -> None:
    send(fake, "app@x.test", ["ann@y.test"], "Welcome aboard")
    send(fake, "app@x.test", ["bob@y.test"], "Invoice")
    with pytest.raises(AssertionError) as info:
        fake.assert_delivered(to="ann@y.test", subject="Welcome")
    text = str(info.value)
    assert (
        "expected at least 1 accepted message(s) matching to='ann@y.test', subject='Welcome'"
        in text
    )
    assert "closest of 2 accepted message(s):" in text
    # the nearer one (right recipient) first, with only the field that differs
    first = text.index("'Welcome aboard'")
    assert first < text.index("subject 'Invoice'")
    assert "subject: wanted 'Welcome', got 'Welcome aboard'" in text
    assert "to: wanted 'ann@y.test', got 'bob@y.test'" in text
    assert "S: 250" in text  # not under the plugin: the transcript comes with it


def test_count_mismatch_and_empty_journal(fake: SmtpFake) -> None:
    with pytest.raises(AssertionError, match="no message was accepted at all"):
        fake.assert_delivered(subject="x")
    send(fake, "a@x.test", ["b@y.test"], "same")
    send(fake, "a@x.test", ["b@y.test"], "same")
    with pytest.raises(AssertionError, match=r"expected 1 accepted message\(s\).*got 2"):
        fake.assert_delivered(1, subject="same")  # delivered twice: a duplicate
    assert len(fake.assert_delivered(2)) == 2


def test_sessions_where_a_rule_fired_or_a_code_was_sent(fake: SmtpFake) -> None:
    fake.use(
        {
            "rules": [
                {
                    "name": "full",
                    "on": "rcpt",
                    "match": "*@full.test",
                    "reply": "452 4.2.2 Mailbox full",
                },
                {"name": "blocked", "on": "mail", "match": "*@blocked.test", "reply": 550},
            ]
        }
    )
    send(fake, "a@x.test", ["b@ok.test", "c@full.test"], "s")
    send(fake, "a@x.test", ["b@ok.test"], "s")
    (hit,) = fake.sessions_where(rule="full")
    assert hit.index == 1 and fake.sessions_where(rule="full", code=452) == (hit,)
    assert len(fake.sessions_where(code=250)) == 2
    assert fake.assert_sent(code=452) == (hit,)
    with pytest.raises(AssertionError) as info:
        fake.assert_sent(rule="blocked")  # in the scenario, but it did not fire
    assert "no session where rule 'blocked' fired, of 2 session(s); rules that fired: full" in str(
        info.value
    )
    assert "codes sent: 220, 250, 452, 354, 221" in str(info.value)
    with pytest.raises(AssertionError, match="where rule 'full' fired and code 550 was sent"):
        fake.assert_sent(rule="full", code=550)


def test_a_rule_name_the_scenario_lacks_is_an_error_not_nothing(fake: SmtpFake) -> None:
    # a typo found nothing: `assert not sessions_where(rule=...)` passed, vacuously
    fake.use("greylisting")
    send_refused = smtplib.SMTP(fake.host, fake.port, timeout=5)
    with send_refused as c, pytest.raises(smtplib.SMTPRecipientsRefused):
        c.sendmail("a@x.test", ["b@y.test"], b"Subject: s\r\n\r\nx\r\n")
    said = "scenario 'greylisting' has no rule of that name; did you mean 'greylisted'?"
    for helper in (fake.sessions_where, fake.assert_sent):
        with pytest.raises(
            ValueError, match=re.escape(f"{helper.__name__}(rule='greylistd'): {said}")
        ):
            helper(rule="greylistd")
    assert fake.sessions_where(rule="greylisted")  # the right name, as before
    # a rule of an earlier scenario (before use()) that fired is still a name to ask about
    fake.use("default")
    assert fake.sessions_where(rule="greylisted")


def test_retries_and_their_delays(fake: SmtpFake) -> None:
    fake.use("421-at-greeting-once")
    with pytest.raises(smtplib.SMTPConnectError):
        smtplib.SMTP(fake.host, fake.port, timeout=5)
    time.sleep(0.05)  # the client under test waits before retrying
    send(fake, "a@x.test", ["b@y.test"], "s")
    (retry,) = fake.assert_retried(1, min_delay=0.04)
    assert retry.code == 421 and retry.failed.index == 1 and retry.retry.index == 2
    assert (
        repr(retry)
        == f"Retry(failed=session 1, retry=session 2, code=421, delay={retry.delay:.3f})"
    )
    assert retry.delay >= 0.04
    with pytest.raises(
        AssertionError,
        match=r"session 2 came 0\.\d+s after the last reply of session 1 \(which had a 421\)",
    ):
        fake.assert_retried(1, min_delay=60)
    with pytest.raises(AssertionError, match=r"expected 2 retry\(ies\), got 1"):
        fake.assert_retried(2)
    # "never reconnects" (times=0) was told as "expected at least 1 retry(ies), got 1"
    with pytest.raises(AssertionError, match=r"expected 0 retry\(ies\), got 1\n  session 2, "):
        fake.assert_retried(0)


def test_a_retry_is_timed_from_the_servers_last_reply(fake: SmtpFake) -> None:
    # The client reads the 421, stays 0.2 s on the closed connection, then closes and connects
    # again at once: it waited 0.2 s after the failure. Timed from when the server noticed the
    # close (the session's end) the retry came at once; a loaded machine noticing a close late
    # even made a client that slept after closing look early (README's example failed so).
    fake.use("421-at-greeting-once")
    with socket.create_connection((fake.host, fake.port), timeout=5) as failed:
        greeting = b""
        while not greeting.endswith(b"\r\n"):
            greeting += failed.recv(1024)
        assert greeting.startswith(b"421 ")
        time.sleep(0.2)
    send(fake, "a@x.test", ["b@y.test"], "s")
    (retry,) = fake.assert_retried(1, min_delay=0.2)
    said = [e.time for e in retry.failed.transcript if e.text.startswith("421 ")]
    assert retry.delay == retry.retry.started - said[-1]


def test_a_retry_is_the_next_connection_from_the_same_client_ip(fake: SmtpFake) -> None:
    # Two senders behind one server (containers with their own addresses): A from 127.0.0.2
    # is greylisted, B from 127.0.0.3 too, then each retries. B's first connection is not A's
    # retry, though it came next (fresh14 N5: A's correct retry was judged 0.1 s early).
    fake.use("greylisting")

    def attempt(ip: str) -> None:
        with smtplib.SMTP(fake.host, fake.port, timeout=5, source_address=(ip, 0)) as client:
            client.ehlo("c.test")
            client.mail("a@x.test")
            client.rcpt("b@y.test")

    for ip in ("127.0.0.2", "127.0.0.3", "127.0.0.2", "127.0.0.3"):
        attempt(ip)
    pairs = [(r.failed.index, r.retry.index) for r in fake.retries()]
    assert pairs == [(1, 3), (2, 4)]
    assert {r.failed.peer.split(":")[0] for r in fake.retries()} == {"127.0.0.2", "127.0.0.3"}


def test_no_retry_when_nothing_failed(fake: SmtpFake) -> None:
    send(fake, "a@x.test", ["b@y.test"], "s")
    send(fake, "a@x.test", ["b@y.test"], "s")
    assert fake.retries() == ()
    with pytest.raises(AssertionError, match=r"expected at least 1 retry\(ies\), got 0"):
        fake.assert_retried()


def test_a_retry_is_timed_from_the_last_reply_the_client_had(fake: SmtpFake) -> None:
    # A client reads the 451, sends QUIT and resets the connection at once, then retries: the
    # 221 is not delivered (0 octets), stamped at the session's end. Timed from it, the retry
    # looked sooner than the client waited after the 451, the last reply it had (fresh12 F4).
    fake.use("greylisting")
    with smtplib.SMTP(fake.host, fake.port, timeout=5) as client:
        client.ehlo("c.test")
        client.mail("a@x.test")
        assert client.rcpt("b@y.test")[0] == 451
    with smtplib.SMTP(fake.host, fake.port, timeout=5) as client:
        client.noop()
    failed, retry = fake.sessions
    entries = list(failed.transcript)
    replies = [i for i, e in enumerate(entries) if e.side == "server" and not e.note]
    assert [entries[i].text[:4] for i in replies[-2:]] == ["451 ", "221 "]
    # the same session had the client left before the 221 was written (a reset right after
    # QUIT): not delivered, 0 octets, stamped when the session ended
    entries[replies[-1]] = dataclasses.replace(
        entries[replies[-1]], delivered=False, written=0, time=retry.started - 0.001
    )
    left = dataclasses.replace(failed, transcript=tuple(entries))
    (timed,) = retries([left, retry])
    assert timed.delay == retry.started - entries[replies[-2]].time  # from the 451
