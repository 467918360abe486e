"""The fixture's clock and parameters: ``smtpfake.advance()``, ``use(..., params=)`` and the
marker's ``params=``, run by pytester as users run them."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_marker_params_use_params_and_advance(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
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
            now = smtpfake.advance(10)
            assert rcpt(smtpfake)[0] == 250
            assert smtpfake.server.now() >= now

        @pytest.mark.smtpfake("greylisting", params={"delay": -5})
        def test_bad_param(smtpfake):
            pass

        def test_advance_backwards(smtpfake):
            with pytest.raises(ValueError, match="advance.seconds=-1.: expected seconds"):
                smtpfake.advance(-1)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    # told at the marker that set it (tests/plugin/test_params_mistakes.py: every way in)
    result.stdout.fnmatch_lines(
        [
            "test_marker_params_use_params_and_advance.py:25: @pytest.mark.smtpfake("
            """"greylisting", params={"delay": -5}): delay=-5: must be at least 0.001, got -5"""
        ]
    )
