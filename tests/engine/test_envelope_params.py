"""A message's MAIL and RCPT parameters in its record (Message.mail_options, rcpt_options): as the
client wrote them, RCPT's per accepted recipient; no sockets."""

from __future__ import annotations

from smtpfake.engine.records import Message, declares_smtputf8

from ..support import scenario
from ..support.engine import Driver, Engine
from ..support.pipe import Pipe

#: the default extensions, DSN (RFC 3461) and CHUNKING (RFC 3030) added
DSN = scenario(extensions_add=["DSN", "CHUNKING"])


def greeted(*rules: dict[str, object]) -> Driver:
    d = Engine(scenario(*rules, extensions_add=["DSN"])).open()  # type: ignore[arg-type]
    d.greet()
    return d


def only_message(d: Driver) -> Message:
    (message,) = d.engine.journal.messages()
    return message


def test_mail_and_each_recipients_parameters_are_recorded_as_written() -> None:
    d = greeted()
    mail = "MAIL FROM:<a@x.test> size=17 BODY=8BITMIME RET=hdrs ENVID=Abc+2Bx SMTPUTF8"
    assert d.code(mail) == 250
    assert d.code("RCPT TO:<b@x.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;B@x.test") == 250
    assert d.code("RCPT TO:<c@x.test>") == 250
    assert d.code("RCPT TO:<d@x.test> notify=never") == 250
    assert d.code("DATA") == 354
    d.send("Subject: t")
    d.send("")
    assert d.code(".") == 250
    message = only_message(d)
    # case kept: ENVID and ORCPT are xtext, whose case is the client's (RFC 3461 §4.2, §4.4)
    written = ("size=17", "BODY=8BITMIME", "RET=hdrs", "ENVID=Abc+2Bx", "SMTPUTF8")
    assert message.mail_options == written
    assert message.rcpt_tos == ("b@x.test", "c@x.test", "d@x.test")
    assert message.rcpt_options == (
        ("NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;B@x.test"),
        (),
        ("notify=never",),
    )
    assert declares_smtputf8(message.mail_options)


def test_a_refused_recipient_leaves_no_parameters_and_the_rest_stay_aligned() -> None:
    full = {"on": "rcpt", "match": "full@x.test", "reply": "452 4.2.2 Mailbox full"}
    d = greeted(full)
    assert d.code("MAIL FROM:<a@x.test>") == 250
    assert d.code("RCPT TO:<full@x.test> NOTIFY=DELAY") == 452
    assert d.code("RCPT TO:<b@x.test> NOTIFY=BOGUS") == 501  # a bad value: refused too
    assert d.code("RCPT TO:<c@x.test> NOTIFY=FAILURE") == 250
    assert d.code("DATA") == 354
    assert d.code(".") == 250
    message = only_message(d)
    assert message.rcpt_tos == ("c@x.test",)
    assert message.mail_options == ()
    assert message.rcpt_options == (("NOTIFY=FAILURE",),)
    assert not declares_smtputf8(message.mail_options)


def test_a_new_transaction_starts_with_no_parameters() -> None:
    d = greeted()
    # one abandoned by RSET, one refused at its MAIL (SIZE too large for SIZE's limit)
    assert d.code("MAIL FROM:<a@x.test> BODY=8BITMIME") == 250
    assert d.code("RCPT TO:<b@x.test> NOTIFY=NEVER") == 250
    assert d.code("RSET") == 250
    assert d.code("MAIL FROM:<a@x.test> SIZE=999999999999") == 552
    assert d.code("MAIL FROM:<e@x.test>") == 250
    assert d.code("RCPT TO:<f@x.test>") == 250
    assert d.code("DATA") == 354
    assert d.code(".") == 250
    message = only_message(d)
    assert message.mail_from == "e@x.test"
    assert (message.mail_options, message.rcpt_options) == ((), ((),))


def test_a_message_in_bdat_chunks_carries_its_parameters_too() -> None:
    p = Pipe(Engine(DSN))  # type: ignore[arg-type]
    p.connect()
    p.feed("EHLO client.test")
    assert p.feed("MAIL FROM:<a@x.test> BODY=8BITMIME ENVID=e1").startswith(b"250 ")
    assert p.feed("RCPT TO:<b@x.test> ORCPT=rfc822;b@x.test").startswith(b"250 ")
    assert p.feed(b"BDAT 3 LAST\r\nabc").startswith(b"250 2.0.0 Ok: queued as ")
    (message,) = p.engine.journal.messages()
    assert message.data == b"abc"
    assert message.mail_options == ("BODY=8BITMIME", "ENVID=e1")
    assert message.rcpt_options == (("ORCPT=rfc822;b@x.test",),)


def test_many_recipients_stay_aligned_whichever_has_parameters() -> None:
    # past the 64 recipients whose all-empty parameters are made once (records.none_each)
    for with_params in (None, 0, 69):
        d = greeted()
        assert d.code("MAIL FROM:<a@x.test>") == 250
        for i in range(70):
            params = " NOTIFY=NEVER" if i == with_params else ""
            assert d.code(f"RCPT TO:<r{i}@x.test>{params}") == 250
        assert d.code("DATA") == 354
        assert d.code(".") == 250
        message = only_message(d)
        assert len(message.rcpt_options) == len(message.rcpt_tos) == 70
        expected = [("NOTIFY=NEVER",) if i == with_params else () for i in range(70)]
        assert list(message.rcpt_options) == expected
