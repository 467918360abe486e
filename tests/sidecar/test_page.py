"""The web page at / in a real headless Chromium (Debian's chromium + chromedriver, via selenium).

Open the page, send mail over SMTP, watch the session and the message appear without a reload,
look at the message (text, HTML in a sandboxed frame, raw), switch the scenario from the page and
see the next session follow it. Bounded: every wait has a deadline (WebDriverWait). And the
probe's HTML report, laid out by the same browser.
"""

from __future__ import annotations

import base64
import os
import shutil
import smtplib
import socket
import tempfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from smtpfake.engine.records import UNFINISHED_TAG, not_delivered
from smtpfake.http import ApiServer
from smtpfake.probe.judge import Verdict
from smtpfake.probe.reports.html import html_report
from smtpfake.probe.runner import CaseResult
from smtpfake.server import Server

from ..support.sidecar import own_sidecar
from .conftest import REPO, TIMEOUT, call

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

#: the longest the browser may take to show a change (generous: a loaded CI machine)
PAGE_TIMEOUT = 15.0
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: where the README's screenshot is written when SMTPFAKE_SCREENSHOT=1
SCREENSHOT = REPO / "docs" / "sidecar-page.png"


def _need_browser() -> None:
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    why = "Debian's chromium and chromium-driver are not installed (bash .ci/chromium-deps)"
    if os.environ.get("SMTPFAKE_REQUIRE_EXTERNAL") == "1":
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    _need_browser()
    profile = tempfile.mkdtemp(prefix="smtpfake-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def sidecar() -> Iterator[ApiServer]:
    with own_sidecar() as api:
        yield api


class Tripwire:
    """A listener that must see no connection: remote content in a message's HTML points here."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def touched(self, within: float) -> bool:
        self.sock.settimeout(within)
        try:
            self.sock.accept()[0].close()
        except TimeoutError:
            return False
        return True


def mail(server: Server, subject: str, tripwire: str = "http://127.0.0.1:9") -> None:
    msg = EmailMessage()
    msg["From"] = "app@x.test"
    msg["To"] = "user@y.test"
    msg["Subject"] = subject
    msg.set_content("Plain words.\n")
    # a script in the HTML must never run in the page (it would set the title), and nothing may
    # be fetched for it: not an image, a style sheet, nor a page it refreshes to
    msg.add_alternative(
        f"<meta http-equiv='refresh' content='0;url={tripwire}/refresh'>"
        f"<link rel='stylesheet' href='{tripwire}/css'><img src='{tripwire}/pixel'>"
        "<p id='hi'>Hello <b>HTML</b></p><script>parent.document.title='pwned'</script>"
        # HTML mail is styled inline: shown as sent (a srcdoc frame inherits the page's policy)
        "<p id='styled' style='color: rgb(255, 0, 0)'>red</p>"
        "<style>#sheet { color: rgb(0, 0, 255) }</style><p id='sheet'>blue</p>",
        subtype="html",
    )
    msg.add_attachment(b"%PDF-1.4 x", maintype="application", subtype="pdf", filename="a.pdf")
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.send_message(msg)


def test_the_page_follows_sessions_messages_and_the_scenario(
    browser: webdriver.Chrome, sidecar: ApiServer, tmp_path: Path
) -> None:
    server = sidecar.server
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    wait = WebDriverWait(browser, PAGE_TIMEOUT, ignored_exceptions=[StaleElementReferenceException])
    browser.get(sidecar.url + "/")
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
    assert browser.find_element(By.ID, "scenario-name").text == "default"

    tripwire = Tripwire()
    mail(server, "From the test", tripwire.url)
    # no reload: the event stream brings both
    # (the lists are drawn anew on each event: an element found a moment ago may be gone, so
    # each read or click is retried until it holds)
    wait.until(lambda d: "S: 221" in d.find_element(By.CSS_SELECTOR, "#sessions .timeline").text)
    timeline = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#sessions .timeline").text)
    assert "C: EHLO" in timeline.upper() and "S: 250" in timeline
    wait.until(lambda d: "From the test" in d.find_element(By.ID, "messages").text)

    def open_it(d: webdriver.Chrome) -> bool:
        d.find_element(By.CSS_SELECTOR, "#messages li.message").click()
        return bool(d.find_element(By.ID, "message-subject").text == "From the test")

    wait.until(open_it)
    assert "Plain words." in browser.find_element(By.ID, "message-text").text
    assert "a.pdf" in browser.find_element(By.ID, "message-attachments").text
    browser.find_element(By.CSS_SELECTOR, "button.view[data-view='html']").click()
    frame = browser.find_element(By.ID, "message-html")
    assert frame.get_attribute("sandbox") == ""  # no scripts, no same-origin
    browser.switch_to.frame(frame)
    assert wait.until(lambda d: d.find_element(By.ID, "hi")).text == "Hello HTML"
    styled = browser.find_element(By.ID, "styled").value_of_css_property("color")
    sheet = browser.find_element(By.ID, "sheet").value_of_css_property("color")
    assert (styled, sheet) == ("rgba(255, 0, 0, 1)", "rgba(0, 0, 255, 1)")
    browser.switch_to.default_content()
    assert browser.title == "smtpfake"  # the message's script did not run
    assert not tripwire.touched(within=1.0)  # nor was anything fetched for it
    tripwire.sock.close()
    browser.find_element(By.CSS_SELECTOR, "button.view[data-view='raw']").click()
    assert "Subject: From the test" in browser.find_element(By.ID, "message-raw").text

    # Download .eml: the exact bytes received
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    browser.find_element(By.ID, "download").click()
    (received,) = server.messages
    shown = browser.find_element(By.ID, "message").get_attribute("data-id")
    saved = downloads / f"message-{shown}.eml"
    wait.until(lambda d: saved.exists() and saved.read_bytes() == received.data)

    # a violation is shown with its RFC section
    with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT) as client:
        client.docmd("MAIL FROM:<a@x.test>")  # no EHLO first
    flagged = wait.until(
        lambda d: d.find_element(By.CSS_SELECTOR, ".violation[data-kind='no-helo']").text
    )
    assert "MAIL before HELO/EHLO" in flagged
    assert flagged.endswith("RFC 5321 §4.1.4")  # the .rfc part, last in the line
    assert flagged.count("RFC 5321") == 1  # not also in the detail before it

    # switch the scenario from the page: the next session meets it
    Select(browser.find_element(By.ID, "scenario-select")).select_by_value("421-at-greeting")
    browser.find_element(By.ID, "use-scenario").click()
    wait.until(lambda d: d.find_element(By.ID, "scenario-name").text == "421-at-greeting")
    assert server.scenario.name == "421-at-greeting"
    with pytest.raises(smtplib.SMTPConnectError):
        smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
    wait.until(lambda d: "S: 421" in d.find_element(By.ID, "sessions").text)
    # the rule behind the reply, and its fault, tagged on it
    wait.until(lambda d: "rule 1 (on connect): reply" in d.find_element(By.ID, "sessions").text)

    assert "421-at-greeting" in browser.find_element(By.ID, "scenario-show").text

    # the clock: moved forward from the page
    before = server.now()
    field = browser.find_element(By.ID, "clock-seconds")
    field.clear()
    field.send_keys("300")
    browser.find_element(By.ID, "clock-advance").click()
    wait.until(lambda d: server.now() >= before + 300)
    wait.until(
        lambda d: (
            float(d.find_element(By.ID, "clock-now").get_attribute("data-now")) >= before + 300
        )
    )
    assert not browser.find_element(By.ID, "error").is_displayed()
    if os.environ.get("SMTPFAKE_SCREENSHOT") == "1":
        browser.find_element(By.CSS_SELECTOR, "button.view[data-view='text']").click()
        SCREENSHOT.parent.mkdir(exist_ok=True)
        browser.save_screenshot(str(SCREENSHOT))

    # reset from the page empties both lists
    browser.find_element(By.ID, "reset").click()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#sessions .session"))
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#messages li.message"))
    assert not server.errors
    # nothing the page asked its own sidecar for failed (a /favicon.ico 404 on every load was)
    console = browser.get_log("browser")
    failed = [e["message"] for e in console if e["message"].startswith(sidecar.url)]
    assert failed == [], console


#: each session's timeline cells (not the times) as text, in order, with a rule's tag written as
#: format() writes it (`[LABEL]`; the page adds the rule's faults); whether each is marked
#: undelivered (its CSS class), and each violation's kind and text
TIMELINE_TEXT = """
return [...document.querySelectorAll('#sessions .session')].reverse().map((box) => ({
  cells: [...box.querySelectorAll('.timeline > .client, .timeline > .server')]
    .filter((cell) => cell.textContent).map((cell) => {
      const copy = cell.cloneNode(true);
      for (const rule of copy.querySelectorAll('.rule')) rule.replaceWith(`[${rule.dataset.rule}]`);
      return [copy.textContent, cell.classList.contains('undelivered')];
    }),
  violations: [...box.querySelectorAll('.violation')].map((v) => [v.dataset.kind, v.textContent]),
}));
"""


def test_the_page_marks_what_was_not_delivered_as_format_does(
    browser: webdriver.Chrome, sidecar: ApiServer
) -> None:
    """A line the client's close cut short and a reply it left before it was written carry
    format()'s marks, set apart by a class; a client's control octets and octets that were not
    UTF-8 are shown as format() shows them (\\xNN); a line sent after the 221 is flagged."""
    server = sidecar.server
    server.use(
        {
            # a user name with an ESC in it, as a client may send one
            "server": {"auth": {"mechanisms": ["PLAIN"], "users": {"ev\x1b[2Jil": "pw"}}},
            "rules": [
                {"on": "noop", "connection": 1, "delay": 2},
                # session 3: EHLO's reply leaves its first line (19 octets with its CRLF), then a
                # pause the client does not wait out
                {"on": "ehlo", "connection": 3, "drip": {"bytes": 19, "interval": 2}},
            ],
        }
    )
    wait = WebDriverWait(browser, PAGE_TIMEOUT, ignored_exceptions=[StaleElementReferenceException])
    browser.get(sidecar.url + "/")
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")

    # 1: NOOP's reply is held back (the rule's delay); the client sends the start of QUIT and leaves
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as client:
        assert client.recv(512).startswith(b"220 ")
        client.sendall(b"NOOP\r\nQUI")
    # 2: ESC, BEL and an octet that is not UTF-8 in a line; a multi-line reply; NOOP after the 221
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as client:
        reader = client.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        client.sendall(b"EHLO client.test\r\n")
        while reader.readline()[3:4] == b"-":
            pass
        client.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0ev\x1b[2Jil\0pw") + b"\r\n")
        assert reader.readline().startswith(b"235 ")
        client.sendall(b"NOOP \x1b[31mred\x07\xff\r\n")
        assert reader.readline().startswith(b"250 ")
        client.sendall(b"QUIT\r\n")
        assert reader.readline().startswith(b"221 ")
        assert reader.readline() == b""  # the server's half-close: EOF, not a reset
        client.sendall(b"NOOP\r\n")
    # 3: a multi-line reply the client leaves after its first line
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as client:
        reader = client.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        client.sendall(b"EHLO client.test\r\n")
        assert reader.read(19) == b"250-smtpfake.test\r\n"
        reader.close()  # else its reference keeps the socket open past the with
    assert server.settle(PAGE_TIMEOUT)
    first, second, third = server.sessions

    def shown(d: webdriver.Chrome) -> list[dict[str, list[list[Any]]]] | None:
        got = d.execute_script(TIMELINE_TEXT)
        done = len(got) == 3 and all(
            len(g["cells"]) == len(s.transcript)
            for g, s in zip(got, (first, second, third), strict=True)
        )
        return got if done else None

    page = wait.until(shown)
    # the transcript as the page shows it is format()'s, line for line, marks and \\xNN included
    for session, on_page in zip((first, second, third), page, strict=True):
        formatted = session.format().split("\n")
        lines = [text for text, _ in on_page["cells"]]
        entries = "\n".join(f"  {line}" for text in lines for line in text.split("\n"))
        assert entries.split("\n") == formatted[1 : 1 + len(entries.split("\n"))]
        marked = [bool(mark) for _, mark in on_page["cells"]]
        assert marked == [not e.delivered for e in session.transcript]
    cells = [text for text, _ in page[0]["cells"]]
    assert "C: QUI" + UNFINISHED_TAG in cells
    assert "S: 250 2.0.0 Ok   [rule 1 (on noop)]" + not_delivered(0) in cells
    assert "C: NOOP \\x1b[31mred\\x07\\xff" in [text for text, _ in page[1]["cells"]]
    # only the line that crossed is shown: none of the next one left (reply_as_sent)
    lines = third.transcript[2].text.count("\n")
    assert "S: 250-smtpfake.test   [rule 2 (on ehlo)]" + not_delivered(19)[:-1] + (
        f"; {lines} more lines not sent)"
    ) in [text for text, _ in page[2]["cells"]]
    kinds = [kind for kind, _ in page[1]["violations"]]
    assert "sent-after-close" in kinds
    (cut,) = [text for kind, text in page[0]["violations"] if kind == "unterminated-line"]
    assert "(on 'QUI')" in cut
    heads = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#sessions .session h3")]
    assert heads[1].endswith("(AUTH ev\\x1b[2Jil)")  # the newest first: session 3, then 2
    # the mark is words a screen reader reads, not only a colour
    marks = browser.find_elements(By.CSS_SELECTOR, ".undelivered .mark")
    assert UNFINISHED_TAG.strip() in [m.text for m in marks]
    assert all(m.is_displayed() for m in marks)


def test_the_page_says_how_a_reply_line_ended_as_format_does(
    browser: webdriver.Chrome, sidecar: ApiServer
) -> None:
    """A reply line that did not end in CRLF (TranscriptEntry.endings) carries format()'s tag:
    a bare LF, a line with no ending (truncate); of a reply the client left, only the lines
    that left whole, counted by their own endings."""
    server = sidecar.server
    server.use(
        {
            "rules": [
                {"on": "noop", "connection": 1, "raw": "250-a\n250 b"},
                {"on": "vrfy", "reply": "550 5.1.1 no such user", "truncate": 6},
                # session 3: the first line and two octets of the second, then a long pause
                {
                    "on": "noop",
                    "connection": 3,
                    "raw": "250-a\n250 b\n",
                    "drip": {"bytes": 8, "interval": 2},
                },
            ],
        }
    )
    wait = WebDriverWait(browser, PAGE_TIMEOUT, ignored_exceptions=[StaleElementReferenceException])
    browser.get(sidecar.url + "/")
    wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
    for command, wire in (
        (b"NOOP", b"250-a\n250 b"),
        (b"VRFY b", b"550 5."),
        (b"NOOP", b"250-a\n25"),
    ):
        with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as client:
            reader = client.makefile("rb")
            assert reader.readline().startswith(b"220 ")
            client.sendall(command + b"\r\n")
            assert reader.read(len(wire)) == wire
            reader.close()
    assert server.settle(PAGE_TIMEOUT)
    sessions = server.sessions

    def shown(d: webdriver.Chrome) -> list[dict[str, list[list[Any]]]] | None:
        got = d.execute_script(TIMELINE_TEXT)
        done = len(got) == 3 and all(
            len(g["cells"]) == len(s.transcript) for g, s in zip(got, sessions, strict=True)
        )
        return got if done else None

    page = wait.until(shown)
    for session, on_page in zip(sessions, page, strict=True):
        formatted = session.format().split("\n")
        lines = [text for text, _ in on_page["cells"]]
        entries = "\n".join(f"  {line}" for text in lines for line in text.split("\n"))
        assert entries.split("\n") == formatted[1 : 1 + len(entries.split("\n"))]
    cells = [[text for text, _ in on_page["cells"]] for on_page in page]
    assert (
        "S: 250-a   (bare LF)\nS: 250 b   (unfinished: no line ending)   [rule 1 (on noop)]"
        in (cells[0])
    )
    assert "S: 550 5.   (unfinished: no line ending)   [rule 2 (on vrfy)]" in cells[1]
    assert "S: 250-a   (bare LF)\nS: 250 b   [rule 3 (on noop)]" + not_delivered(8) in cells[2]


def test_the_page_asks_for_the_token_and_follows_a_server_on_demand(
    browser: webdriver.Chrome,
) -> None:
    server = Server("default").start()
    try:
        with ApiServer(server, token="sesame") as api:
            wait = WebDriverWait(
                browser, PAGE_TIMEOUT, ignored_exceptions=[StaleElementReferenceException]
            )
            browser.get(api.url + "/")
            wait.until(lambda d: d.find_element(By.ID, "token-bar").is_displayed())
            browser.find_element(By.ID, "token").send_keys("sesame")
            browser.find_element(By.ID, "token-save").click()
            wait.until(lambda d: d.find_element(By.ID, "scenario-name").text == "default")
            wait.until(lambda d: d.find_element(By.ID, "live").text == "live")

            made = call(
                api.url, "POST", "/api/servers", {"scenario": "421-at-greeting-once"},
                token="sesame",
            ).body  # fmt: skip
            # the switcher learns of it from the event stream, then follows it
            option = f"#server-select option[value='{made['id']}']"
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, option))

            def choose(d: webdriver.Chrome) -> bool:  # the options are redrawn on events too
                Select(d.find_element(By.ID, "server-select")).select_by_value(made["id"])
                return True

            wait.until(choose)
            wait.until(
                lambda d: d.find_element(By.ID, "scenario-name").text == "421-at-greeting-once"
            )
            wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
            with pytest.raises(smtplib.SMTPConnectError):
                smtplib.SMTP(made["host"], made["smtp_port"], timeout=TIMEOUT)
            wait.until(lambda d: "S: 421" in d.find_element(By.ID, "sessions").text)
            assert server.sessions == ()  # the main server saw none of it
    finally:
        server.stop()


def test_the_probe_report_keeps_each_verdict_on_one_line(
    browser: webdriver.Chrome, tmp_path: Path
) -> None:
    """The probe's HTML report in a narrow window, long reasons beside the verdicts: each
    verdict cell is one line ("non-strict" broke after its hyphen)."""

    def result(verdict: Verdict) -> CaseResult:
        scenario = SimpleNamespace(summary="a case", expect="what a client does")
        return CaseResult(
            # what html_report reads of a case, its client and its evidence
            case=SimpleNamespace(name=f"case-{verdict.value}", scenario=scenario),
            kind=None,
            verdict=verdict,
            reason="the client retried the transaction after the 421 but not the message " * 3,
            checks=(),
            evidence=SimpleNamespace(sessions=(), reported=lambda: "1 session"),
            seconds=0.1,
        )

    page = tmp_path / "report.html"
    # no "informational" row: its one word would widen the column for the others
    verdicts = [Verdict.PASS, Verdict.NON_STRICT, Verdict.FAIL]
    page.write_text(html_report([result(v) for v in verdicts], ["client"]))
    browser.set_window_size(420, 800)
    browser.get(page.as_uri())
    lines = browser.execute_script(
        "return [...document.querySelectorAll('td[class]')].map(td => {"
        "  const range = document.createRange(); range.selectNodeContents(td);"
        "  return [td.textContent, range.getClientRects().length]; })"
    )
    assert lines == [[v.value, 1] for v in verdicts]


def test_the_page_shows_each_problem_of_a_scenario_it_cannot_use(
    browser: webdriver.Chrome, tmp_path: Path
) -> None:
    (tmp_path / "broken.yaml").write_text(
        "summary: s\nexpect: e\nrules: [{on: mial, close: true}]\n"
    )
    server = Server("default", scenario_dirs=[tmp_path]).start()
    try:
        with ApiServer(server) as sidecar:
            wait = WebDriverWait(browser, PAGE_TIMEOUT)
            browser.get(sidecar.url + "/")
            wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
            Select(browser.find_element(By.ID, "scenario-select")).select_by_value("broken")
            browser.find_element(By.ID, "use-scenario").click()
            shown = wait.until(lambda d: d.find_element(By.ID, "error").text)
    finally:
        server.stop()
    first, problem = shown.split("\n")
    assert first == "the scenario is invalid (1 problem(s))"
    assert (
        problem.startswith(f"{tmp_path / 'broken.yaml'}:3:") and "unknown stage 'mial'" in problem
    )
    assert server.scenario.name == "default"
