"""A reply not delivered whole, in the text forms: only the lines that crossed (in part) are
shown as ``S:`` lines; the rest never left, so they are counted, not shown (new-user pass: a
``grep 'S: 250-8BITMIME'`` over the log found a line that never crossed the wire)."""

from __future__ import annotations

import pytest

from smtpfake.engine.records import TranscriptEntry, reply_as_sent

EHLO = "250-smtpfake.test\n250-PIPELINING\n250 HELP"  # 19 + 16 + 10 octets with CRLFs


@pytest.mark.parametrize(
    ("written", "lines", "tag"),
    [
        (0, ["250-smtpfake.test"], "(not delivered: 0 octets written; 2 more lines not sent)"),
        (7, ["250-smtpfake.test"], "(not delivered: 7 octets written; 2 more lines not sent)"),
        # the first line whole with its CRLF: none of the second left (new-user pass: the
        # log showed `S: 250-PIPELINING` that never crossed)
        (19, ["250-smtpfake.test"], "(not delivered: 19 octets written; 2 more lines not sent)"),
        (
            20,
            ["250-smtpfake.test", "250-PIPELINING"],
            "(not delivered: 20 octets written; 1 more line not sent)",
        ),
        (35, EHLO.split("\n")[:2], "(not delivered: 35 octets written; 1 more line not sent)"),
        (36, EHLO.split("\n"), "(not delivered: 36 octets written)"),
        (44, EHLO.split("\n"), "(not delivered: 44 octets written)"),
    ],
)  # fmt: skip
def test_the_lines_shown_end_at_the_first_not_written_whole(
    written: int, lines: list[str], tag: str
) -> None:
    shown, said = reply_as_sent(EHLO, written)
    assert (shown.split("\n"), said) == (lines, f"   {tag}")


def test_format_writes_the_cut_reply_so_and_a_whole_one_whole() -> None:
    cut = TranscriptEntry(1.0, "server", EHLO, rule="slow", delivered=False, written=7)
    assert str(cut) == (
        "S: 250-smtpfake.test   [slow]   (not delivered: 7 octets written; 2 more lines not sent)"
    )
    whole = TranscriptEntry(1.0, "server", EHLO)
    assert str(whole).split("\n") == ["S: 250-smtpfake.test", "S: 250-PIPELINING", "S: 250 HELP"]


def test_octets_are_counted_as_utf8() -> None:
    # "250-é.t" is 8 octets ("é" is two), 10 with its CRLF
    shown, said = reply_as_sent("250-é.t\n250 ok", 11)
    assert shown == "250-é.t\n250 ok" and said == "   (not delivered: 11 octets written)"
    shown, said = reply_as_sent("250-é.t\n250 ok", 10)
    assert shown == "250-é.t" and said.endswith("; 1 more line not sent)")
    shown, said = reply_as_sent("250-é.t\n250 ok", 9)
    assert shown == "250-é.t" and said.endswith("; 1 more line not sent)")
