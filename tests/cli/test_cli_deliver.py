"""``--deliver maildir:PATH`` as a new user gives it: a folder made beforehand (``mkdir mail``)
takes mail, and a PATH that cannot be a Maildir is one usage error line, not a traceback."""

from __future__ import annotations

import mailbox
import smtplib
from pathlib import Path

import pytest

from smtpfake import cli
from smtpfake.server import Server


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var, *_ in cli.SERVE_ENV.values():
        monkeypatch.delenv(var, raising=False)


def test_an_existing_empty_folder_becomes_a_maildir(tmp_path: Path) -> None:
    """Python's Maildir made tmp/new/cur only for a folder it made itself: every delivery into
    a folder the user had made failed with a server error."""
    box = tmp_path / "mail"
    box.mkdir()
    with Server(delivery=f"maildir:{box}") as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.sendmail("a@x.test", ["b@y.test"], b"Subject: kept\r\n\r\nhello\r\n")
        server.wait_for_deliveries()
        assert server.errors == []
    assert [m["Subject"] for m in mailbox.Maildir(box)] == ["kept"]


@pytest.mark.parametrize(
    ("where", "reason"),
    [("missing/mail", "No such file or directory"), ("a-file", "not a directory")],
)
def test_a_maildir_that_cannot_be_used_is_one_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, reason: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    path = tmp_path / where
    assert cli.main(["serve", "--port", "0", "--deliver", f"maildir:{path}"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"smtpfake serve: error: --deliver/SMTPFAKE_DELIVER: cannot use the Maildir "
        f"{str(path)!r}: {reason}\n"
        "For more information, try 'smtpfake serve --help'.\n"
    )
