"""User-space instructions per session that serve's event log costs, counted by valgrind's
cachegrind on a replay: sessions of the default scenario as smtp-source drives them (connect,
HELO, MAIL, RCPT, DATA, the message, QUIT, 19 log lines), 10 open at once, fed to serve's
journal through the calls and the transcript list the engine uses, with the log written in
batches every 0.05 s of the replay's clock (to /dev/null), as `smtpfake serve` does.

A count of the log alone, without sockets, the event loop's work or smtp-source, and the same
from run to run (PYTHONHASHSEED=0): each figure is a run of ``--sessions`` plus 200 minus a run
of 200, for the plain journal (``--quiet``), the text log and the JSON log; what a log costs is
its figure minus the journal's. ``--step-ms`` is the replay's time between two events (under
valgrind, serve under smtp-source moves about 0.5 ms of wall time an event): a stamp costs more
when lines fall in different milliseconds. bench/serve_instructions.py counts the real server.

Needs valgrind. Usage: python bench/log_instructions.py [--sessions 1000] [--step-ms 0.5]
       [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

BASE_SESSIONS = 200

#: the replay, run by ``python -c`` in the counted process: argv = mode, sessions, step (s)
REPLAY = r"""
import asyncio, os, sys
from smtpfake.engine.records import Message, SessionInfo
from smtpfake.journal import Journal
from smtpfake.logging_observer import EventLog, LoggingJournal

mode, count, step = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
NOTE = (True, None, False, True)  # TranscriptEntry's delivered, written, event, note
SCRIPT = [
    ("server", "220 smtpfake.test ESMTP smtpfake", None),
    ("client", "HELO vm", None), ("server", "250 smtpfake.test", None),
    ("client", "MAIL FROM:<foo@vm>", None), ("server", "250 2.1.0 Ok", None),
    ("client", "RCPT TO:<foo@vm>", None), ("server", "250 2.1.5 Ok", None),
    ("client", "DATA", None), ("server", "354 End data with <CR><LF>.<CR><LF>", None),
    ("client", "(message data, 1112 bytes)", NOTE), ("client", ".", None),
    None,  # the message accepted
    ("server", "250 2.0.0 Ok: queued as SF{:06d}", None),
    ("client", "QUIT", None), ("server", "221 2.0.0 Bye", None),
    ("server", "(connection closed)", NOTE), ("client", "(client closed the connection)", NOTE),
]
DATA = b"Subject: x\r\n\r\n" + b"x" * 1098


async def replay() -> None:
    # a timer that never fires: the replay writes a batch every 0.05 s of its own clock
    log = EventLog(open(os.devnull, "w"), "text" if mode == "quiet" else mode, delay=3600)
    journal = Journal() if mode == "quiet" else LoggingJournal(log)
    now, tick, started = 1_764_000_000.0, 1_764_000_000.05, 0
    open_ = []

    def start() -> None:
        nonlocal started
        started += 1
        info = SessionInfo(started, f"127.0.0.1:{30000 + started}", now)
        journal.started(info)
        direct = journal.direct_transcript
        room = direct(info) if direct is not None else None
        open_.append([info, room[0], 0])  # the list the session appends its entries to

    for _ in range(min(10, count)):
        start()
    while open_:
        for session in list(open_):
            info, entries, done = session
            now += step
            said = SCRIPT[done]
            if said is None:
                queue_id = f"SF{info.index:06d}"
                message = Message("foo@vm", ("foo@vm",), DATA, info.index, now, queue_id)
                journal.message(info, message)
            else:
                side, text, rest = said
                entry = (now, side, text.format(info.index), None)
                entries.append(entry if rest is None else (*entry, *rest))
            session[2] = done = done + 1
            if done == len(SCRIPT):
                journal.ended(info, now)
                open_.remove(session)
                if started < count:
                    start()
            if now >= tick:
                tick = now + 0.05
                log.flush()
    log.flush()


asyncio.run(replay())
"""


def count(tree: str | None, mode: str, sessions: int, step: float) -> int:
    """Instructions of one replay of ``sessions`` sessions."""
    command = ["valgrind", "--tool=cachegrind", "--cache-sim=no"]
    command += ["--cachegrind-out-file=/dev/null", sys.executable, "-c", REPLAY]
    command += [mode, str(sessions), str(step)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPFAKE_")}
    env["PYTHONHASHSEED"] = "0"
    if tree is not None:
        env["PYTHONPATH"] = os.path.abspath(tree)
    # not run from a checkout: ``python -c`` would import the smtpfake of the current directory;
    # nor from the shared /tmp, whose listing (every import looks there first) changes as other
    # programs make files: an empty directory of its own, so the count is the same every run
    with tempfile.TemporaryDirectory() as empty:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=600, cwd=empty
        )
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"the replay failed ({done.returncode}): {done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--step-ms", type=float, default=0.5)
    parser.add_argument("--baseline", metavar="DIR", help="also count this checkout's smtpfake")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("needs valgrind (apt-get install valgrind)")
    if not 0 < args.sessions <= 9_000:
        sys.exit("--sessions: 1 to 9,000 (the journal keeps the last 10,000 messages)")
    trees: dict[str, str | None] = {"smtpfake": None}
    if args.baseline:
        trees["baseline"] = args.baseline
    step = args.step_ms / 1000
    print(
        f"instructions per session (cachegrind; {args.sessions} sessions, a run of "
        f"{args.sessions + BASE_SESSIONS} minus one of {BASE_SESSIONS}; {args.step_ms} ms an "
        f"event); python {sys.version.split()[0]}"
    )
    print(f"{'':<10} {'journal':>9} {'text log':>9} {'JSON log':>9}")
    for name, tree in trees.items():
        figures = {}
        for mode in ("quiet", "text", "json"):  # the checkouts in turn: the same machine state
            more = count(tree, mode, args.sessions + BASE_SESSIONS, step)
            figures[mode] = (more - count(tree, mode, BASE_SESSIONS, step)) / args.sessions
        quiet = figures["quiet"]
        print(
            f"{name:<10} {quiet / 1000:>8.1f}k {(figures['text'] - quiet) / 1000:>+8.1f}k "
            f"{(figures['json'] - quiet) / 1000:>+8.1f}k"
        )


if __name__ == "__main__":
    main()
