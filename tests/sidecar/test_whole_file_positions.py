"""PUT /api/scenario and the Python client: a problem of the upload as a whole has no line:col
(``<mine>: the file is empty``, details ``line`` 0), one at a place has that place's (a character
YAML does not allow: it read ``<mine>:1:1: ... position 19``); settings made in Python have
no file to point into at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpfake.http import ApiServer
from smtpfake.remote import RemoteSmtpFake
from smtpfake.scenario import Scenario, ScenarioError, ServerSettings
from smtpfake.scenario.model import TlsSettings
from smtpfake.serialize import problems_from_json
from smtpfake.server import Server

from .conftest import call

YAML = "application/yaml"
CONTROL = "invalid YAML: unacceptable character #x0007: special characters are not allowed"


@pytest.mark.parametrize(
    ("text", "line", "column", "said"),
    [
        ("# nothing yet\n", 0, 0, "<mine>: the file is empty"),
        ("", 0, 0, "<mine>: the file is empty"),
        ("summary: s\nexpect: ding\x07\n", 2, 13, f"<mine>:2:13: {CONTROL}"),
    ],
    ids=["comments-only", "no-bytes", "control-character"],
)
def test_an_upload_is_told_at_its_true_place(
    api: ApiServer, text: str, line: int, column: int, said: str
) -> None:
    got = call(api.url, "PUT", "/api/scenario?name=mine", raw=text.encode(), content_type=YAML)
    assert got.status == 400, got
    assert got.body["problems"] == [said]
    message = said.split(": ", 1)[1]
    assert got.body["details"] == [
        {"file": "<mine>", "line": line, "column": column, "message": message}
    ]
    assert api.server.scenario.name == "default"  # unchanged


def test_the_python_client_says_a_local_file_as_in_process(api: ApiServer, tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("---\n", encoding="utf-8")
    fake = RemoteSmtpFake(api.url)
    with pytest.raises(ScenarioError) as remote:
        fake.use(str(empty))
    with pytest.raises(ScenarioError) as local:
        Server(str(empty))
    assert str(remote.value) == str(local.value) == f"{empty}: the file is empty"


def test_an_answer_without_details_is_its_message_alone() -> None:
    # it read "<remote>:1:1: ...", a place in no file
    error = problems_from_json({"error": "the scenario is invalid"})
    assert str(error) == "the scenario is invalid"


def test_tls_settings_made_in_python_have_no_file_to_point_into(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    settings = ServerSettings(tls=TlsSettings(enabled=True, certificate=str(missing)))
    made = Scenario(name="made", summary="s", expect="e", server=settings)
    with pytest.raises(ScenarioError) as info:
        Server(made)
    (problem,) = info.value.problems
    assert str(problem).startswith(f"server.tls: cannot use {missing}: ")  # was <scenario>:1:1:
    assert str(problem) == problem.message
