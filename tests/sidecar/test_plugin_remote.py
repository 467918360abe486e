"""The plugin's parameters and clock against a sidecar (``--smtpfake-remote``), on a server of
its own made on demand: the marker's ``params=``, ``use(..., params=)`` and ``advance()``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smtpfake.http import ApiServer

from ..support.sidecar import own_sidecar

pytest_plugins = ["pytester"]

SUITE = """
import smtplib
import pytest

def rcpt(smtpfake):
    with smtplib.SMTP(smtpfake.host, smtpfake.port, timeout=5) as c:
        c.ehlo()
        c.mail("a@x.test")
        return c.rcpt("b@y.test")

@pytest.mark.smtpfake("greylisting", params={"delay": "2m"})
def test_marker(smtpfake):
    assert rcpt(smtpfake) == (451, b"4.7.1 Greylisted, please try again in 120s")
    smtpfake.advance(119)
    assert rcpt(smtpfake)[0] == 451
    smtpfake.advance(1)
    assert rcpt(smtpfake)[0] == 250

def test_use(smtpfake):
    smtpfake.use("greylisting", params={"delay": 10})
    assert rcpt(smtpfake)[0] == 451
    smtpfake.advance(10)
    assert rcpt(smtpfake)[0] == 250

@pytest.mark.smtpfake("greylisting", params={"delay": -5})
def test_bad_param(smtpfake):
    pass

def test_advance_backwards(smtpfake):
    with pytest.raises(Exception, match="advance"):
        smtpfake.advance(-1)
"""


@pytest.fixture
def sidecar() -> Iterator[ApiServer]:
    with own_sidecar() as api:
        yield api


def test_params_and_the_clock_against_a_sidecar(
    pytester: pytest.Pytester, sidecar: ApiServer
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", sidecar.url)
    result.assert_outcomes(passed=3, errors=1)
    # at the marker, as in-process (the sidecar's 400 carries the value's own problem)
    result.stdout.fnmatch_lines(
        [
            """test_suite.py:24: @pytest.mark.smtpfake("greylisting", params={"delay": -5}): """
            "delay=-5: must be at least 0.001, got -5"
        ]
    )
    # all on a server of its own, deleted at the end
    assert (sidecar.fleet.made, list(sidecar.fleet.instances)) == (1, ["main"])


def test_a_generated_certificate_against_a_sidecar(
    pytester: pytest.Pytester, sidecar: ApiServer
) -> None:
    """A TLS scenario with no certificate of its own, on the sidecar's server for this run:
    the sidecar generates it, the test trusts the sidecar's CA (``client_ssl_context()``)."""
    from ..plugin.test_tls_fallback import SUITE as TLS_SUITE

    pytester.makepyfile(test_suite=TLS_SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "--smtpfake-remote", sidecar.url)
    result.assert_outcomes(passed=3)
