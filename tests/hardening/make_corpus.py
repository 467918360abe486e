"""Writes corpus/*.yaml: the malformed scenarios test_corpus.py checks (run it after editing the
table below: ``python tests/hardening/make_corpus.py``). Each file ends with the line
``# expect: LINE:COL: TEXT``: where its first problem is, and what that problem says."""

from __future__ import annotations

from pathlib import Path

from smtpfake.scenario.limits import MAX_RULES

D = Path(__file__).resolve().parent / "corpus"
H = "summary: s\nexpect: e\n"


def rule(*lines: str) -> str:  # rule's first key at line 4 col 3
    return H + "rules:\n- " + "\n  ".join(lines) + "\n"


C = {}
# -- numbers
C["delay-nan"] = (rule("on: rcpt", "delay: .nan"), "5:10", "delay.seconds: must be a finite number")
C["delay-inf"] = (rule("on: rcpt", "delay: .inf"), "5:10", "must be a finite number, got .inf")
C["delay-neg-inf"] = (rule("on: rcpt", "delay: -.inf"), "5:10", "must be a finite number")
C["delay-too-long"] = (rule("on: rcpt", "delay: 86401"), "5:10", "must be at most 86400")
C["delay-min-nan"] = (
    rule("on: rcpt", "delay: {min: .nan, max: 2}"),
    "5:16",
    "delay.min: must be a finite number",
)
C["delay-median-inf"] = (
    rule("on: rcpt", "delay: {median: .inf}"),
    "5:19",
    "delay.median: must be a finite number",
)
C["delay-sigma-huge"] = (
    rule("on: rcpt", "delay: {median: 1, sigma: 1000}"),
    "5:29",
    "sigma must be from 0 to 10",
)
C["hang-inf"] = (rule("on: rcpt", "hang: .inf"), "5:9", "hang.seconds: must be a finite number")
C["hang-nan"] = (rule("on: rcpt", "hang: .NaN"), "5:9", "must be a finite number")
C["abort-inf"] = (
    rule("on: rcpt", "reply: 250", "abort: .inf"),
    "6:10",
    "abort.seconds: must be a finite number",
)
C["drip-interval-nan"] = (
    rule("on: rcpt", "drip: {interval: .nan}"),
    "5:20",
    "drip.interval: must be a finite number",
)
C["idle-timeout-nan"] = (
    H + "server:\n  idle_timeout: .nan\n",
    "4:17",
    "server.idle_timeout: must be a finite number",
)
C["idle-timeout-inf"] = (
    H + "server:\n  idle_timeout: .inf\n",
    "4:17",
    "server.idle_timeout: must be a finite number",
)
C["close-after-zero"] = (
    H + "server:\n  close_after: 0\n",
    "4:16",
    "server.close_after: must be more than 0 seconds",
)
C["retry-after-huge"] = (
    H + "server:\n  retry_after: 1.0e+300\n",
    "4:16",
    "server.retry_after: must be at most 86400 seconds",
)
C["probability-nan"] = (
    rule("on: rcpt", "reply: 451", "probability: .nan"),
    "6:16",
    "probability: must be from 0 to 1",
)
C["probability-inf"] = (
    rule("on: rcpt", "reply: 451", "probability: .inf"),
    "6:16",
    "probability: must be from 0 to 1",
)
C["window-nan"] = (
    rule("on: rcpt", "reply: 451", "first: 2", "window: .nan"),
    "7:11",
    "window: must be a finite number",
)
C["within-inf"] = (
    rule("on: rcpt", "reply: 451", "per: client", "within: .inf"),
    "7:11",
    "within: must be a finite number",
)
C["seed-4301-digits"] = (
    H + "seed: " + "9" * 4301 + "\n",
    "3:7",
    "seed: a number of 4,301 characters is too long",
)
C["seed-negative"] = (H + "seed: -1\n", "3:7", "seed: must be at least 0")
C["seed-over-64-bits"] = (
    H + "seed: 18446744073709551616\n",
    "3:7",
    "seed: must be at most 18446744073709551615",
)
C["seed-float"] = (H + "seed: 1.5\n", "3:7", "seed: expected a whole number")
C["times-huge"] = (
    rule("on: rcpt", "reply: 451", "times: 10000000000"),
    "6:10",
    "times: must be at most 1000000000",
)
C["nth-4301-digits"] = (rule("on: rcpt", "reply: 451", "nth: " + "1" * 4301), "6:8", "too long")
C["max-recipients-huge"] = (
    H + "server:\n  max_recipients: 99999999999\n",
    "4:19",
    "server.max_recipients: must be at most",
)
C["max-message-bytes-zero"] = (
    H + "server:\n  max_message_bytes: 0\n",
    "4:22",
    "must be at least 1",
)
C["cut-body-huge-float"] = (
    rule("on: data", "cut_body: 1.0e+400"),
    "5:13",
    "cut_body.after_bytes: expected a whole number",
)
C["float-4301-digits"] = (rule("on: rcpt", "delay: 1" + "0" * 4300 + ".5"), "5:10", "too long")
# -- structure
laughs = (
    H
    + "a: &a [x,x,x,x,x,x,x,x,x]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n"
        for i in range(8)
    )
)
C["billion-laughs"] = (laughs, "6:8", "aliases expand the document to more than 4 times")
C["laughs-in-rules"] = (
    H + "x: &x [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]\nrules: [" + ",".join(["*x"] * 400) + "]\n",
    None,
    "aliases expand the document",
)
C["alias-cycle"] = (H + "rules: &r [*r]\n", "3:12", "alias *r is inside the node it names")
C["alias-cycle-mapping"] = (H + "server: &s {tls: *s}\n", "3:18", "is inside the node it names")
C["alias-undefined"] = (H + "rules: *nothing\n", "3:8", "undefined alias")
C["nesting-500"] = (
    H + "description: " + "[" * 500 + "]" * 500 + "\n",
    "3:45",
    "nested more than 32 levels",
)
C["nesting-mappings"] = (
    H + "".join("  " * i + f"k{i}:\n" for i in range(40)) + "  " * 40 + "v\n",
    None,
    "nested more than 32 levels",
)
C["rules-over-limit"] = (
    H + "rules:\n" + "- {}\n" * (MAX_RULES + 1),
    f"{MAX_RULES + 4}:3",
    f"{MAX_RULES + 1:,} rules; a scenario has at most {MAX_RULES:,}",
)
C["reply-101-lines"] = (
    rule("on: rcpt", "reply: {code: 550, text: [" + ",".join(["x"] * 101) + "]}"),
    "5:28",
    "a reply has at most 100",
)
C["problems-capped"] = (H + "rules:\n" + "- {on: rcpt, bogus: 1}\n" * 300, "4:3", None)
C["merge-key-bomb"] = (
    H + "rules:\n- &a {on: rcpt, reply: 451}\n- <<: *a\n  times: 2\n",
    "5:3",
    "merge keys",
)
C["python-tag"] = (H + "rules: !!python/object/apply:os.system [echo hi]\n", "3:8", "YAML tag")
# -- wire text
C["hostname-crlf-injection"] = (
    H + 'server:\n  hostname: "evil.test\\r\\n250 injected"\n',
    "4:13",
    "server.hostname: a line break",
)
C["hostname-space"] = (H + "server:\n  hostname: two words\n", "4:13", "a hostname is one word")
C["hostname-empty"] = (H + 'server:\n  hostname: ""\n', "4:13", "a hostname is one word")
C["hostname-256"] = (H + "server:\n  hostname: " + "a" * 256 + "\n", "4:13", "at most 255 octets")
C["hostname-non-ascii"] = (H + "server:\n  hostname: exämple.test\n", "4:13", "not ASCII")
C["greeting-lf"] = (
    H + 'server:\n  greeting: "ESMTP\\n220 again"\n',
    "4:13",
    "server.greeting: a line break",
)
C["greeting-nul"] = (H + 'server:\n  greeting: "ESMTP\\0"\n', "4:13", "control character U+0000")
C["greeting-too-long"] = (
    H + "server:\n  hostname: " + "h" * 200 + "\n  greeting: " + "g" * 310 + "\n",
    "5:13",
    "server.greeting: with the hostname before it",
)
C["extensions-add-crlf"] = (
    H + 'server:\n  extensions_add: ["X\\r\\n554 injected"]\n',
    "4:20",
    "a line break",
)
C["extensions-bad-keyword"] = (
    H + "server:\n  extensions_add: [-X]\n",
    "4:20",
    "ehlo-keyword" if False else "RFC 5321 §4.1.1.1",
)
C["extensions-double-space"] = (
    H + 'server:\n  extensions: ["SIZE  10"]\n',
    "4:16",
    "RFC 5321 §4.1.1.1",
)
C["extensions-bel"] = (
    H + 'server:\n  extensions: ["X-FOO \\a"]\n',
    "4:16",
    "control character U+0007",
)
C["extensions-too-long"] = (
    H + "server:\n  extensions_add: [X " + "p" * 510 + "]\n",
    "4:20",
    "too long for one EHLO reply line",
)
C["reply-crlf"] = (
    rule("on: rcpt", 'reply: "550 5.1.1 a\\r\\n550 b"'),
    "5:10",
    "reply text: a line break",
)
C["reply-list-bare-lf"] = (
    rule("on: rcpt", 'reply: {code: 550, text: ["a", "b\\nc"]}'),
    "5:28",
    "reply text (line 2): a line break",
)
C["reply-nul"] = (rule("on: rcpt", 'reply: "550 a\\0b"'), "5:10", "control character U+0000")
C["reply-bel"] = (rule("on: rcpt", 'reply: "550 ding\\a"'), "5:10", "control character U+0007")
C["reply-606-octets"] = (
    rule("on: rcpt", "reply: 550 " + "a" * 602),
    "5:10",
    "is too long: a reply line is at most 512 octets",
)
C["reply-with-enhanced-too-long"] = (
    rule("on: rcpt", "reply: 550 5.1.1 " + "a" * 501),
    "5:10",
    "which leaves 500 here",
)
C["reply-code-260"] = (rule("on: rcpt", "reply: 260 ok"), "5:10", "the second digit 0 to 5")
C["reply-code-199"] = (rule("on: rcpt", "reply: 199 hi"), "5:10", "starting with 2 to 5")
C["reply-code-569"] = (rule("on: rcpt", "reply: {code: 569}"), "5:17", "the second digit 0 to 5")
C["reply-non-ascii"] = (
    rule("on: rcpt", "reply: 550 Zugriff verweigert \u2013 nein"),
    "5:10",
    "not ASCII",
)
C["enhanced-class-3"] = (
    rule("on: rcpt", "reply: 550 3.1.1 no"),
    "5:10",
    "enhanced status code must look like 5.1.1",
)
C["enhanced-subject-1000"] = (
    rule("on: rcpt", "reply: 550 5.1000.1 no"),
    "5:10",
    "enhanced status code must look like",
)
C["enhanced-detail-1000"] = (
    rule("on: rcpt", "reply: 550 5.1.1000 no"),
    "5:10",
    "enhanced status code must look like",
)
C["reply-code-5000-digits"] = (
    rule("on: rcpt", "reply: " + "4" * 5000 + " x"),
    "5:10",
    "(5,004 characters)",
)
C["ehlo-127-lines"] = (
    H + "server:\n  extensions_add: [" + ",".join(f"X{i}" for i in range(120)) + "]\n",
    "4:3",
    "the EHLO reply would have 127 lines",
)
C["mixed-codes-260"] = (
    rule("on: rcpt", "malformed: {kind: mixed-codes, code: 260}"),
    "5:40",
    "the second digit 0 to 5",
)
for name, (text, where, message) in C.items():
    tail = f"# expect: {where or '*'}: {message or '*'}\n"
    (D / f"{name}.yaml").write_text(text + tail, encoding="utf-8")
print(len(C))
