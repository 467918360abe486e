"""The message bodies a case asks the client to send (``checks.client.message``), as bytes with
CRLF line endings unless the point is otherwise. RFC 5322 headers a real client would write."""

from __future__ import annotations

from smtpfake.scenario.checks import MESSAGE_NAMES


def _message(subject: str, body: bytes) -> bytes:
    head = (
        "From: Probe <sender@probe.test>\r\n"
        "To: rcpt@probe.test\r\n"
        f"Subject: smtpfake probe: {subject}\r\n"
        "Message-ID: <probe@probe.test>\r\n"
        "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
    ).encode("ascii")
    return head + b"\r\n" + body


def _large() -> bytes:
    # 20 KB of 72-octet lines: over the SIZE 10240 of 552-message-too-big
    line = b"x" * 70 + b"\r\n"
    return _message("large", line * 300)


#: name -> the bytes of the message (what SMTP_MESSAGE_FILE holds)
MESSAGES: dict[str, bytes] = {
    "plain": _message("plain", b"Hello from the smtpfake probe.\r\n"),
    # RFC 6152: 8-bit octets need BODY=8BITMIME, which only an advertising server accepts
    "eight-bit": (
        _message("eight-bit", "Gr\u00fc\u00dfe aus der Pr\u00fcfung.\r\n".encode()).replace(
            b"Subject:",
            b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\nSubject:",
        )
    ),
    # RFC 5321 §2.3.8: a bare LF must not be sent; a client must send CRLF on the wire
    "bare-lf": _message("bare-lf", b"first line\nsecond line\n"),
    # the same for a bare CR, in the shape of SMTP smuggling: <CR>.<CR> and then a transaction,
    # which a server reading a bare CR as a line end (bare_cr: clean) runs as commands
    "bare-cr": _message(
        "bare-cr",
        b"first line\rsecond line\r.\rMAIL FROM:<smuggled@probe.test>\r\n"
        b"RCPT TO:<rcpt@probe.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n",
    ),
    "large": _large(),
    # RFC 5321 §4.5.3.1.6: text lines are at most 1000 octets with CRLF
    "long-line": _message("long-line", b"y" * 1500 + b"\r\n"),
}

assert set(MESSAGES) == set(MESSAGE_NAMES), "messages.py and scenario/checks.py are out of step"
