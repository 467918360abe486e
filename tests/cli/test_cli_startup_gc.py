"""``smtpfake`` as its own process holds Python's cyclic garbage collector off while it starts
(start-up time, issue 11 item 1), then freezes what start-up made and collects as usual again;
``cli.main`` called in-process leaves the collector alone (it is the whole process's)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smtpfake import cli

# serve in a fresh interpreter through cli.program(), as the console script runs it; at the
# "listening" line, what the collector is doing is printed to stderr and the server stopped
SERVE = """
import gc, json, os, signal, sys

class Lines:
    def write(self, text):
        if "listening" in text:
            seen = {
                "enabled": gc.isenabled(),
                "frozen": gc.get_freeze_count(),
                "threshold": gc.get_threshold(),
            }
            print(json.dumps(seen), file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGINT)
        return len(text)
    def flush(self):
        pass

sys.stdout = Lines()
sys.argv = ["smtpfake", "serve", "--port", "0"]
START
print(json.dumps({"status": status, "enabled": gc.isenabled()}), file=sys.stderr)
"""


#: serve started by cli.program() itself, or by smtpfake.entry's program() (the console script's
#: and ``python -m smtpfake``'s), which holds the collector off from before cli's import: a
#: finder on sys.meta_path (which finds nothing itself) says whether it was off then
STARTS = {
    "cli": "from smtpfake import cli\nstatus = cli.program()",
    "entry": """
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "smtpfake.cli":
            print(json.dumps({"collector at cli's import": gc.isenabled()}), file=sys.stderr)

sys.meta_path.insert(0, Watch())
from smtpfake.entry import program
status = program()
""",
}


@pytest.mark.parametrize("start", list(STARTS))
def test_serve_listens_with_the_collector_running_and_start_up_frozen(
    tmp_path: Path, start: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SERVE.replace("START", STARTS[start])],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SMTPFAKE_CACHE_DIR": str(tmp_path)},
    )
    lines = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
    if start == "entry":
        assert lines.pop(0) == {"collector at cli's import": False}
    assert len(lines) == 2, done.stderr
    listening, ended = lines
    assert listening["enabled"] is True
    assert listening["frozen"] > 10_000  # the modules, classes and functions serve loaded
    # the youngest generation's threshold raised for serving, the older two as Python has them
    # (a fresh interpreter's: this one's may have been changed by a test before, as mypy's
    # build, run in-process by tests/plugin/test_types.py, leaves them)
    python = subprocess.run(
        [sys.executable, "-c", "import gc, json; print(json.dumps(gc.get_threshold()))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    defaults = json.loads(python.stdout)
    assert listening["threshold"] == [cli.SERVE_YOUNG_COLLECTION, *defaults[1:]]
    assert defaults[0] < cli.SERVE_YOUNG_COLLECTION
    assert ended == {"status": 0, "enabled": True}


# any other command (explain here) through cli.program(): the collector as the command runs,
# and after; one JSON line on stdout after the command's own output
OTHER = """
import gc, json, sys
from smtpfake import cli

during = []
explain = cli._explain

def watched(args):
    during.append(gc.isenabled())
    return explain(args)

cli._explain = watched
sys.argv = ["smtpfake", "explain", "421"]
status = cli.program()
seen = {"during": during, "after": gc.isenabled(), "threshold": gc.get_threshold()[0]}
print(json.dumps({**seen, "status": status}))
"""


def test_every_other_command_runs_with_the_collector_on() -> None:
    done = subprocess.run([sys.executable, "-c", OTHER], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    # serve's threshold is serve's alone
    assert seen == {
        "during": [True],
        "after": True,
        "threshold": gc.get_threshold()[0],
        "status": 0,
    }


def test_main_in_process_leaves_the_collector_alone() -> None:
    assert gc.isenabled()
    frozen, threshold = gc.get_freeze_count(), gc.get_threshold()
    assert cli.main(["explain", "421"]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    assert gc.get_threshold() == threshold
