"""The image: build it, run it, send mail through the published port, read the API, stop it.

Needs a container engine. ``eval "$(../shared/tools/container-env)"`` sets one up and exports
CONTAINER_ENGINE and SMTPFAKE_BASE_IMAGE (``.ci/run`` does it); without them this test is skipped,
saying so. No package index is reachable from inside a build here, so the test builds wheels on the
host and hands them to pip in the build (the Dockerfile's PIP_NO_INDEX/PIP_FIND_LINKS arguments).
"""

from __future__ import annotations

import os
import shutil
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from smtpfake.remote import RemoteSmtpFake

from .conftest import REPO, TIMEOUT, call

ENGINE = os.environ.get("CONTAINER_ENGINE", "")
BASE = os.environ.get("SMTPFAKE_BASE_IMAGE", "")
TAG = "localhost/smtpfake:sidecar-test"

pytestmark = pytest.mark.skipif(
    not ENGINE or not BASE or not shutil.which(ENGINE),
    reason='no container engine: run `eval "$(../shared/tools/container-env)"` first '
    "(it exports CONTAINER_ENGINE and SMTPFAKE_BASE_IMAGE; .ci/run does this)",
)


def engine(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [ENGINE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert done.returncode == 0, f"{ENGINE} {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Build the image from a copy of the repo's build inputs plus a wheelhouse."""
    context = tmp_path_factory.mktemp("context")
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, context / name)
    for folder in ("smtpfake", "scenarios"):
        shutil.copytree(
            REPO / folder, context / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    wheels = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir",
         str(context / ".wheelhouse"), str(context), "hatchling"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert wheels.returncode == 0, wheels.stderr
    engine(
        "build", "--format", "docker", "--build-arg", f"BASE={BASE}",
        "--build-arg", "PIP_NO_INDEX=1", "--build-arg", "PIP_FIND_LINKS=/src/.wheelhouse",
        "-t", TAG, str(context),
        timeout=600,
    )  # fmt: skip
    return TAG


def published(container: str, port: int) -> int:
    out = engine("port", container, f"{port}/tcp").stdout.strip().splitlines()[0]
    return int(out.rsplit(":", 1)[1])


@pytest.fixture
def container(image: str) -> Iterator[str]:
    cid = engine(
        "run", "-d", "-p", "127.0.0.1::2525", "-p", "127.0.0.1::8025",
        "-e", "SMTPFAKE_API_TOKEN=box", image,
    ).stdout.strip()  # fmt: skip
    try:
        yield cid
    finally:
        engine("rm", "-f", cid, check=False)


def test_image_serves_mail_and_the_api_and_stops_on_sigterm(container: str) -> None:
    api = f"http://127.0.0.1:{published(container, 8025)}"
    smtp_port = published(container, 2525)
    deadline = time.monotonic() + 30
    while True:
        try:
            if call(api, "GET", "/api/health", timeout=2).status == 200:
                break
        except OSError:
            pass  # the port is published before the process inside listens
        assert time.monotonic() < deadline, engine("logs", container).stdout
        time.sleep(0.2)

    assert engine("healthcheck", "run", container, check=False).returncode == 0
    assert engine("exec", container, "id", "-u").stdout.strip() == "10001"

    fake = RemoteSmtpFake(api, token="box", smtp_port=smtp_port)
    assert fake.host == "127.0.0.1"  # the sidecar binds 0.0.0.0: reached where the API was
    assert "421-at-greeting" in {s["name"] for s in fake.scenarios()}  # built-ins inside
    fake.use("strict-503-ordering")
    with smtplib.SMTP(fake.host, smtp_port, timeout=TIMEOUT) as client:
        client.sendmail("a@x.test", ["b@y.test"], b"Subject: from the host\r\n\r\nhi\r\n")
    (msg,) = fake.wait_for_messages(1, timeout=5)
    assert msg.subject == "from the host"
    fake.wait_for_sessions(1, timeout=5)
    fake.assert_no_violations()
    assert call(api, "GET", "/api/messages").status == 401  # the token holds

    started = time.monotonic()
    engine("stop", "--time", "10", container)
    elapsed = time.monotonic() - started
    state = engine("inspect", "--format", "{{.State.ExitCode}}", container).stdout.strip()
    assert state == "0"
    assert elapsed < 3.0, f"SIGTERM as PID 1 took {elapsed:.1f}s"
    logs = engine("logs", container).stdout
    assert "session 1 accepted message" in logs
    assert logs.rstrip().endswith("smtpfake: stopped")
