"""Issue 11 item 1: ``smtpfake serve`` loads only what it needs before it listens (start-up
time); the rest loads when used. Read from ``python -X importtime`` of a real serve process."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

#: what the default scenario, served with the text log and no API, never needs
NOT_AT_START = (
    "yaml",
    "smtpfake.scenario.loader",
    "smtpfake.scenario.rule_reader",
    "smtpfake.scenario.faults.reply",  # no rules: no fault module
    "smtpfake.engine.rulecode",  # no rules: nothing of the rule machinery
    "smtpfake.engine.matching",
    "smtpfake.engine.nearmisses",
    "smtpfake.scenario.violations",  # loaded with the first violation
    "smtpfake.engine.auth",  # the SASL exchange: loaded with the first AUTH
    "json",
    "aiosmtpd",
    "email.message",
    "http.server",
    "smtpfake.http",
    "smtpfake.explain",
    "smtpfake.probe",  # only serve's own parser is built
    "smtpfake.delivery",  # no --deliver
    "smtpfake.hooks",  # no handler
    "uvloop",  # not installed here, or --loop asyncio below
    "argparse",  # a plain command line is read without it (smtpfake.plain_args)
    "gettext",  # argparse's: its messages' translations
    "smtpfake.cli_parser",
    "pickle",  # the scenario cache's entries are marshal's (builtin)
    "zlib",  # the cache's entry names: binascii's CRC-32 (asyncio loads binascii)
    "shutil",  # argparse asks it for the terminal's width only to print help (cli_parser.Parser)
    "pathlib",  # the scenario is found and its cache entry read with os.path
    "urllib.parse",
    "ipaddress",
    "random",  # the seeded RNG: with a scenario's first draw (Session.rng)
    "smtpfake.wire.tls",  # with the first STARTTLS (Wire._start_tls)
    "smtpfake.tls",  # with a scenario that has server.tls (Server._tls)
)


def imports_of_serve(cache: Path, *args: str, greeted: bool = False) -> set[str]:
    """The modules a ``smtpfake serve --port 0`` process imports, from start to stop; with
    ``greeted``, a client connects and reads its greeting before the stop."""
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "smtpfake", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SMTPFAKE_CACHE_DIR": str(cache)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if greeted and "listening" in line:
        port = int(line.split(" listening on ")[1].split(",")[0].rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            got = b""
            while not got.endswith(b"\r\n"):  # bounded by the socket's timeout
                part = sock.recv(512)
                assert part, got
                got += part
        assert got.startswith(b"220 "), got
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert "listening" in line, err
    lines = [x for x in err.splitlines() if x.startswith("import time:") and "|" in x]
    return {x.rsplit("|", 1)[1].strip() for x in lines}


def test_serve_starts_without_the_yaml_loader_once_the_scenario_is_cached(tmp_path: Path) -> None:
    first = imports_of_serve(tmp_path, "--loop", "asyncio")
    assert "yaml" in first  # nothing cached yet: the YAML is read
    again = imports_of_serve(tmp_path, "--loop", "asyncio")
    assert "smtpfake.scenario.cache" in again and "smtpfake.engine.session" in again
    assert sorted(again & set(NOT_AT_START)) == []


def test_the_first_greeting_and_its_log_line_load_no_datetime(tmp_path: Path) -> None:
    """The log stamps the first session's line with time.strftime (logging_observer's
    _iso_second): importing datetime then was 3.7M instructions of the first greeting."""
    imports_of_serve(tmp_path, "--loop", "asyncio")  # fills the scenario cache
    loaded = imports_of_serve(tmp_path, "--loop", "asyncio", greeted=True)
    assert "smtpfake.engine.session" in loaded and "datetime" not in loaded


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not installed")
def test_serve_on_uvloop_greets_without_the_idna_codec(tmp_path: Path) -> None:
    """uvloop's create_server encodes the host it is given with the idna codec (encodings.idna
    with stringprep and unicodedata: some 5 million instructions): for an address the server
    binds the socket itself (server._bound) and hands it over."""
    imports_of_serve(tmp_path, "--loop", "uvloop")  # fills the scenario cache
    loaded = imports_of_serve(tmp_path, "--loop", "uvloop", greeted=True)
    assert "uvloop.loop" in loaded and "smtpfake.engine.session" in loaded
    assert sorted(loaded & {"encodings.idna", "stringprep", "unicodedata"}) == []


# a fresh interpreter: a server greets and answers EHLO with the ordering table (state.ORDER)
# not yet made; the first MAIL makes it, and it is the table the module shows
ORDER_ON_FIRST_USE = """
import socket, sys
from smtpfake.engine import state
from smtpfake.server import Server

def reply(sock, to):
    got = b""
    while not got.endswith(b"\\r\\n") or got.split(b"\\r\\n")[-2][3:4] == b"-":
        part = sock.recv(4096)
        assert part, got
        got += part
    return got

with Server("default") as server:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        reply(sock, "greeting")
        sock.sendall(b"EHLO c.test\\r\\n")
        reply(sock, "ehlo")
        before = state._order.cache_info().currsize
        sock.sendall(b"MAIL FROM:<a@x.test>\\r\\n")
        assert reply(sock, "mail").startswith(b"250"), "MAIL refused"
        after = state._order.cache_info().currsize
print(before, after, state.ORDER is state._order(), len(state.ORDER))
"""


def test_the_ordering_table_is_made_at_the_first_mail() -> None:
    """Its rows were the first records of four classes, made at import (dataclasses processed
    each then): a session needs the table at its first MAIL, RCPT, DATA, AUTH or STARTTLS."""
    done = subprocess.run(
        [sys.executable, "-c", ORDER_ON_FIRST_USE], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "1", "True", "13"]


def test_the_json_log_and_a_parameter_load_what_they_need(tmp_path: Path) -> None:
    """The same server with JSON lines and --param: json and the loader load, and it serves."""
    loaded = imports_of_serve(tmp_path, "--log-format", "json", "--scenario", "greylisting")
    assert "json" in loaded
    loaded = imports_of_serve(tmp_path, "--scenario", "greylisting", "--param", "delay=5")
    assert "smtpfake.scenario.params" in loaded


#: every module of smtpfake's that the default scenario, served from the cache with the text log,
#: loads before it listens: one more is start-up time (load it where it is used, or add it here)
AT_START = {
    "smtpfake",
    "smtpfake.cli",
    "smtpfake.engine",
    "smtpfake.engine.auth_mask",
    "smtpfake.engine.bare_lf",
    "smtpfake.engine.bdat",
    "smtpfake.engine.body",
    "smtpfake.engine.clock",
    "smtpfake.engine.commands",
    "smtpfake.engine.compiled",
    "smtpfake.engine.conduct",
    "smtpfake.engine.connection",
    "smtpfake.engine.consult",
    "smtpfake.engine.frozen",
    "smtpfake.engine.occurrence",
    "smtpfake.engine.params",
    "smtpfake.engine.records",
    "smtpfake.engine.session",
    "smtpfake.engine.shared",
    "smtpfake.engine.state",
    "smtpfake.entry",
    "smtpfake.event_order",
    "smtpfake.frozen_dataclass",
    "smtpfake.journal",
    "smtpfake.journal_limits",
    "smtpfake.lazy_pattern",
    "smtpfake.log_lines",
    "smtpfake.log_writer",
    "smtpfake.logging_observer",
    "smtpfake.plain_args",
    "smtpfake.scenario",
    "smtpfake.scenario.cache",
    "smtpfake.scenario.checks",
    "smtpfake.scenario.errors",
    "smtpfake.scenario.faults",
    "smtpfake.scenario.faults.base",
    "smtpfake.scenario.library",
    "smtpfake.scenario.limits",
    "smtpfake.scenario.model",
    "smtpfake.scenario.plan",
    "smtpfake.scenario.reply",
    "smtpfake.server",
    "smtpfake.visible",
    "smtpfake.wire",
    "smtpfake.wire.loops",
    "smtpfake.wire.protocol",
}

#: the standard library's modules serve may load beyond what asyncio loads itself (public
#: top-level names, Python 3.10-3.13): the records (dataclasses, copy); a plain command line is
#: read without argparse, the scenario cache without pickle
STDLIB_AT_START = {
    "__future__",
    "copy",
    "dataclasses",
    "gc",
    "org",  # copy tries `org.python.core` (Jython's): a failed import, which importtime lists
}


def test_serve_loads_these_modules_and_no_more(tmp_path: Path) -> None:
    imports_of_serve(tmp_path, "--loop", "asyncio")  # fills the scenario cache
    loaded = imports_of_serve(tmp_path, "--loop", "asyncio")
    ours = {name for name in loaded if name.split(".")[0] == "smtpfake"}
    assert sorted(ours - AT_START) == [], "serve's start loads more of smtpfake than before"
    asyncio_loads = subprocess.run(
        # what `python -m` and asyncio load themselves
        [sys.executable, "-X", "importtime", "-c", "import runpy, importlib, asyncio, signal"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stderr
    theirs = {x.rsplit("|", 1)[1].strip() for x in asyncio_loads.splitlines() if "|" in x}
    beyond = {name.split(".")[0] for name in loaded - ours - theirs}
    public = {name for name in beyond if not name.startswith("_")} | ({"__future__"} & beyond)
    assert sorted(public - STDLIB_AT_START) == [], "serve's start loads more of the stdlib"


# serve through cli.program(); at the "listening" line, smtpfake's classes dataclasses has
# processed (their __dataclass_fields__ a dict, not frozen_dataclass's first-use stand-in)
PROCESSED = """
import os, sys

class Lines:
    def write(self, text):
        if "listening" in text:
            for name, module in sorted(sys.modules.items()):
                ours = name.startswith("smtpfake") and module is not None
                for value in list(vars(module).values()) if ours else ():
                    if isinstance(value, type) and value.__module__ == name:
                        if isinstance(vars(value).get("__dataclass_fields__"), dict):
                            print(f"{name}.{value.__qualname__}", file=sys.stderr)
            sys.stderr.flush()
            os._exit(0)
        return len(text)
    def flush(self):
        pass

sys.stdout = Lines()
sys.argv = ["smtpfake", "serve", "--port", "0", "--loop", "asyncio"]
from smtpfake import cli
cli.program()
"""

#: the records serve has processed (their fields read, about 0.25M instructions each) when it
#: listens: a record made at start or by the scenario is set up by frozen_dataclass's stand-in
#: constructor from its class body, unprocessed; a class with slots (engine.records'
#: TranscriptEntry, Outcome, SessionInfo) is made with its slots by frozen_dataclass and
#: processed on first use (dataclasses, processing it when defined, made it anew: 1M each)
PROCESSED_AT_START = {
    "smtpfake.journal_limits.JournalLimits",  # the command line reads its fields
}


def test_serve_processes_these_records_and_no_more(tmp_path: Path) -> None:
    """The journal's live session (journal.LiveSession) is a plain class with slots, and its counts'
    names are read without processing JournalCounts: a dataclass with slots cost some 1.5M
    instructions to define."""
    env = {**os.environ, "SMTPFAKE_CACHE_DIR": str(tmp_path)}
    for _ in range(2):  # the first fills the scenario cache
        done = subprocess.run(
            [sys.executable, "-c", PROCESSED], capture_output=True, text=True, timeout=60, env=env
        )
    assert done.returncode == 0, done.stderr
    assert set(done.stderr.split()) == PROCESSED_AT_START


# serve through cli.program(); at the "listening" line, the classes of frozen_dataclass.py of the
# modules loaded whose __init__ is made (not frozen_dataclass's first-call stand-in), one per line;
# then "control" and the same once JournalLimits's is made (the check sees a made one)
CONSTRUCTED = """
import inspect, os, sys

def made():
    from smtpfake import frozen_dataclass
    for name, module in sorted(sys.modules.items()):
        ours = name.startswith("smtpfake") and module is not None
        for value in list(vars(module).values()) if ours else ():
            if not isinstance(value, type) or value.__module__ != name:
                continue
            init = vars(value).get("__init__")
            if init is not None and value in frozen_dataclass._TOLD:
                if init.__code__.co_filename != frozen_dataclass.__file__:
                    print(f"{name}.{value.__name__}", file=sys.stderr)

class Lines:
    def write(self, text):
        if "listening" in text:
            made()
            from smtpfake.journal_limits import JournalLimits
            inspect.signature(JournalLimits)  # reading it makes the constructor
            print("control", file=sys.stderr)
            made()
            sys.stderr.flush()
            os._exit(0)
        return len(text)
    def flush(self):
        pass

sys.stdout = Lines()
sys.argv = ["smtpfake", "serve", "--port", "0", "--loop", "asyncio"]
from smtpfake import cli
cli.program()
"""


def test_serve_makes_no_records_constructor_before_it_listens(tmp_path: Path) -> None:
    """A record's constructor made (dataclasses compiles __init__, and for a frozen class
    __setattr__ and __delattr__) costs about 2 million instructions: the records serve makes
    at import (module-level tables, a field's default) and at start (the journal's limits, the
    server's Shared) are set up by frozen_dataclass's stand-in instead (BUILT_BEFORE_MADE)."""
    env = {**os.environ, "SMTPFAKE_CACHE_DIR": str(tmp_path)}
    for _ in range(2):  # the first fills the scenario cache
        done = subprocess.run(
            [sys.executable, "-c", CONSTRUCTED], capture_output=True, text=True, timeout=60, env=env
        )
    assert done.returncode == 0, done.stderr
    at_start, _, control = done.stderr.partition("control")
    assert at_start.split() == []
    assert control.split() == ["smtpfake.journal_limits.JournalLimits"]


# smtpfake's module-level attributes that are compiled patterns (re.Pattern: not lazy_pattern's
# stand-in), one per line: printed by PROCESSED's serve at "listening" in place of its records
COMPILED = PROCESSED.replace(
    """                    if isinstance(value, type) and value.__module__ == name:
                        if isinstance(vars(value).get("__dataclass_fields__"), dict):
                            print(f"{name}.{value.__qualname__}", file=sys.stderr)""",
    """                    if isinstance(value, re.Pattern):
                        print(f"{name}.{value.pattern!r}", file=sys.stderr)""",
).replace("import os, sys", "import os, re, sys")


def test_serve_compiles_no_pattern_of_its_own_before_it_listens(tmp_path: Path) -> None:
    """``re`` compiles a pattern in Python (0.2 to 0.7 million instructions each): a module's
    pattern is made with lazy_pattern.compiled_on_first_use, compiled by a client's first use
    (engine.connection's QUIT lines and engine.commands' unbracketed path were some 1.5M of the
    start)."""
    assert "re.Pattern" in COMPILED  # the replacement above took
    env = {**os.environ, "SMTPFAKE_CACHE_DIR": str(tmp_path)}
    for _ in range(2):  # the first fills the scenario cache
        done = subprocess.run(
            [sys.executable, "-c", COMPILED], capture_output=True, text=True, timeout=60, env=env
        )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == []
