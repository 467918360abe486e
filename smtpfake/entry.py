"""The ``smtpfake`` program's entry point: the console script and ``python -m smtpfake``.

It holds Python's cyclic garbage collector off before it imports the command (start-up time,
issue 11 item 1: the collector's passes over the modules, classes and functions the command's
imports make, which live as long as the process, are some 4 million instructions of
``smtpfake serve``'s start), then hands it to :func:`smtpfake.cli.program`, which ends it.
"""

from __future__ import annotations

import gc


def program() -> int:
    """:func:`smtpfake.cli.program`, the collector held off from before its import."""
    held = gc.isenabled()
    gc.disable()
    from smtpfake import cli

    return cli.program(held=held)
