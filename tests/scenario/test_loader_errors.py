"""The loader: one test per kind of error, each at its exact file:line:col, all reported at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smtpfake.scenario import (
    Scenario,
    ScenarioError,
    Stage,
    load_file,
    load_mapping,
    load_text,
    resolve,
    scenario_files,
)

DOCS = "summary: s\nexpect: e\n"  # lines 1 and 2 of most documents below


def _problems(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    """Load text from a file; return each problem as ("line:col", message), in order ("" for
    the file as a whole: no line:col, ``file: message``)."""
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    out = []
    for problem in info.value.problems:
        rendered = str(problem)
        assert rendered.startswith(f"{path}:"), rendered
        assert problem.location.file == str(path)
        if problem.location.line == 0:
            assert rendered == f"{path}: {problem.message}"
            out.append(("", problem.message))
            continue
        line_col, message = rendered[len(f"{path}:") :].split(": ", 1)
        assert line_col == f"{problem.location.line}:{problem.location.column}"
        out.append((line_col, message))
    # The exception's text is every problem, one per line, in the same order.
    assert str(info.value).splitlines() == [str(p) for p in info.value.problems]
    return out


def _one(tmp_path: Path, text: str) -> tuple[str, str]:
    found = _problems(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


def _rule(*lines: str) -> str:
    """A document with one rule; the rule's first key is at line 4, column 5."""
    return DOCS + "rules:\n  - " + "\n    ".join(lines) + "\n"


# -- YAML itself ----------------------------------------------------------------------------------


def test_invalid_yaml_syntax(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, "summary: s\nexpect: [unclosed\nrules: []\n")
    assert pos == "3:6"
    assert message.startswith("invalid YAML: ")


def test_invalid_yaml_unclosed_quote_says_where_it_opened(tmp_path: Path) -> None:
    # PyYAML notices at the end of the file; the message points back at the opening quote
    text = _rule("on: rcpt", 'reply: "550 5.1.1 unclosed', "- on: mail") + "# end\n"
    pos, message = _one(tmp_path, text)
    assert pos == "8:1"
    assert message == (
        "invalid YAML: found unexpected end of stream "
        "(while scanning a quoted scalar that starts at 5:12)"
    )


def test_invalid_yaml_bad_indentation(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, "summary: s\n  expect: e\n")
    assert pos == "2:9"
    assert message == "invalid YAML: mapping values are not allowed here"


def test_more_than_one_document(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, DOCS + "---\n" + DOCS)
    assert pos == "3:1"
    assert "invalid YAML" in message and "single document" in message


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n", "---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    # the file as a whole is to blame, no place in it (an empty file has no line 1 to show)
    assert _one(tmp_path, text) == ("", "the file is empty")


@pytest.mark.parametrize(
    ("text", "pos", "code"),
    [
        (DOCS + "name: a\x07b\n", "3:8", "#x0007"),
        ("summary: s\r\nexpect: e\x00\r\n", "2:10", "#x0000"),
        ("summary: caf\u00e9\nexpect: \u00e9\x1b[31m\n", "2:10", "#x001b"),
    ],
    ids=["bell", "nul-after-crlf", "esc-after-accented"],
)
def test_a_character_yaml_refuses_is_told_at_its_line_and_column(
    tmp_path: Path, text: str, pos: str, code: str
) -> None:
    # PyYAML's ReaderError has no mark: it read "file:1:1: ... position 19"
    assert _one(tmp_path, text) == (
        pos,
        f"invalid YAML: unacceptable character {code}: special characters are not allowed",
    )


def test_a_character_yaml_refuses_is_placed_by_pure_python_pyyaml_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import yaml

    from smtpfake.scenario import compose

    # libyaml reports the character as an int, PyYAML's own reader as a str
    monkeypatch.setattr(compose, "_Loader", yaml.SafeLoader)
    with pytest.raises(ScenarioError) as info:
        load_text(DOCS + "name: a\x07b\n", source="s.yaml")
    assert str(info.value) == (
        "s.yaml:3:8: invalid YAML: unacceptable character #x0007: special characters are not "
        "allowed"
    )


def test_a_lone_surrogate_is_told_at_its_place_not_raised() -> None:
    # text decoded with errors="surrogateescape" holds one: a UnicodeEncodeError escaped
    text = b"summary: s\nexpect: caf\xe9\n".decode("utf-8", "surrogateescape")
    with pytest.raises(ScenarioError) as info:
        load_text(text, source="s.yaml")
    assert str(info.value) == "s.yaml:2:12: cannot read: U+DCE9 is a lone surrogate"


def test_a_scenario_made_in_python_cannot_take_params_and_has_no_line() -> None:
    from smtpfake.scenario import Scenario
    from smtpfake.scenario.loader import with_params

    made = Scenario(name="made", summary="s", expect="e", source="<built-in>")
    with pytest.raises(ScenarioError) as info:
        with_params(made, {"delay": 5})
    assert str(info.value) == (
        "<built-in>: scenario 'made' was not loaded from YAML, so its parameters cannot be set"
    )


@pytest.mark.parametrize(
    ("text", "got"),
    [
        ("- a\n- b\n", "a list"),
        ("just words\n", "the value 'just words'"),
        ("42\n", "the value '42'"),
    ],
)
def test_top_level_not_a_mapping(tmp_path: Path, text: str, got: str) -> None:
    assert _one(tmp_path, text) == ("1:1", f"scenario: expected a mapping, got {got}")


def test_duplicate_top_level_key(tmp_path: Path) -> None:
    assert _one(tmp_path, DOCS + "summary: again\n") == ("3:1", "scenario: duplicate key 'summary'")


def test_duplicate_rule_key(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, _rule("on: rcpt", "reply: 421 x", "on: mail"))
    assert (pos, message) == ("6:5", "rules[1]: duplicate key 'on'")


@pytest.mark.parametrize(
    "tag",
    ["!!python/object/apply:os.system", "!!python/name:os.system", "!!python/object:os.Foo"],
)
def test_unsafe_yaml_tag_on_a_value(tmp_path: Path, tag: str) -> None:
    pos, message = _one(tmp_path, f"summary: {tag} ['echo pwned']\nexpect: e\n")
    assert pos == "1:10"
    assert message == (
        f"YAML tag '{tag}' is not allowed in a scenario (only plain values, lists and mappings)"
    )


def test_unsafe_yaml_tag_on_the_rules_list(tmp_path: Path) -> None:
    text = DOCS + "rules: !!python/object/apply:os.system ['echo pwned']\n"
    pos, message = _one(tmp_path, text)
    assert pos == "3:8"
    assert "'!!python/object/apply:os.system' is not allowed" in message


def test_unsafe_yaml_tag_is_never_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"summary: !!python/object/apply:os.system ['touch {marker}']\nexpect: e\n"
    _one(tmp_path, text)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "pos", "short"),
    [
        (DOCS + "seed: !!python/int 5\n", "3:7", "!!python/int"),
        (DOCS + "server: !!set {hostname}\n", "3:9", "!!set"),
        (_rule("on: !custom rcpt", "reply: 421 x"), "4:9", "!custom"),
        (_rule("on: rcpt", "reply: !!binary NDIx"), "5:12", "!!binary"),
    ],
)
def test_other_tags_are_refused_once(tmp_path: Path, text: str, pos: str, short: str) -> None:
    assert _one(tmp_path, text) == (
        pos,
        f"YAML tag '{short}' is not allowed in a scenario (only plain values, lists and mappings)",
    )


def test_on_key_is_read_as_the_word_on_not_true(tmp_path: Path) -> None:
    # YAML 1.1 reads a bare `on` as the boolean True; a scenario must read it as the key "on".
    path = tmp_path / "on.yaml"
    path.write_text(_rule("on: rcpt", "reply: 421 4.3.2 bye"), encoding="utf-8")
    (rule,) = load_file(path).rules
    assert rule.stages == frozenset({Stage.RCPT})


@pytest.mark.parametrize("spelling", ["On", "ON", "yes", "true"])
def test_other_spellings_of_on_are_unknown_keys(tmp_path: Path, spelling: str) -> None:
    found = _problems(tmp_path, _rule(f"{spelling}: rcpt", "reply: 421 x"))
    assert ("4:5", "rules[1]: missing 'on'") in [(p, m.split(" (")[0]) for p, m in found] or any(
        f"unknown key '{spelling}'" in m for _, m in found
    )
    assert any(f"unknown key '{spelling}'" in m and p == "4:5" for p, m in found), found


def test_unquoted_date_is_read_as_written(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(DOCS + "name: 2024-01-02\n", encoding="utf-8")
    assert load_file(path).name == "2024-01-02"


# -- required fields ------------------------------------------------------------------------------


def test_missing_summary(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, "expect: e\n")
    assert pos == "1:1"
    assert message.startswith("missing 'summary'")


def test_missing_expect(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, "# a comment first\nsummary: s\n")
    assert pos == "2:1"
    assert message.startswith("missing 'expect'")


def test_missing_both_gives_two_problems(tmp_path: Path) -> None:
    found = _problems(tmp_path, "description: d\n")
    assert [m.split(":")[0] for _, m in found] == ["missing 'summary'", "missing 'expect'"]


# -- keys ---------------------------------------------------------------------------------------


def test_unknown_top_level_key_with_did_you_mean(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, DOCS + "rulez: []\n")
    assert pos == "3:1"
    assert message.startswith("unknown key 'rulez'; did you mean 'rules'? (allowed: ")
    assert "summary" in message and "server" in message


def test_unknown_top_level_key_without_a_close_match(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, DOCS + "zzz: 1\n")
    assert pos == "3:1"
    assert message.startswith("unknown key 'zzz' (allowed: ")


def test_unknown_rule_key_with_did_you_mean(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, _rule("on: rcpt", "repyl: 421 4.3.2 bye"))
    assert pos == "5:5"
    assert message.startswith("rules[1]: unknown key 'repyl'; did you mean 'reply'?")
    assert "conditions: on, " in message and "faults: " in message


def test_misspelt_on_is_reported_once(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, _rule("onn: rcpt", "reply: 421 x"))
    assert pos == "4:5"
    assert message.startswith("rules[1]: unknown key 'onn'; did you mean 'on'?")


def test_unknown_server_key_with_did_you_mean(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, DOCS + "server:\n  hostnme: mx.test\n")
    assert pos == "4:3"
    assert message.startswith("server: unknown key 'hostnme'; did you mean 'hostname'?")


def test_unknown_fault_parameter_with_did_you_mean(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, _rule("on: rcpt", "reply: {code: 421, txt: bye}"))
    assert pos == "5:24"
    assert message.startswith("rules[1].reply: unknown parameter 'txt'; did you mean 'text'?")


def test_rule_without_on(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, _rule("reply: 421 4.3.2 bye"))
    assert pos == "4:5"
    assert message.startswith("rules[1]: missing 'on' (where the rule fires: connect, ")


def test_rule_without_any_fault(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, _rule("on: rcpt", "nth: 1"))
    assert pos == "4:5"
    assert message.startswith("rules[1]: the rule does nothing; add a fault (")
    assert "reply" in message and "delay" in message


def test_second_rule_is_numbered(tmp_path: Path) -> None:
    text = DOCS + "rules:\n  - on: rcpt\n    reply: 421 x\n  - on: mail\n"
    pos, message = _one(tmp_path, text)
    assert pos == "6:5"
    assert message.startswith("rules[2]: the rule does nothing")


# -- types ---------------------------------------------------------------------------------------


def test_seed_wrong_type(tmp_path: Path) -> None:
    assert _one(tmp_path, DOCS + 'seed: "x"\n') == (
        "3:7",
        "seed: expected a whole number, got str 'x'",
    )


def test_nth_wrong_type(tmp_path: Path) -> None:
    assert _one(tmp_path, _rule("on: rcpt", "nth: first", "reply: 421 x")) == (
        "5:10",
        "rules[1].nth: expected a whole number, got str 'first'",
    )


def test_nth_list_item_wrong_type(tmp_path: Path) -> None:
    assert _one(tmp_path, _rule("on: rcpt", "nth: [1, two]", "reply: 421 x")) == (
        "5:14",
        "rules[1].nth: expected a whole number, got str 'two'",
    )


def test_times_zero(tmp_path: Path) -> None:
    assert _one(tmp_path, _rule("on: rcpt", "times: 0", "reply: 421 x")) == (
        "5:12",
        "rules[1].times: must be at least 1, got 0",
    )


def test_times_is_not_a_boolean(tmp_path: Path) -> None:
    assert _one(tmp_path, _rule("on: rcpt", "times: yes", "reply: 421 x")) == (
        "5:12",
        "rules[1].times: expected a whole number, got bool True",
    )


def test_rules_not_a_list(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, DOCS + "rules:\n  on: rcpt\n")
    assert pos == "4:3"
    assert message == "rules: expected a list of rules, got a mapping"


def test_server_setting_wrong_types(tmp_path: Path) -> None:
    text = DOCS + "server:\n  require_helo: maybe\n  max_recipients: 0\n  extensions: SIZE\n"
    assert _problems(tmp_path, text) == [
        ("4:17", "server.require_helo: expected true or false, got str 'maybe'"),
        ("5:19", "server.max_recipients: must be at least 1, got 0"),
        ("6:15", "server.extensions: expected a list of EHLO keywords, got the value 'SIZE'"),
    ]


def test_fault_parameter_wrong_type(tmp_path: Path) -> None:
    assert _one(tmp_path, _rule("on: rcpt", "delay: soon")) == (
        "5:12",
        "rules[1].delay: expected a number of seconds or a duration (250ms, 30s, 5m, "
        "1h) or null, got str 'soon'",
    )


def test_fault_without_its_required_parameter(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, _rule("on: rcpt", "reply: {text: hi}"))
    assert (pos, message) == ("5:12", "rules[1].reply: missing parameter(s): code")


# -- stages ---------------------------------------------------------------------------------------


def test_unknown_stage_with_did_you_mean(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, _rule("on: rcp", "reply: 421 x"))
    assert pos == "4:9"
    assert message.startswith("rules[1].on: unknown stage 'rcp'; did you mean 'rcpt'? (allowed: ")


def test_unknown_stage_in_a_list(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, _rule("on: [mail, greeting]", "reply: 421 x"))
    assert pos == "4:16"
    assert "unknown stage 'greeting'; did you mean 'connect'?" in message


def test_empty_stage_list(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, _rule("on: []", "reply: 421 x"))
    assert pos == "4:9"
    assert message.startswith("rules[1].on: expected at least one stage")


# -- reply codes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "got"),
    [("621 Nope", "621"), ("42 Nope", "42"), ("199 Nope", "199"), ("4210 Nope", "4210")],
)
def test_reply_code_not_three_digits_2_to_5(tmp_path: Path, reply: str, got: str) -> None:
    assert _one(tmp_path, _rule("on: rcpt", f"reply: {reply}")) == (
        "5:12",
        "rules[1].reply: reply code must be three digits starting with 2 to 5, the second "
        f"digit 0 to 5 (RFC 5321 §4.2), got {got}",
    )


@pytest.mark.parametrize("reply", ["{code: 621}", "{code: 42, text: x}", "600"])
def test_reply_code_out_of_range_in_other_forms(tmp_path: Path, reply: str) -> None:
    pos, message = _one(tmp_path, _rule("on: rcpt", f"reply: {reply}"))
    assert pos.startswith("5:")
    assert "reply code must be three digits starting with 2 to 5" in message


def test_reply_code_not_a_number(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, _rule("on: rcpt", "reply: abc Nope"))
    assert pos == "5:12"
    assert (
        message
        == "rules[1].reply: a reply starts with its code (\"CODE [X.Y.Z] text\"), got 'abc Nope'"
    )


def test_enhanced_class_disagrees_with_code(tmp_path: Path) -> None:
    assert _one(tmp_path, _rule("on: rcpt", "reply: 421 5.3.2 Going down")) == (
        "5:12",
        "rules[1].reply: enhanced code 5.3.2 has class 5 but reply 421 has class 4 "
        "(RFC 3463 §2: they must agree)",
    )


def test_enhanced_on_an_intermediate_reply(tmp_path: Path) -> None:
    pos, message = _one(tmp_path, _rule("on: data", "reply: 354 2.0.0 go ahead"))
    assert (pos, message) == (
        "5:12",
        "rules[1].reply: 354 is intermediate: it takes no enhanced status code",
    )


@pytest.mark.parametrize(
    "enhanced", ["4.3", "4.x.2", "4.3.2.1", "4.1234.1", "4.04.1", "4.4.01", "4.00.0"]
)
def test_malformed_enhanced_code_in_the_string_form(tmp_path: Path, enhanced: str) -> None:
    # leading zeros too: RFC 3463 §2 writes subject and detail "without leading zero digits"
    assert _one(tmp_path, _rule("on: rcpt", f"reply: 421 {enhanced} text")) == (
        "5:12",
        "rules[1].reply: enhanced status code must look like 5.1.1 (RFC 3463 §2: "
        f"class.subject.detail, no leading zeros), got '{enhanced}'",
    )


@pytest.mark.parametrize("enhanced", ['"4.3"', '"6.0.0"', '"4.3.2 "', "x", '"4.3.00"'])
def test_malformed_enhanced_code_in_the_mapping_form(tmp_path: Path, enhanced: str) -> None:
    pos, message = _one(tmp_path, _rule("on: rcpt", f"reply: {{code: 421, enhanced: {enhanced}}}"))
    assert pos == "5:34"
    assert message.startswith("rules[1].reply.enhanced: enhanced status code must look like 5.1.1")


def test_well_formed_replies_load(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        DOCS
        + "rules:\n"
        + "  - on: rcpt\n    reply: 421 4.3.2 Going down\n"
        + "  - on: mail\n    reply: 250\n"
        + "  - on: data\n    reply: {code: 550, enhanced: 5.1.1, text: [one, two]}\n",
        encoding="utf-8",
    )
    first, second, third = load_file(path).rules
    assert [f.name for f in first.faults] == ["reply"]
    reply: Any = first.faults[0]
    assert (reply.code, reply.enhanced, reply.text) == (421, "4.3.2", "Going down")
    assert second.faults[0].code == 250  # type: ignore[attr-defined]
    assert third.faults[0].text == ("one", "two")  # type: ignore[attr-defined]
    assert first.location is not None and (first.location.line, first.location.column) == (4, 5)


# -- all at once, nothing half-loaded --------------------------------------------------------------


def test_all_problems_in_a_file_are_reported_at_once_in_order(tmp_path: Path) -> None:
    text = (
        "summary: s\n"
        "expect: e\n"
        "seed: x\n"  # 3:7 wrong type
        "rules:\n"
        "  - on: rcp\n"  # 5:9 unknown stage
        "    reply: 421 x\n"
        "  - on: mail\n"
        "    repyl: 421 x\n"  # 8:5 unknown key
    )
    found = _problems(tmp_path, text)
    assert [pos for pos, _ in found] == ["3:7", "5:9", "8:5"]
    assert "seed: expected a whole number" in found[0][1]
    assert "unknown stage 'rcp'" in found[1][1]
    assert "unknown key 'repyl'; did you mean 'reply'?" in found[2][1]


def test_problems_across_sections_come_in_file_order(tmp_path: Path) -> None:
    text = (
        "rules:\n"
        "  - on: rcpt\n"
        "    times: 0\n"  # 3:12
        "    reply: 621\n"  # 4:12
        "server:\n"
        "  max_recipients: x\n"  # 6:19
        "summaryy: s\n"  # 7:1
    )
    found = _problems(tmp_path, text)
    assert [pos for pos, _ in found] == ["1:1", "1:1", "3:12", "4:12", "6:19", "7:1"]
    assert found[0][1].startswith("missing 'summary'")
    assert found[1][1].startswith("missing 'expect'")
    assert "did you mean 'summary'?" in found[5][1]


def test_nothing_is_half_loaded(tmp_path: Path) -> None:
    text = _rule("on: rcpt", "reply: 421 x") + "  - on: rcp\n    reply: 421 x\n"
    path = tmp_path / "half.yaml"
    path.write_text(text, encoding="utf-8")
    result: Scenario | None = None
    with pytest.raises(ScenarioError) as info:
        result = load_file(path)
    assert result is None
    assert len(info.value.problems) == 1
    with pytest.raises(ScenarioError):
        resolve(path)


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda path: None, "No such file or directory"),
        (lambda path: path.mkdir(), "Is a directory"),
    ],
    ids=["missing", "a-directory"],
)
def test_a_file_that_cannot_be_read_has_no_line_or_column(
    tmp_path: Path, make: Any, why: str
) -> None:
    # nothing in it was read: "file:1:1:" would be a position made up
    path = tmp_path / "scen.yaml"
    make(path)
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    (problem,) = info.value.problems
    assert str(problem) == f"{path}: cannot read: {why}"
    assert str(info.value) == f"{path}: cannot read: {why}"
    # the same through a name's lookup (resolve) and the cached loader
    with pytest.raises(ScenarioError) as again:
        resolve(path)
    assert str(again.value) == f"{path}: cannot read: {why}"


def test_not_utf8_is_told_at_the_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("summary: s\nexpect: caf\xe9 \xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    assert str(info.value) == (
        f"{path}:2:12: cannot read: not UTF-8 (byte 0xe9: invalid continuation byte)"
    )


def test_not_utf8_column_counts_characters_before_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_bytes("summary: \u00e9t\u00e9 ".encode() + b"\xff\n")  # two 2-byte characters first
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    assert str(info.value).startswith(f"{path}:1:14: cannot read: not UTF-8 (byte 0xff: ")


def test_load_text_reports_its_source() -> None:
    with pytest.raises(ScenarioError) as info:
        load_text("summary: s\n", source="<pasted>")
    assert (
        str(info.value) == "<pasted>:1:1: missing 'expect': what a correct client is expected to do"
    )


def test_unknown_name_with_a_close_match_points_at_the_list() -> None:
    with pytest.raises(ScenarioError) as info:
        resolve("421-at-greting")
    (problem,) = info.value.problems
    count = len(scenario_files())
    # a name has no file, so no file:line:col; after a good guess, the ~80 names would bury it
    assert str(problem) == (
        "no scenario named '421-at-greting'; did you mean '421-at-greeting'? "
        f"(`smtpfake list` names all {count})"
    )
    assert str(info.value) == str(problem)


def test_unknown_name_with_no_close_match_lists_the_names(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("summary: s\nexpect: e\n")
    with pytest.raises(ScenarioError) as info:
        resolve("zzzqqq", [tmp_path])
    message = str(info.value)
    known = ", ".join(sorted(scenario_files([tmp_path])))
    assert message == f"no scenario named 'zzzqqq' (known: {known})"
    assert "mine" in known.split(", ")


def test_unknown_name_pointer_names_the_scenario_dirs_option(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        resolve("defualt", [tmp_path])
    assert str(info.value).endswith(
        f"did you mean 'default'? (`smtpfake list --scenario-dir DIR` names all "
        f"{len(scenario_files())})"
    )


# -- the dict form ---------------------------------------------------------------------------------


def test_load_mapping_needs_no_summary_or_expect() -> None:
    scenario = load_mapping({"rules": [{"on": "rcpt", "nth": 1, "reply": "421 4.3.2 bye"}]})
    (rule,) = scenario.rules
    assert rule.stages == frozenset({Stage.RCPT})
    assert rule.nth == (1,)
    assert scenario.name == "inline"
    assert scenario.summary  # a default one-liner
    assert scenario.source == "<inline>"


def test_load_mapping_empty_dict_is_the_default_behaviour() -> None:
    scenario = load_mapping({})
    assert scenario.rules == ()


def test_load_mapping_takes_the_name_and_tuples() -> None:
    scenario = load_mapping(
        {"name": "mine", "server": {"extensions": ("PIPELINING", "SIZE 10")}},
    )
    assert scenario.name == "mine"
    assert scenario.server.extensions == ("PIPELINING", "SIZE 10")


def test_load_mapping_reports_problems_like_a_file() -> None:
    with pytest.raises(ScenarioError) as info:
        load_mapping({"rules": [{"on": "rcp", "repyl": "421 x"}]}, name="mine")
    messages = [p.message for p in info.value.problems]
    # by key path alone: a line:col would point into the YAML copy made of the dict
    assert [str(p) for p in info.value.problems] == [f"<mine>: {m}" for m in messages]
    assert {p.location.line for p in info.value.problems} == {0}
    assert any(m.startswith("rules[1].on: ") and "did you mean 'rcpt'?" in m for m in messages)
    assert any("did you mean 'reply'?" in m for m in messages)


def test_a_dicts_parameter_values_stay_a_params_error_by_key_path() -> None:
    from smtpfake.scenario import ParamsError

    rule = {"on": "rcpt", "nth": "${n}", "reply": "450 4.2.0 busy"}
    scenario = {"params": {"n": {"type": "int", "default": 1}}, "rules": [rule]}
    with pytest.raises(ParamsError) as info:
        load_mapping(scenario, params={"n": "x"})
    assert info.value.settings and info.value.settings[0].startswith("n=x: ")
    assert str(info.value).startswith("<inline>: ")


def test_load_mapping_with_a_value_yaml_cannot_hold() -> None:
    with pytest.raises(ScenarioError) as info:
        load_mapping({"summary": object()})
    # the dict as a whole: its YAML was never made, so there is no line to point at
    assert str(info.value).startswith("<inline>: cannot read: ")


def test_load_mapping_does_not_read_true_as_on() -> None:
    # A dict written in Python has the key "on"; True (what PyYAML 1.1 makes of `on`) is not it.
    with pytest.raises(ScenarioError) as info:
        load_mapping({"rules": [{True: "rcpt", "reply": "421 x"}]})
    assert any("unknown key 'true'" in p.message for p in info.value.problems)


@pytest.mark.parametrize("fault", ["hang", "abort", "delay", "reply", "close"])
def test_a_fault_without_a_value_is_a_problem_not_a_crash(fault: str, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"summary: s\nexpect: e\nrules:\n  - on: data\n    {fault}:\n")
    with pytest.raises(ScenarioError) as info:
        load_file(path)
    assert "s.yaml:5:" in str(info.value)
    assert "needs a value" in str(info.value)


def test_a_handler_object_where_the_scenario_goes_says_where_it_belongs() -> None:
    """``Server(handler)``, as aiosmtpd's ``Controller(handler)`` reads: a TypeError naming
    handler= and delivery=, not a search for a scenario named by the object's repr."""
    from smtpfake.server import Server

    class Collector:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            return "250 OK"

    with pytest.raises(TypeError) as info:
        Server(Collector())  # type: ignore[arg-type]
    assert str(info.value).startswith(
        "a scenario is a name, a YAML path, a dict or a Scenario, not a Collector; an aiosmtpd "
        "handler object goes in handler= "
    )
    assert "delivery=" in str(info.value)
