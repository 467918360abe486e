"""The image: build it, run it, send mail through the published port, read the API, stop it.

Needs a container engine. ``eval "$(../shared/tools/container-env)"`` sets one up and exports
CONTAINER_ENGINE and SMTPFAKE_BASE_IMAGE (``.ci/run`` does it); without them this test is skipped,
saying so. No package index is reachable from inside a build here, so the test fills a wheelhouse on
the host and hands it to pip in the build (the Dockerfile's PIP_NO_INDEX/PIP_FIND_LINKS arguments).
The wheels must suit the image's Python, not the one running pytest (CI runs 3.10 to 3.13; the base
image has its own): the test asks the image for its interpreter and platform tags and downloads
binary wheels for those (``pip download --python-version --abi --platform``). Within one
``.ci/run`` (SMTPFAKE_CI_RUN) the image built by the first Python's run is reused by the others
when its inputs are unchanged: it does not depend on the Python that runs pytest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtpfake.remote import RemoteSmtpFake

from .conftest import REPO, TIMEOUT, call

ENGINE = os.environ.get("CONTAINER_ENGINE", "")
BASE = os.environ.get("SMTPFAKE_BASE_IMAGE", "")
TAG = "localhost/smtpfake:sidecar-test"
#: one value for a whole `.ci/run` (which sets it): the image is the same whichever Python runs
#: pytest (it has its own), so the first run of the four builds it and the others reuse it when
#: its inputs are unchanged. Unset (a developer's run): always built.
CI_RUN = os.environ.get("SMTPFAKE_CI_RUN", "")
#: the image label holding the key of what it was built from (build_key)
KEY_LABEL = "smtpfake.test-key"

pytestmark = [
    pytest.mark.skipif(
        not ENGINE or not BASE or not shutil.which(ENGINE),
        reason='no container engine: run `eval "$(../shared/tools/container-env)"` first '
        "(it exports CONTAINER_ENGINE and SMTPFAKE_BASE_IMAGE; .ci/run does this)",
    ),
    # one worker builds the image once under pytest-xdist
    pytest.mark.xdist_group("container"),
    # building it (a pip download of the wheels, then the build) takes minutes on a machine that
    # has not built it before or is busy: each step has its own subprocess timeout (pip 300 s,
    # the build 600 s), so the suite's 120 s per test would only cut a slow build short
    pytest.mark.timeout(1200),
]


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


#: run by the base image's python3: its version, interpreter/ABI tags and the platforms it accepts
#: (pip's own copy of `packaging`, present wherever pip is, which the Dockerfile needs anyway)
IMAGE_TAGS = """
import json, sys
from pip._vendor.packaging import tags
found = list(tags.sys_tags())
print(json.dumps({
    "version": "%d.%d" % sys.version_info[:2],
    "interpreter": found[0].interpreter,
    "abi": found[0].abi,
    "platforms": sorted({t.platform for t in found}),
}))
"""


def pip(*args: str, python: str = sys.executable) -> None:
    done = subprocess.run(
        [python, "-m", "pip", *args],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, f"pip {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


def python_of(version: str) -> str:
    """An interpreter of the image's Python version on this machine, else the one running.

    ``pip download --python-version`` picks wheels for the target but evaluates dependency
    markers (aiohttp's ``typing_extensions; python_version < "3.13"``) for the interpreter
    that runs it: only one of the image's version resolves exactly what the image needs."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(f"python{version}")]
    candidates += [str(p) for p in sorted(pyenv.glob(f"{version}.*/bin/python{version}"))]
    for found in filter(None, candidates):
        works = subprocess.run([found, "-m", "pip", "--version"], capture_output=True, timeout=60)
        if works.returncode == 0:  # (a pyenv shim for a version not selected fails here)
            return found
    return sys.executable


def fill_wheelhouse(context: Path, build: Path) -> None:
    """Wheels for smtpfake's dependencies (``tls``, ``sidecar`` extras) and build backend, for the
    image's interpreter and platform, whatever Python runs this test."""
    target = json.loads(engine("run", "--rm", BASE, "python3", "-c", IMAGE_TAGS).stdout)
    # portable binary wheels only: a linux_<arch> wheel is built for one distribution
    platforms = [p for p in target["platforms"] if p.startswith(("manylinux", "musllinux"))]
    assert platforms, f"no manylinux/musllinux platform in the image's tags: {target}"
    # smtpfake itself is pure Python: any interpreter builds the same wheel; it only serves to
    # name the dependencies (from pyproject, extras and markers included) to `pip download`
    pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(build), str(context))
    (wheel,) = build.glob("smtpfake-*.whl")
    house = context / ".wheelhouse"
    pip(
        "download", "--quiet", "--only-binary=:all:", "--dest", str(house),
        "--python-version", target["version"],
        "--implementation", target["interpreter"][:2],
        "--abi", target["abi"],
        *(arg for p in platforms for arg in ("--platform", p)),
        f"{wheel}[tls,sidecar]", "hatchling",
        # what aiohttp needs on some Pythons only, in case no interpreter of the image's
        # version is here to evaluate its markers (small universal wheels: harmless if unused)
        "typing-extensions", "async-timeout",
        python=python_of(target["version"]),
    )  # fmt: skip
    # the image installs smtpfake from the copied source, as `docker build .` does
    for built in house.glob("smtpfake-*.whl"):
        built.unlink()
    names = {w.name.split("-", 1)[0].lower() for w in house.glob("*.whl")}
    assert {"pyyaml", "trustme", "cryptography", "aiohttp", "hatchling"} <= names, sorted(names)


def build_key(context: Path) -> str:
    """What the image is built from: the CI run, the base image and every file of the context
    (before the wheelhouse, which only resolves pyproject's dependencies), as a SHA-256."""
    digest = hashlib.sha256(f"{CI_RUN}\0{BASE}\0".encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(context)}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Build the image from a copy of the repo's build inputs plus a wheelhouse (or, within one
    CI run, reuse the one an earlier pytest built from the same inputs)."""
    context = tmp_path_factory.mktemp("context")
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, context / name)
    for folder in ("smtpfake", "scenarios"):
        shutil.copytree(
            REPO / folder, context / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    key = build_key(context)
    if CI_RUN:
        label = '{{index .Labels "' + KEY_LABEL + '"}}'
        if engine("image", "inspect", "--format", label, TAG, check=False).stdout.strip() == key:
            return TAG
    fill_wheelhouse(context, tmp_path_factory.mktemp("build"))
    engine(
        "build", "--format", "docker", "--build-arg", f"BASE={BASE}",
        "--build-arg", "PIP_NO_INDEX=1", "--build-arg", "PIP_FIND_LINKS=/src/.wheelhouse",
        "--label", f"{KEY_LABEL}={key}", "-t", TAG, str(context),
        timeout=600,
    )  # fmt: skip
    return TAG


def published(container: str, port: int) -> int:
    out = engine("port", container, f"{port}/tcp").stdout.strip().splitlines()[0]
    return int(out.rsplit(":", 1)[1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


#: one port for servers on demand, published with the same number inside and out
ON_DEMAND = free_port()


@pytest.fixture
def container(image: str) -> Iterator[str]:
    cid = engine(
        "run", "-d", "-p", "127.0.0.1::2525", "-p", "127.0.0.1::8025",
        "-p", f"127.0.0.1:{ON_DEMAND}:{ON_DEMAND}", "-e", f"SMTPFAKE_SERVER_PORTS={ON_DEMAND}",
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

    # TLS with a generated certificate (trustme in the image), verified through the published
    # port with the CA from GET /api/tls/ca, hostname checks on (the certificate names 127.0.0.1)
    fake.use("tls-required")
    with smtplib.SMTP(fake.host, smtp_port, timeout=TIMEOUT) as client:
        client.starttls(context=fake.client_ssl_context())
        client.sendmail("a@x.test", ["b@y.test"], b"Subject: over tls\r\n\r\nhi\r\n")
    (_, over_tls) = fake.wait_for_sessions(2, timeout=5)
    assert over_tls.tls
    assert fake.messages[-1].subject == "over tls"

    # the page and a server on demand, through the published ports
    page = urllib.request.urlopen(api + "/", timeout=TIMEOUT)
    assert b"<title>smtpfake</title>" in page.read()
    made = fake.request("POST", "/api/servers", {"scenario": "default"}, ok=(201,))[1]
    assert made["smtp_port"] == ON_DEMAND
    own = RemoteSmtpFake(made["url"], token="box")
    with smtplib.SMTP(own.host, own.port, timeout=TIMEOUT) as client:
        client.sendmail("a@x.test", ["b@y.test"], b"Subject: on demand\r\n\r\nhi\r\n")
    (mine,) = own.wait_for_messages(1, timeout=5)
    assert mine.subject == "on demand"
    assert len(fake.messages) == 2  # the main server's, untouched

    started = time.monotonic()
    engine("stop", "--time", "10", container)
    elapsed = time.monotonic() - started
    state = engine("inspect", "--format", "{{.State.ExitCode}}", container).stdout.strip()
    assert state == "0"
    assert elapsed < 3.0, f"SIGTERM as PID 1 took {elapsed:.1f}s"
    logs = engine("logs", container).stdout
    assert "session 1 accepted message" in logs
    assert logs.rstrip().endswith("smtpfake: stopped")
