"""quick_subject (serve's JSON log reads a message's Subject with it) against the email package's
answer, ``Message.subject``: the same text whenever it gives one, on plain and on awkward
header blocks; None (the email package decides) for what it does not read itself."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from smtpfake.engine.records import HEADER_SCAN_BYTES, Message
from smtpfake.quick_subject import quick_subject


def parsed(data: bytes) -> str:
    return Message("a@x.test", ("b@y.test",), data, 1, 0.0, "SF000001").subject


_NAMES = st.sampled_from(
    [b"Subject", b"subject", b"SUBJECT", b"sUbJeCt", b"From", b"To", b"X-Subject", b"Subjects"]
)
# values with what makes headers awkward: runs of blanks, tabs, quotes, comments, encoded-word
# marks, non-ASCII octets, control octets, bare CR or LF
_VALUES = st.lists(
    st.sampled_from(
        [
            b"hello",
            b" ",
            b"  ",
            b"\t",
            b'"q"',
            b"(c)",
            b"\\",
            b"=?",
            b"?=",
            b"=?utf-8?q?x?=",
            b"caf\xc3\xa9",
            b"\xff",
            b"\x1b",
            b"\x00",
            b"\r",
            b"\n",
            b":",
            b"a",
            b"\x7f",
        ]
    ),
    max_size=8,
).map(b"".join)
_LINES = st.lists(
    st.one_of(
        st.tuples(_NAMES, st.sampled_from([b":", b": ", b":\t", b" :"]), _VALUES).map(b"".join),
        st.sampled_from([b" folded", b"\tfolded", b"From sender", b"no colon", b""]),
    ),
    max_size=6,
)


@settings(max_examples=600, deadline=None)
@given(_LINES, st.sampled_from([b"\r\n", b"\n"]))
@example([b"Subject: plain"], b"\r\n")
@example([b"From: a", b"Subject:  two blanks  "], b"\r\n")
@example([b"Subject: =?utf-8?q?caf=C3=A9?="], b"\r\n")
@example([b"Subject: one", b" folded"], b"\r\n")
@example([b"From sender", b"Subject: after an mbox line"], b"\r\n")
def test_it_reads_what_the_email_package_reads_or_leaves_it_to_it(
    lines: list[bytes], newline: bytes
) -> None:
    data = newline.join(lines) + newline + newline + b"the body\r\nSubject: not a header\r\n"
    quick = quick_subject(data)
    if quick is not None:
        assert quick == parsed(data), data


def test_plain_header_blocks_are_read_without_the_email_package() -> None:
    head = b"From: a@x.test\r\nTo: b@y.test\r\nDate: Mon, 1 Jan 2026 00:00:00 +0000\r\n"
    for subject in (b"hello", b"", b"a  b\tc  ", b'"quoted" (comment) \\ ok'):
        data = head + b"Subject: " + subject + b"\r\n\r\nbody\r\n"
        assert quick_subject(data) == parsed(data) == subject.decode().lstrip()
    assert quick_subject(head + b"\r\nSubject: in the body\r\n") == "" == parsed(head + b"\r\n")


def test_a_header_block_past_the_scan_limit_is_left_to_the_email_package() -> None:
    data = b"X-Long: " + b"x" * HEADER_SCAN_BYTES + b"\r\nSubject: late\r\n\r\n"
    assert quick_subject(data) is None
