"""The reply-code knowledge base and the ``explain`` formatter (not the CLI wiring)."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import pytest

from smtpfake.explain import (
    DEFAULT_WIDTH,
    ExplainError,
    explain,
    key_difference,
    reply_code_table_markdown,
)
from smtpfake.replycodes import (
    REPLY_CODES,
    ReplyCode,
    describe,
    describe_unknown,
    kind_of,
    lookup,
)

# The codes the feature promises to cover.
PROMISED = (
    211, 214, 220, 221, 235, 250, 251, 252, 334, 354, 421, 450, 451, 452, 454, 455, 500, 501,
    502, 503, 504, 521, 530, 534, 535, 538, 550, 551, 552, 553, 554, 555, 556,
)  # fmt: skip
# The failure codes a fault-injection user is most likely to ask about.
FAILURES = (421, 450, 451, 452, 454, 500, 501, 502, 503, 504, 530, 535, 550, 551, 552, 553, 554)

ENHANCED_RE = re.compile(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}")


def flat(text: str) -> str:
    """Lower-cased with all whitespace collapsed, so phrases survive line wrapping."""
    return " ".join(text.split()).lower()


# --- single-code explanations -------------------------------------------------------------------


def test_421_is_transient_server_closes_connection_client_retries_later() -> None:
    out = explain(["421"])
    text = flat(out)
    assert out.startswith("421 Service not available\n")
    assert "transient" in text
    assert "closes the connection" in text
    assert "retry later" in text
    assert "do not bounce" in text
    assert "4.3.2" in text
    assert "rfc 5321 §3.8" in text


def test_503_is_permanent_and_says_to_fix_the_command_order() -> None:
    out = explain(["503"])
    text = flat(out)
    assert out.startswith("503 Bad sequence of commands\n")
    assert "permanent" in text
    assert "command order" in text
    assert "retrying the same sequence unchanged is pointless" in text
    for command in ("EHLO/HELO", "MAIL", "RCPT", "DATA", "RSET"):
        assert command in out
    assert "transient" not in text


def test_single_block_has_every_labelled_field() -> None:
    out = explain(["550"])
    for label in ("Class:", "Meaning:", "When:", "Client should:", "RFC:", "Enhanced codes:"):
        assert re.search(rf"^{re.escape(label)}\s", out, re.MULTILINE), label
    assert "5.1.1" in out


def test_452_and_552_too_many_recipients_follow_rfc5321_4_5_3_1_10() -> None:
    text452 = flat(explain(["452"]))
    assert "too many recipients" in text452
    assert "remaining recipients in another transaction" in text452
    assert "§4.5.3.1.10" in text452
    text552 = flat(explain(["552"]))
    assert "treated like 452" in text552
    assert "§4.5.3.1.10" in text552


def test_intermediate_codes_have_no_enhanced_codes() -> None:
    # RFC 2034 §4: 3xx replies carry no enhanced status code.
    assert REPLY_CODES[334].enhanced == ()
    assert REPLY_CODES[354].enhanced == ()
    assert "none (3xx" in explain(["354"])


def test_argument_is_stripped_and_a_bare_string_is_one_code() -> None:
    assert explain([" 421\n"]) == explain(["421"])
    assert explain("421") == explain(["421"])


def test_single_block_respects_width() -> None:
    for code in PROMISED:
        for line in explain([str(code)]).splitlines():
            assert len(line) <= DEFAULT_WIDTH, (code, line)


# --- side-by-side comparisons -------------------------------------------------------------------


def test_421_503_side_by_side_names_share_a_line_and_key_difference() -> None:
    out = explain(["421", "503"])
    lines = out.splitlines()
    name421, name503 = REPLY_CODES[421].name, REPLY_CODES[503].name
    # Columns: both names (and both codes) appear on the same physical line.
    name_row = next(line for line in lines if line.startswith("Name "))
    assert name421 in name_row and name503 in name_row
    assert name_row.index(name421) < name_row.index(name503)
    assert any(re.search(r"\b421\b.*\|.*\b503\b", line) for line in lines)
    assert any("transient" in line and "permanent" in line for line in lines)
    assert (
        "Key difference: 421 is transient (4xx): retry later; "
        "503 is permanent (5xx): do not retry unchanged"
    ) in lines


def test_comparison_rows_cover_each_field() -> None:
    out = explain(["421", "503"])
    for label in ("Meaning", "Class", "When", "Client should", "RFC", "Enhanced codes"):
        assert re.search(rf"^{re.escape(label)}\s+\|", out, re.MULTILINE), label


def test_comparison_columns_are_aligned_and_within_width() -> None:
    out = explain(["421", "503"])
    table = [line for line in out.splitlines() if " | " in line or "-+-" in line]
    assert table
    # Every table line has its column separators at the same offsets as the rule lines.
    rule = next(line for line in table if "-+-" in line)
    offsets = [m.start() for m in re.finditer(r"\+", rule)]
    for line in table:
        if "-+-" in line:
            continue
        assert [i for i in offsets if i < len(line)] == [
            m.start() + 1 for m in re.finditer(r" \| ", line)
        ], line
    for line in out.splitlines():
        if not line.startswith("Key difference:"):
            assert len(line) <= DEFAULT_WIDTH, line


def test_many_codes_are_split_into_tables_of_at_most_three_columns() -> None:
    codes = ["250", "354", "421", "450", "503", "550", "554"]
    out = explain(codes)
    header_rows = [line for line in out.splitlines() if line.startswith("Code ")]
    assert len(header_rows) == 3
    assert all(line.count(" | ") <= 3 for line in header_rows)
    for code in codes:
        assert REPLY_CODES[int(code)].name.split()[0] in out
    # Grouped by class; 2xx/3xx do not dilute the transient-vs-permanent line.
    assert (
        "Key difference: 421 and 450 are transient (4xx): retry later; "
        "503, 550 and 554 are permanent (5xx): do not retry unchanged"
    ) in out.splitlines()


def test_no_key_difference_without_both_transient_and_permanent() -> None:
    assert "Key difference" not in explain(["550", "553"])
    assert "Key difference" not in explain(["421", "450"])
    assert "Key difference" not in explain(["250", "550"])
    assert key_difference([REPLY_CODES[250], REPLY_CODES[354]]) is None


def test_duplicate_codes_collapse() -> None:
    assert explain(["421", "421"]) == explain(["421"])


# --- the data -----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", PROMISED)
def test_promised_code_is_present_and_complete(code: int) -> None:
    info = lookup(code)
    assert info is not None
    assert info.code == code
    for field in ("name", "meaning", "when", "client_should", "rfc"):
        value = getattr(info, field)
        assert isinstance(value, str)
        assert value.strip(), field
    assert info.rfc.startswith("RFC ")
    assert info.kind == kind_of(code)
    for enhanced in info.enhanced:
        # RFC 2034 §4: the enhanced class must agree with the reply's first digit.
        assert ENHANCED_RE.fullmatch(enhanced), enhanced
        assert int(enhanced[0]) == code // 100
    if code // 100 != 3:
        assert info.enhanced


@pytest.mark.parametrize("code", FAILURES)
def test_failure_code_explains_non_empty(code: int) -> None:
    out = explain([str(code)])
    info = REPLY_CODES[code]
    assert info.kind in {"transient", "permanent"}
    assert info.kind in out
    assert flat(info.client_should) in flat(out)


def test_kind_is_derived_from_the_first_digit_not_stored() -> None:
    assert "kind" not in {f.name for f in dataclasses.fields(ReplyCode)}
    assert REPLY_CODES[250].kind == "positive completion"
    assert REPLY_CODES[354].kind == "positive intermediate"
    assert REPLY_CODES[421].kind == "transient"
    assert REPLY_CODES[503].kind == "permanent"
    assert REPLY_CODES[421].is_transient and not REPLY_CODES[421].is_permanent


def test_reply_code_is_frozen_and_rejects_impossible_codes() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        REPLY_CODES[421].code = 422  # type: ignore[misc]
    with pytest.raises(ValueError):
        ReplyCode(code=621, name="x", meaning="x", when="x", client_should="x", rfc="x")


def test_registry_is_read_only_and_keyed_by_code() -> None:
    assert all(code == info.code for code, info in REPLY_CODES.items())
    with pytest.raises(TypeError):
        REPLY_CODES[999] = REPLY_CODES[250]  # type: ignore[index]


# --- bad input and unknown codes ----------------------------------------------------------------


@pytest.mark.parametrize(
    "arg",
    ["42", "abc", "621", "", "4210", "199", "099", "3.2.1", "4.2", "5.7.1.1", "\u0664\u0662\u0661"],
)
def test_bad_argument_raises_explain_error_naming_it(arg: str) -> None:
    with pytest.raises(ExplainError) as excinfo:
        explain([arg])
    assert repr(arg) in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_every_bad_argument_is_named_even_among_good_ones() -> None:
    with pytest.raises(ExplainError) as excinfo:
        explain(["421", "abc", "503", "621"])
    message = str(excinfo.value)
    assert "'abc'" in message and "'621'" in message
    assert "'421'" not in message


@pytest.mark.parametrize(
    ("pasted", "codes"),
    [
        ("550 5.1.1 <bob@example.test>: Recipient address rejected", ["550", "5.1.1"]),
        ("550-5.1.1 The email account that you tried to reach does not exist.", ["550", "5.1.1"]),
        ("  421 smtpfake.test Service not available", ["421"]),
        ("250-PIPELINING", ["250"]),
    ],
)
def test_a_pasted_reply_line_is_read_as_its_codes(pasted: str, codes: list[str]) -> None:
    assert explain([pasted]) == explain(codes)


@pytest.mark.parametrize(
    ("pasted", "codes"),
    [
        (
            "status=deferred (host mx.example.com[192.0.2.1] said: 451 4.7.1 Greylisted (in reply "
            "to RCPT TO command))",
            ["451", "4.7.1"],
        ),
        (
            "Diagnostic-Code: smtp; 550 5.7.1 Service unavailable; client [192.0.2.1]",
            ["550", "5.7.1"],
        ),
        ("said: 550 5.1.1 unknown", ["550", "5.1.1"]),
        # the whole maillog line: its pid, port, delays and dsn= come before the reply
        (
            "Nov 30 13:47:02 mx postfix/smtp[123]: 4F2A3: to=<a@b.example>, relay=mx.example.com"
            "[192.0.2.1]:587, delay=0.5, delays=0.1/0/0.2/0.2, dsn=4.2.0, status=deferred (host "
            "mx.example.com[192.0.2.1] said: 450 4.2.0 Mailbox busy (in reply to RCPT TO command))",
            ["450", "4.2.0"],
        ),
        ("2026-11-30 13:47:02,345 ERROR send failed: 554 5.7.1 rejected", ["554", "5.7.1"]),
        ("E   smtplib.SMTPDataError: (451, b'4.7.1 Greylisted')", ["451", "4.7.1"]),
        ("SMTPRecipientRefused: (550, '5.1.1 unknown', 'a@b.example')", ["550", "5.1.1"]),
        ("stat=Deferred: 421 Service not available", ["421"]),
        ("Status: 5.1.1", ["5.1.1"]),  # a bounce's status line: no reply code, its enhanced code
    ],
)
def test_a_log_line_is_read_as_its_first_reply_code_and_enhanced_code(
    pasted: str, codes: list[str]
) -> None:
    """Only a line that started with the code was read; the lines a log has were refused."""
    assert explain([pasted]) == explain(codes)


def test_a_line_without_a_code_says_so() -> None:
    # it said the line "is not an enhanced status code" (it held a dot)
    line = "connect to mx.example.com[192.0.2.1]:25: Connection timed out"
    with pytest.raises(ExplainError) as excinfo:
        explain(["421", line])
    assert str(excinfo.value) == (
        f"no reply code found in {line[:40]!r}... ({len(line)} characters): expected a reply "
        "code (550), an enhanced status code (5.7.1), or a line with one, e.g. 'said: 550 5.1.1 "
        "unknown user'"
    )


def test_a_pasted_line_with_a_bad_code_names_the_code() -> None:
    with pytest.raises(ExplainError, match="'650' is not an SMTP reply code"):
        explain(["650 5.1.1 no"])


def test_a_runaway_argument_is_cut_in_the_error() -> None:
    """A pasted log or a shell expansion gone wrong was echoed whole: a 100 kB error line."""
    with pytest.raises(ExplainError) as excinfo:
        explain(["4" * 100_000])
    assert str(excinfo.value) == (
        f"{'4' * 40!r}... (100000 characters) is not an SMTP reply code: expected exactly "
        "three digits, e.g. 421 or 550"
    )


@pytest.mark.parametrize(
    ("code", "lang", "said"),
    [
        ("5.9.1", "en", "only its class carries meaning."),
        ("5.9.1", "zh", "只有类别有意义。"),
        ("5.1.99", "en", "only its class and subject carry meaning."),
    ],
)
def test_an_undefined_subject_is_not_said_to_carry_meaning(code: str, lang: str, said: str) -> None:
    # it said "only its class and subject carry meaning" under "9 is not a defined subject"
    assert said in flat(explain([code], lang=lang))


def test_no_arguments_raise() -> None:
    with pytest.raises(ExplainError, match="no reply code"):
        explain([])


def test_unknown_but_valid_code_gets_class_generic_text() -> None:
    assert lookup(459) is None
    info = describe(459)
    assert info == describe_unknown(459)
    assert info.kind == "transient"
    assert info.enhanced == ("4.0.0",)
    text = flat(explain(["459"]))
    assert "not a standard smtp reply code" in text
    assert "first digit" in text
    assert "transient" in text
    assert "retry later" in text
    assert "mail system" in text  # second digit 5 (RFC 5321 §4.2.1)


def test_unknown_codes_in_every_class() -> None:
    assert "success" in flat(describe_unknown(299).client_should)
    assert "0-5" in describe_unknown(299).meaning  # second digit outside the §4.2 grammar
    assert describe_unknown(399).enhanced == ()
    permanent = describe_unknown(599)
    assert permanent.kind == "permanent"
    assert "do not repeat the same request unchanged" in flat(permanent.client_should)
    with pytest.raises(ValueError):
        describe_unknown(600)


def test_unknown_code_in_a_comparison() -> None:
    out = explain(["459", "550"])
    assert "Non-standard 4xx reply" in out
    assert "Key difference: 459 is transient (4xx)" in out


def test_describe_prefers_the_standard_entry() -> None:
    assert describe(421) is REPLY_CODES[421]


# --- README table -------------------------------------------------------------------------------


def test_markdown_table_has_one_row_per_code_with_four_cells() -> None:
    md = reply_code_table_markdown()
    lines = md.splitlines()
    assert lines[0] == "| Code | Class | Meaning | Client should |"
    rows = [line for line in lines[2:] if line.startswith("| ")]
    assert [int(row.split(" | ")[0][2:]) for row in rows] == sorted(REPLY_CODES)
    for row in rows:
        # Unescaped pipes delimit cells: 4 cells -> 5 pipes.
        assert len(re.findall(r"(?<!\\)\|", row)) == 5, row
        # "<domain>" must not be swallowed as an HTML tag.
        assert not re.search(r"(?<!\\)<", row), row
    assert "| 421 | 4xx transient | **Service not available**" in md


# --- enhanced status codes and the Chinese text ---------------------------------------------------

from smtpfake.enhancedcodes import CLASSES, ENHANCED_CODES, SUBJECTS  # noqa: E402
from smtpfake.explain import LANGS, entry  # noqa: E402
from smtpfake.replycodes_zh import REPLY_CODES_ZH  # noqa: E402

CJK = re.compile(r"[\u4e00-\u9fff]")
# The IANA registry: RFC 5248 §2.4's initial entries (RFC 3463 §3.1-3.8, RFC 3886, RFC 4468,
# RFC 4954, RFC 5248) and those registered since: X.1.10 (RFC 7505), X.3.6, X.7.15, X.7.16
# (RFC 6710), X.6.7-X.6.10 (RFC 6531), X.7.17-X.7.19 (RFC 7293), X.7.20-X.7.26 (RFC 7372),
# X.7.27 (RFC 7505), X.7.28 (draft-levine-mailbomb-header). X.7.29 and X.7.30 are left out
# (see enhancedcodes.py).
REGISTRY = (
    ["0.0"]
    + [f"1.{d}" for d in range(11)]
    + [f"2.{d}" for d in range(5)]
    + [f"3.{d}" for d in range(7)]
    + [f"4.{d}" for d in range(8)]
    + [f"5.{d}" for d in range(7)]
    + [f"6.{d}" for d in range(11)]
    + [f"7.{d}" for d in range(29)]
)


def test_the_registry_is_complete() -> None:
    assert sorted(ENHANCED_CODES) == sorted(REGISTRY)


def test_5_6_7_the_reply_smtpfake_sends_without_smtputf8_is_explained() -> None:
    """smtpfake answers a non-ASCII address without SMTPUTF8 with 553 5.6.7 (RFC 6531)."""
    out = explain(["5.6.7"])
    assert out.startswith("5.6.7 Non-ASCII addresses not permitted for that sender/recipient\n")
    text = flat(out)
    assert "not in the rfc 5248 registry" not in text
    assert "basic reply codes 553, 550" in text
    assert "smtputf8" in text and "rfc 6531; rfc 5248" in text
    zh = explain(["5.6.7"], lang="zh")
    assert "该发件人/收件人不允许使用非 ASCII 地址" in zh and "553、550" in zh


def test_codes_registered_after_rfc_5248_name_their_rfc_and_reply_codes() -> None:
    expected = {
        "1.10": ("Recipient address has null MX", (556,), "RFC 7505"),
        "3.6": ("Requested priority was changed", (250, 251), "RFC 6710"),
        "6.8": (
            "UTF-8 string reply is required, but not permitted by the SMTP client",
            (252, 553, 550),
            "RFC 6531",
        ),
        "6.9": ("UTF-8 header message cannot be transferred", (550,), "RFC 6531"),
        "7.15": ("Priority Level is too low", (450, 550), "RFC 6710"),
        "7.16": ("Message is too big for the specified priority", (552,), "RFC 6710"),
        "7.17": ("Mailbox owner has changed", (), "RFC 7293"),
        "7.24": ("SPF validation error", (451, 550), "RFC 7372"),
        "7.26": ("Multiple authentication checks failed", (550,), "RFC 7372"),
        "7.27": ("Sender address has null MX", (550,), "RFC 7505"),
        "7.28": ("Mail flood detected", (), "draft-levine-mailbomb-header"),
    }
    for key, (name, basic, rfc) in expected.items():
        code = ENHANCED_CODES[key]
        assert code.name.en.startswith(name), key
        assert code.basic == basic, key
        assert code.rfc.startswith(rfc), key
    # RFC 7504 §6 added 521 to X.3.2
    assert ENHANCED_CODES["3.2"].basic == (453, 521) and "RFC 7504" in ENHANCED_CODES["3.2"].rfc
    # left out (their basic reply codes could not be checked): said as smtpfake's gap, not as
    # codes no RFC defines
    assert "7.29" not in ENHANCED_CODES and "7.30" not in ENHANCED_CODES
    out = explain(["5.7.29"])
    assert out.startswith("5.7.29 Enhanced status code not in smtpfake's table\n")
    assert "No RFC defines it" not in out


def test_the_registry_s_4xx_5xx_wildcards_are_said() -> None:
    # RFC 6710: "450, 550 (other 4XX or 5XX codes are allowed)"; RFC 7293: "5XX"
    transient = flat(explain(["4.7.15"]))
    assert "basic reply codes 450, 550 in the registry (rfc 5248); of class 4: 450" in transient
    assert "other 4xx or 5xx allowed" in transient
    assert "sent with any 5xx basic reply code" in flat(explain(["5.7.17"]))
    assert "names no basic reply code" not in flat(explain(["5.7.17"]))
    assert "任何5XX基本回复码" in "".join(explain(["5.7.18"], lang="zh").split())
    assert "也可用其他4XX、5XX回复码" in "".join(explain(["5.7.16"], lang="zh").split())


def test_the_command_line_explains_5_6_7_and_4_7_15() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "smtpfake", "explain", "5.6.7", "4.7.15"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert "Non-ASCII addresses not permitted" in done.stdout
    assert "Priority Level is too low" in done.stdout
    assert "not in the RFC 5248 registry" not in done.stdout


def test_5_7_1_and_4_7_1_side_by_side() -> None:
    out = explain(["5.7.1", "4.7.1"])
    name_row = next(line for line in out.splitlines() if line.startswith("Name "))
    assert name_row.count("Delivery not authorized, message refused") == 2
    assert "Key difference: 4.7.1 is transient (4.X.X): retry later; 5.7.1 is permanent " in out
    transient, permanent = flat(explain(["4.7.1"])), flat(explain(["5.7.1"]))
    assert "x.7.x security or policy status" in transient
    assert "of class 4: 451, 454" in transient
    assert "of class 5: 502, 503, 533, 550, 551" in permanent
    assert "greylisting" in transient and "rfc 3463 §3.8; rfc 5248" in permanent


def test_enhanced_and_reply_codes_mix() -> None:
    out = explain(["421", "4.4.2"])
    assert "Comparing SMTP status codes 421 and 4.4.2" in out
    assert "Bad connection" in out and "Service not available" in out


def test_unregistered_enhanced_code_is_explained_by_class_and_subject() -> None:
    text = flat(explain(["4.7.99"]))
    assert "not in the rfc 5248 registry" in text and "x.7.x security or policy status" in text
    assert "8 is not a defined subject" in flat(explain(["5.8.1"]))


@pytest.mark.parametrize(
    ("arg", "meant"), [("4.04.1", "4.4.1"), ("5.07.001", "5.7.1"), ("5.7.00", "5.7.0")]
)
def test_a_sub_code_with_a_leading_zero_is_refused_naming_the_code_meant(
    arg: str, meant: str
) -> None:
    """RFC 3463 §2: each numeric sub-code "MUST be expressed without leading zero digits"."""
    with pytest.raises(ExplainError) as excinfo:
        explain([arg])
    assert str(excinfo.value) == (
        f"{arg!r} is not an enhanced status code: its sub-codes must be written without "
        f"leading zeros (RFC 3463 §2); did you mean {meant}?"
    )
    assert explain(["5.0.0"]).startswith("5.0.0")  # a zero alone is a sub-code, not a padding


def test_a_pasted_reply_line_with_a_padded_enhanced_code_is_refused_as_the_code_alone() -> None:
    with pytest.raises(ExplainError, match=r"did you mean 4\.4\.1\?"):
        explain(["451 4.04.1 greylisted, try later"])
    both = explain(["451 4.4.1 greylisted"])  # a well-formed line: the code and 4.4.1, compared
    assert both.startswith("Comparing SMTP status codes 451 and 4.4.1")


@pytest.mark.parametrize("lang", LANGS)
def test_every_code_has_every_field_in_both_languages(lang: str) -> None:
    keys = [str(c) for c in REPLY_CODES] + [f"{c}.{k}" for k in ENHANCED_CODES for c in (4, 5)]
    for key in keys:
        item = entry(key, lang)
        assert item.name.strip(), key
        for label, value in item.fields:
            assert value.strip(), (key, label)
            if lang == "zh" and label not in ("RFC", "增强状态码"):
                assert CJK.search(value), (key, label, value)
            if lang == "en":
                assert not CJK.search(value), (key, label, value)
        if lang == "zh":
            assert CJK.search(item.name), key


def test_the_chinese_tables_cover_exactly_the_english_ones() -> None:
    assert set(REPLY_CODES_ZH) == set(REPLY_CODES)
    for code in ENHANCED_CODES.values():
        for text in (code.name, code.description, code.client_should):
            assert text.en and CJK.search(text.zh) and not CJK.search(text.en)
    for table in (CLASSES, SUBJECTS):
        assert all(CJK.search(t.zh) and t.en for t in table.values())


def test_chinese_uses_the_seed_page_headings() -> None:
    single = explain(["421"], lang="zh")
    for heading in ("描述：", "何时出现：", "如何修复："):
        assert heading in single
    pair = explain(["421", "503"], lang="zh")
    assert "主要区别：421 是 4xx" in pair and "503 是 5xx" in pair
    assert "何时使用哪个：对于 421（服务不可用）：" in pair and "对于 503（命令顺序错误）：" in pair
    assert "服务器会关闭连接" in pair and "RSET" in pair


def test_chinese_lines_fit_the_width_in_display_columns() -> None:
    from smtpfake.explain import _width

    for codes in (["421"], ["421", "503"], ["5.7.1", "4.7.1"], ["250", "354", "421", "503"]):
        for line in explain(codes, lang="zh").splitlines():
            assert _width(line) <= DEFAULT_WIDTH, line


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ExplainError, match="unknown language 'fr'"):
        explain(["421"], lang="fr")
