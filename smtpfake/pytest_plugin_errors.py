"""Server errors of the in-process server that no ``smtpfake`` fixture reports: those of a test
that reaches the server through ``smtpfake_session`` only, and of module- or session-scoped
fixtures that send mail outside any test. Each is told once, never dropped by a reset (fresh17 F6).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from smtpfake.server import Server

#: said before errors that arrived outside any test, before the ``smtpfake`` fixture's reset
BEFORE_TEST = (
    "smtpfake: server errors from before this test's reset (mail sent outside any test, e.g. by a "
    "module- or session-scoped fixture), told here rather than dropped:"
)
#: said before errors that arrived after the last test's check (a session fixture's teardown)
AT_SESSION_END = (
    "smtpfake: server errors at the session's end (mail sent after the last test, e.g. by a "
    "session-scoped fixture's teardown):"
)


def take_errors(server: Server) -> str:
    """The server's errors, as the ``smtpfake`` fixture tells them, once this test's deliveries
    are done (or given up); removed from ``errors``, so that none is told twice. "" when none."""
    from smtpfake.pytest_plugin_marker import DELIVERY_WAIT

    if server.delivery is not None and not server.wait_for_deliveries(DELIVERY_WAIT):
        server.give_up_deliveries(
            f"after the fixture's {DELIVERY_WAIT:g} s wait at the end of the test"
        )
    taken = list(server.errors)
    del server.errors[: len(taken)]  # not clear(): one reported meanwhile waits for the next check
    return "\n".join(str(e) for e in taken)


def check_after_each_test(config: pytest.Config, server: Server) -> None:
    """Register :class:`ErrorsAfterEachTest` (once) for this run."""
    if not config.pluginmanager.has_plugin(_NAME):
        config.pluginmanager.register(ErrorsAfterEachTest(server), _NAME)


def stop_checking(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin(_NAME)
    if plugin is not None:
        config.pluginmanager.unregister(plugin, _NAME)


_NAME = "smtpfake-server-errors"


class ErrorsAfterEachTest:
    """Fails a test at teardown with the server errors that arose while it ran (and were not the
    ``smtpfake`` fixture's to report: it takes its own first). Registered when the in-process
    server starts, so a suite that never uses it pays for no hook in each test."""

    def __init__(self, server: Server) -> None:
        self.server = server

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        # torn down first (module fixtures' teardown sends mail too); a teardown that failed is
        # reported as it is, and the errors wait for the next check (told there, not dropped)
        yield
        told = take_errors(self.server)
        if told:
            pytest.fail(told, pytrace=False)
