"""``smtpfake show --remote URL`` where something answers that is not a sidecar's API (its SMTP
port, another web server, a reply cut short): one line naming the URL and what answered, exit
2, not a 53-line traceback of http.client's BadStatusLine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugin.not_a_sidecar import ANSWERS, answering

COMMAND = str(Path(sys.executable).with_name("smtpfake"))  # the installed console script


@pytest.mark.parametrize("kind", list(ANSWERS))
def test_show_says_what_answered_in_one_line(kind: str) -> None:
    answer, said = ANSWERS[kind]
    with answering(answer) as url:
        result = subprocess.run(
            [COMMAND, "show", "--remote", url], capture_output=True, text=True, timeout=30
        )
    assert (result.returncode, result.stdout) == (2, "")
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"smtpfake show: {url} is not an smtpfake sidecar's API: ")
    assert said in line
