"""``--smtpfake-loop`` (ini ``smtpfake_loop``, ``Settings(loop=)``): the in-process server's event
loop, named in the report header (fresh17 N3: the README advises asyncio's loop for a load test of
many dripping sessions, and the fixture had no way to choose it nor said which it ran on)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from smtpfake.pytest_plugin import Settings, SettingsError
from smtpfake.wire import loops
from tests.support.sidecar import own_sidecar
from tests.support.uvloop_shim import SHIM_ERROR, break_uvloop

pytest_plugins = ["pytester"]

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None
needs_uvloop = pytest.mark.skipif(not HAS_UVLOOP, reason="needs the uvloop extra")

#: the inner test: the module of the loop the server runs a hook in (the server's own thread)
SEES_THE_LOOP = """
import asyncio, smtplib, pytest

class Seen:
    async def handle_NOOP(self, server, session, envelope, arg):
        print("server loop:", type(asyncio.get_running_loop()).__module__.split(".")[0])
        return "250 2.0.0 OK"

@pytest.mark.smtpfake(handler=Seen())
def test_noop(smtpfake):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as client:
        assert client.noop()[0] == 250
"""


def test_the_plugins_choices_are_the_loops() -> None:
    from smtpfake.pytest_plugin import LOOPS

    # written out in the plugin so that loading it does not import asyncio
    assert LOOPS == loops.CHOICES


@needs_uvloop
@pytest.mark.parametrize(
    ("args", "ini", "conftest", "expected"),
    [
        ([], "", "", "uvloop"),
        (["--smtpfake-loop", "asyncio"], "", "", "asyncio"),
        ([], "smtpfake_loop = asyncio", "", "asyncio"),
        (["--smtpfake-loop", "uvloop"], "smtpfake_loop = asyncio", "", "uvloop"),
        ([], "", "Settings(loop='asyncio')", "asyncio"),
    ],
)
def test_the_setting_chooses_the_loop_the_server_runs_and_the_header_names_it(
    pytester: pytest.Pytester, args: list[str], ini: str, conftest: str, expected: str
) -> None:
    pytester.makepyfile(SEES_THE_LOOP)
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    if conftest:
        pytester.makeconftest(
            "import pytest\nfrom smtpfake.pytest_plugin import Settings\n\n"
            '@pytest.fixture(scope="session")\ndef smtpfake_settings():\n'
            f"    return {conftest}\n"
        )
    result = pytester.runpytest("-p", "no:cacheprovider", "-s", *args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"smtpfake: scenario=default host=127.0.0.1 port=free loop={expected} seed=*"]
    )
    result.stdout.fnmatch_lines([f"*server loop: {expected}"])


def test_without_uvloop_auto_is_asyncio_and_said(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # not importable: as if not installed
    pytester.makepyfile(SEES_THE_LOOP)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["smtpfake: scenario=default * loop=asyncio *"])
    result.stdout.fnmatch_lines(["*server loop: asyncio"])


OR_AUTO = "or auto (uvloop when installed, else asyncio's loop)"
NOT_INSTALLED = f"uvloop is not installed: pip install 'smtpfake[uvloop]', {OR_AUTO}"
BROKEN = (
    f"uvloop is installed but fails to import ({SHIM_ERROR}): pip install --force-reinstall uvloop"
)


@pytest.mark.parametrize("ini", [False, True])
@pytest.mark.parametrize("how", ["missing", "broken"])
def test_uvloop_missing_or_failing_to_import_is_a_usage_error_saying_which(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str, ini: bool
) -> None:
    """Failing to import, it was an error at the first test's setup, with the loop's traceback."""
    if how == "missing":
        monkeypatch.setitem(sys.modules, "uvloop", None)
    else:
        break_uvloop(monkeypatch, tmp_path / "shim")
    pytester.makepyfile(SEES_THE_LOOP)
    if ini:
        pytester.makeini("[pytest]\nsmtpfake_loop = uvloop\n")
    args = [] if ini else ["--smtpfake-loop", "uvloop"]
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    said = NOT_INSTALLED if how == "missing" else f"{BROKEN}, {OR_AUTO}"
    assert result.stderr.lines[0] == f"ERROR: smtpfake: --smtpfake-loop (ini smtpfake_loop): {said}"
    assert "Traceback" not in result.stderr.str()
    start = "is not installed" if how == "missing" else "is installed but fails to import"
    with pytest.raises(SettingsError, match=rf"Settings\(loop='uvloop'\): uvloop {start}"):
        Settings(loop="uvloop")


def test_a_loop_it_does_not_know_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SEES_THE_LOOP)
    result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-loop", "trio")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: smtpfake: --smtpfake-loop (ini smtpfake_loop): "
            "expected auto, asyncio or uvloop, got 'trio'"
        ]
    )
    with pytest.raises(SettingsError, match=r"Settings\(loop='trio'\): expected auto, asyncio"):
        Settings(loop="trio")


PLAIN = "def test_x(smtpfake):\n    print('fixture port', smtpfake.port)\n"
REMOTE = (
    "the in-process server's event loop; with --smtpfake-remote the fixture's server runs on "
    "the sidecar's loop: start it with `smtpfake serve --loop asyncio|uvloop`"
)


@pytest.mark.parametrize("ini", [False, True])
def test_a_loop_with_a_sidecar_is_a_usage_error(pytester: pytest.Pytester, ini: bool) -> None:
    pytester.makepyfile(PLAIN)
    if ini:
        pytester.makeini("[pytest]\nsmtpfake_loop = asyncio\n")
    args = [] if ini else ["--smtpfake-loop", "asyncio"]
    with own_sidecar() as api:
        result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", api.url, *args)
        # auto, the default, is no mistake there: the header then names the sidecar, no loop
        fine = pytester.runpytest(
            "-p", "no:cacheprovider", "--smtpfake-remote", api.url, "--smtpfake-loop", "auto"
        )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: smtpfake: --smtpfake-loop (ini smtpfake_loop): {REMOTE}"])
    if not ini:
        fine.assert_outcomes(passed=1)
        fine.stdout.fnmatch_lines([f"smtpfake: scenario=default remote={api.url} *"])
        assert "loop=" not in fine.stdout.str()


def test_uvloop_failing_to_import_auto_is_asyncio_and_the_header_says_so(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The header said ``loop=uvloop`` (its spec was found) while the server ran on asyncio's."""
    break_uvloop(monkeypatch, tmp_path / "shim")
    pytester.makepyfile(SEES_THE_LOOP)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"smtpfake: scenario=default host=127.0.0.1 port=free loop=asyncio ({BROKEN}) seed=*"]
    )
    result.stdout.fnmatch_lines(["*server loop: asyncio"])


@pytest.mark.parametrize("how", ["works", "missing", "broken"])
def test_the_plugins_uvloop_check_is_the_loops(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str
) -> None:
    from smtpfake.pytest_plugin import _uvloop_problem

    if how == "works" and not HAS_UVLOOP:
        pytest.skip("needs the uvloop extra")
    if how == "missing":
        monkeypatch.setitem(sys.modules, "uvloop", None)
    elif how == "broken":
        break_uvloop(monkeypatch, tmp_path)
    # written out in the plugin so that its header does not load the wire
    assert _uvloop_problem() == loops.uvloop_problem()
    assert bool(_uvloop_problem()) == (how != "works")
