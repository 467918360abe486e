"""What installing smtpfake costs a pytest run that never uses it, and how fast the CLI starts.

Three measures, each side by side with its baseline in the same run, rounds interleaved so that
noise from other work on the machine hits both sides alike (the ratios are medians of the
per-round ratios):

1. plugin: N trivial tests (no fixture) run by pytest with the plugin loaded, and with
   ``-p no:smtpfake`` (as if smtpfake were not installed). CPU time (user+sys) of the pytest
   process, median of R rounds; the target is a ratio of at most 1.05. CPU time on a shared
   machine is noisy (a few per cent between rounds); ``--instructions`` also counts the
   instructions each side executes, once, under valgrind's cachegrind (``--cache-sim=no``,
   PYTHONHASHSEED=0): the same from run to run, so a cost of 1% shows as 1%.
2. CLI: ``smtpfake --help`` (process exit), ``smtpfake serve --port 0`` (until the
   "listening" line), and the same until a client connecting then has the 220 greeting, for
   this checkout and a baseline checkout of an earlier revision (``--before REV``, default the
   revision before the start-up work; extracted with ``git archive``). Wall time, median of R
   rounds; the target is a ratio of at least 2. Both trees are copied out and compiled to
   bytecode first, as ``pip install`` does (an environment with PYTHONDONTWRITEBYTECODE would
   otherwise compile every module on every start, which measures the compiler); ``--source``
   measures from source instead. This checkout's first round also fills its scenario cache.
   Every process runs in an empty directory (see RUN_IN).
3. floors, in the same rounds: a bare interpreter (``python -c pass``); a minimal asyncio
   server (``asyncio.start_server`` on port 0, then a "listening" line): what no Python
   program serving on asyncio starts faster than on this machine; and that server after
   importing what smtpfake's first session runs (this checkout's engine, wire, journal and
   scenario model): serve without its command line, settings and scenario.
4. what is left, in one process of this checkout: the dataclasses the modules serve imports
   define (read from ``python -X importtime`` of a real serve), times what making one costs on
   this machine (Python generates and compiles its methods at import), as a frozen dataclass and
   with ``smtpfake.frozen_dataclass`` (which leaves processing the class, and its methods, for
   their first use: a class the start makes instances of is processed then, its first 64
   instances set up without compiling a constructor); the rest of the gap to the floor is
   mostly loading those modules.
5. instructions, when valgrind is installed: serve of this checkout and of ``--before``, and
   the minimal asyncio server, counted by cachegrind to the "listening" line and to the first
   client's 220 greeting (PYTHONHASHSEED=0; this checkout's scenario cache filled by the rounds
   above): the same figures on a busy machine as on a quiet one, which wall times are not.

Usage: python bench/startup_cost.py [--tests N] [--rounds R] [--before REV] [--source]
       [--only plugin|cli] [--instructions]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# the last revision before the plugin and CLI imported lazily
BEFORE = "5bfa501"
#: where the CLI's processes run (main() makes it): an empty directory. ``-m`` and ``-c`` put
#: the working directory first on sys.path, so every import looks there first: not this
#: checkout, and not a crowded /tmp, which each import lists again whenever another process has
#: changed it (some 27M instructions of serve's start in a /tmp of 700 entries; the installed
#: ``smtpfake`` script puts its own bin directory there instead)
RUN_IN = tempfile.gettempdir()


def cpu_of(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    """CPU seconds (user+sys) of one child process run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def instructions_of(cmd: list[str], cwd: Path, env: dict[str, str]) -> int:
    """Instructions (cachegrind's ``I refs``) one run of ``cmd`` executes, the Python
    interpreter and everything it loads included. Needs valgrind."""
    tool = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    run = subprocess.run(
        [*tool, *cmd],
        cwd=cwd,
        env={**env, "PYTHONHASHSEED": "0"},  # the same dict and set layouts every run
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", run.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind: {run.stderr[-500:]}")
    return int(found.group(1).replace(",", ""))


def wall_of_help(env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "smtpfake", "--help"],
        cwd=RUN_IN,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return time.perf_counter() - start


def wall_of_serve(env: dict[str, str], greeting: bool = False) -> float:
    """Seconds from exec to the "listening" line, or with ``greeting`` to the first client's
    220 greeting (connected as soon as the line is read: what a sidecar's user waits for, so
    work moved past the line would show here); the server is then stopped with SIGINT."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpfake", "serve", "--port", "0"],
        cwd=RUN_IN,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        if "listening" not in line:
            raise RuntimeError(f"serve did not start: {line!r}")
        if greeting:
            port = int(line.split(" listening on ")[1].split(",")[0].rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                got = b""
                while not got.endswith(b"\r\n"):  # bounded by the socket's timeout
                    part = sock.recv(512)
                    if not part:
                        raise RuntimeError(f"closed before the greeting: {got!r}")
                    got += part
            if not got.startswith(b"220"):
                raise RuntimeError(f"not a greeting: {got!r}")
        return time.perf_counter() - start
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


#: the floor for ``serve``: an asyncio server that listens and says so, nothing else
MINIMAL_SERVER = """
import asyncio, signal

async def main():
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    print("listening on", server.sockets[0].getsockname()[1], flush=True)
    await stop.wait()

asyncio.run(main())
"""
#: the second floor: the same, after importing the modules a session runs on
WITH_THE_ENGINE = (
    "import smtpfake.engine.connection, smtpfake.wire.protocol, smtpfake.journal\n" + MINIMAL_SERVER
)


def wall_of_floor(code: str, env: dict[str, str] | None = None) -> float:
    """Seconds from exec to the first line ``python -c code`` prints (or to its exit)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=RUN_IN,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    took = time.perf_counter() - start
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    return took


#: the modules a serve process imported (argv[1:]) -> their dataclasses (those made with
#: smtpfake's frozen_dataclass counted apart), and the seconds one class of five fields takes to
#: make, with @dataclass(frozen=True) and with @frozen_dataclass, the fastest of 5 rounds of 50
#: (the least disturbed by other work); one JSON line
DATACLASS_COUNT = """
import dataclasses, importlib, json, sys, time
from smtpfake import frozen_dataclass as made_here
from smtpfake.frozen_dataclass import frozen_dataclass
names = sorted(n for n in sys.argv[1:] if n.split(".")[0] == "smtpfake")
made, lazy = [], []
for name in names:
    module = importlib.import_module(name)
    for k, v in vars(module).items():
        if isinstance(v, type) and v.__module__ == name and dataclasses.is_dataclass(v):
            # frozen_dataclass's (and mutable_dataclass's): the classes it keeps what it told
            # dataclasses for
            (lazy if v in made_here._TOLD else made).append(f"{name}.{k}")
def one_round(make, n=50):
    classes = [type(f"C{i}", (), {"__doc__": "d", "__annotations__": dict.fromkeys("abcde", "int"),
                                  "c": 0, "d": 0, "e": 0}) for i in range(n)]
    start = time.perf_counter()
    for c in classes:
        make(c)
    return (time.perf_counter() - start) / n
each = min(one_round(dataclasses.dataclass(frozen=True)) for _ in range(5))
each_lazy = min(one_round(frozen_dataclass) for _ in range(5))
print(json.dumps({"modules": len(names), "dataclasses": made, "lazy": lazy, "each": each,
                  "each_lazy": each_lazy}))
"""


def modules_of_serve(env: dict[str, str]) -> set[str]:
    """The modules a ``smtpfake serve --port 0`` process imports until it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "smtpfake", "serve", "--port", "0"],
        cwd=RUN_IN,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    if "listening" not in line:
        raise RuntimeError(f"serve did not start: {line!r} {err[-500:]}")
    return {
        x.rsplit("|", 1)[1].strip()
        for x in err.splitlines()
        if x.startswith("import time:") and "|" in x
    }


def dataclass_cost(env: dict[str, str]) -> None:
    """Measure 4: serve's dataclasses and what making them costs here."""
    modules = modules_of_serve(env)
    out = subprocess.run(
        [sys.executable, "-c", DATACLASS_COUNT, *sorted(modules)],
        cwd=RUN_IN,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    seen = json.loads(out.stdout)
    plain, lazy = len(seen["dataclasses"]), len(seen["lazy"])
    each, each_lazy = seen["each"] * 1000, seen["each_lazy"] * 1000
    print(
        f"4. serve imports {len(modules)} modules, {seen['modules']} of them smtpfake's, which "
        f"define {plain + lazy} dataclasses, {lazy} of them with frozen_dataclass (processed, "
        f"methods made, on first use); one frozen dataclass takes {each:.2f} ms to make "
        f"here, with frozen_dataclass {each_lazy:.2f} ms: about "
        f"{plain * each + lazy * each_lazy:.1f} ms of serve's start ({(plain + lazy) * each:.1f} "
        "ms as plain frozen dataclasses)"
    )


def checkout(rev: str, into: Path) -> Path:
    """The package of ``rev`` extracted under ``into`` (importable from there)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / "before.tar"
    with archive.open("wb") as f:
        subprocess.run(
            ["git", "archive", rev, "smtpfake", "scenarios"], cwd=REPO, stdout=f, check=True
        )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def this_tree(into: Path) -> Path:
    """This checkout's package and scenarios copied under ``into`` (the working tree, edits
    included), so that compiling them leaves the checkout untouched."""
    for part in ("smtpfake", "scenarios"):
        shutil.copytree(REPO / part, into / part, ignore=shutil.ignore_patterns("__pycache__"))
    return into


def rounds(r: int, sides: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Each side measured ``r`` times, the sides interleaved within every round."""
    times: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(r):
        for name, measure in sides.items():
            times[name].append(measure())
    return times


def ratio(times: dict[str, list[float]], slow: str, fast: str) -> float:
    """The median of the per-round ratios slow/fast: noise that hits one round hits both sides."""
    return statistics.median(a / b for a, b in zip(times[slow], times[fast], strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--before", default=BEFORE, help="baseline git revision for the CLI")
    parser.add_argument("--source", action="store_true", help="CLI from source, no bytecode")
    parser.add_argument("--only", choices=("plugin", "cli"), help="run one of the two measures")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="plugin: also count instructions under valgrind (cachegrind), once per side",
    )
    args = parser.parse_args()

    global RUN_IN
    with tempfile.TemporaryDirectory() as tmp:
        RUN_IN = os.path.join(tmp, "empty")
        os.mkdir(RUN_IN)
        env = dict(os.environ)
        old = checkout(args.before, Path(tmp) / "before")
        old_env = {**env, "PYTHONPATH": str(old)}
        if args.only != "cli":
            plugin_cost(args, Path(tmp) / "suite", env, old_env)
        if args.only != "plugin":
            cli_cost(args, old, Path(tmp) / "now", env, old_env)


def plugin_cost(
    args: argparse.Namespace, suite: Path, env: dict[str, str], old_env: dict[str, str]
) -> None:
    """Measure 1: CPU time of a trivial suite with the plugin, without it, and at --before."""
    suite.mkdir()
    body = "".join(
        f"def test_{i}():\n    x = {i}\n    assert x == {i}\n" for i in range(args.tests)
    )
    (suite / "test_trivial.py").write_text(body)
    (suite / "pytest.ini").write_text("[pytest]\n")
    base = [sys.executable, "-m", "pytest", "-q"]
    without = [*base, "-p", "no:smtpfake"]
    before = f"smtpfake @ {args.before}"
    plugin = rounds(
        args.rounds,
        {
            "with smtpfake": lambda: cpu_of(base, suite, env),
            "-p no:smtpfake": lambda: cpu_of(without, suite, env),
            # the baseline revision's plugin, loaded by module name instead of entry point
            before: lambda: cpu_of([*without, "-p", "smtpfake.pytest_plugin"], suite, old_env),
        },
    )
    print(f"1. pytest, {args.tests} trivial tests, CPU time, median of {args.rounds} rounds")
    for name, t in plugin.items():
        print(f"   {name:16s} {statistics.median(t) * 1000:8.1f} ms")
    for name in ("with smtpfake", before):
        print(
            f"   {name} / -p no:smtpfake: {ratio(plugin, name, '-p no:smtpfake'):.3f} "
            f"(median of per-round ratios, {args.rounds} rounds; target: at most 1.05)"
        )
    if args.instructions:
        counts = {
            "with smtpfake": instructions_of(base, suite, env),
            "-p no:smtpfake": instructions_of(without, suite, env),
            before: instructions_of([*without, "-p", "smtpfake.pytest_plugin"], suite, old_env),
        }
        bytecode = "not written" if env.get("PYTHONDONTWRITEBYTECODE") else "cached"
        print(f"   instructions (cachegrind, one run each; bytecode {bytecode}):")
        for name, n in counts.items():
            print(f"   {name:16s} {n / 1e6:10.1f} M")
        for name in ("with smtpfake", before):
            extra = counts[name] - counts["-p no:smtpfake"]
            print(
                f"   {name} / -p no:smtpfake: {counts[name] / counts['-p no:smtpfake']:.4f} "
                f"({extra / 1e6:+.1f} M instructions)"
            )


def cli_cost(
    args: argparse.Namespace, old: Path, into: Path, env: dict[str, str], old_env: dict[str, str]
) -> None:
    """Measure 2 and 3: wall time of --help and serve, now and at --before, and the floors."""
    now = this_tree(into)
    if not args.source:
        for tree in (old, now):
            compileall.compile_dir(tree, quiet=1)
    # its own scenario cache, filled in the first round (not the user's: nothing left behind)
    now_env = {**env, "PYTHONPATH": str(now), "SMTPFAKE_CACHE_DIR": str(into / "cache")}
    was, this = f"@ {args.before}", "@ this checkout"
    cli = rounds(
        args.rounds,
        {
            f"--help {was}": lambda: wall_of_help(old_env),
            f"--help {this}": lambda: wall_of_help(now_env),
            f"serve {was}": lambda: wall_of_serve(old_env),
            f"serve {this}": lambda: wall_of_serve(now_env),
            f"first greeting {was}": lambda: wall_of_serve(old_env, greeting=True),
            f"first greeting {this}": lambda: wall_of_serve(now_env, greeting=True),
            "floor: python -c pass": lambda: wall_of_floor("pass"),
            "floor: minimal asyncio server": lambda: wall_of_floor(MINIMAL_SERVER),
            "  + the engine imported": lambda: wall_of_floor(WITH_THE_ENGINE, now_env),
        },
    )
    form = "from source" if args.source else "compiled to bytecode"
    print(f"2. smtpfake start-up ({form}), wall time, median of {args.rounds} rounds")
    for name, t in cli.items():
        print(f"   {name:30s} {statistics.median(t) * 1000:8.1f} ms")
    for what in ("--help", "serve", "first greeting"):
        speedup = ratio(cli, f"{what} {was}", f"{what} {this}")
        print(
            f"   {what}: {speedup:.2f}x faster (median of per-round ratios, {args.rounds} rounds; "
            "target: at least 2x)"
        )
    floor = ratio(cli, f"serve {was}", "floor: minimal asyncio server")
    print(f"   serve {was} / minimal asyncio server: {floor:.2f}x (the most any serve can gain)")
    engine = ratio(cli, f"serve {was}", "  + the engine imported")
    print(f"   serve {was} / that server with the engine imported: {engine:.2f}x")
    dataclass_cost(now_env)
    if shutil.which("valgrind"):
        instructions(
            {
                f"serve {was}": [f"-c{COUNTED}", "-m", "smtpfake", "serve", "--port", "0"],
                f"serve {this}": [f"-c{COUNTED}", "-m", "smtpfake", "serve", "--port", "0"],
                "minimal asyncio server": [f"-c{COUNTED}", "-c", MINIMAL_SERVER],
            },
            {f"serve {was}": old_env, f"serve {this}": now_env, "minimal asyncio server": env},
        )


#: runs ``-m MODULE ARGS`` or ``-c CODE`` (sys.argv[1:]) in this process: at the first line
#: saying "listening", either exits, or (argv[0] "greeting") connects as a client and exits
#: once it has the 220 greeting; what cachegrind counts of a start
COUNTED = """
import os, runpy, socket, sys, threading
greeting = sys.argv[1] == "greeting"
how, what, args = sys.argv[2], sys.argv[3], sys.argv[4:]

def client(port):
    # not socket.create_connection: its getaddrinfo() imports the idna codec (some 5 million
    # instructions), the client's cost, not the server's (which never needs it)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(("127.0.0.1", port))
        got = b""
        while not got.endswith(b"\\r\\n"):  # bounded by the socket's timeout
            part = sock.recv(512)
            if not part:
                break
            got += part
    os._exit(0 if got.startswith(b"220") else 3)

class Lines:
    line = ""

    def write(self, text):
        self.line += text
        while "\\n" in self.line:
            done, self.line = self.line.split("\\n", 1)
            if "listening on " in done:
                if not greeting:
                    os._exit(0)
                after = done.split("listening on ", 1)[1]
                port = int(after.split(",")[0].rsplit(":", 1)[-1])
                threading.Thread(target=client, args=(port,), daemon=True).start()
        return len(text)

    def flush(self):
        pass

sys.stdout = Lines()
sys.argv = [what, *args]
if how == "-m":
    runpy.run_module(what, run_name="__main__", alter_sys=True)
else:
    exec(compile(what, "<minimal>", "exec"), {"__name__": "__main__"})
"""


def instructions(runs: dict[str, list[str]], envs: dict[str, dict[str, str]]) -> None:
    """Measure 5: instructions (cachegrind) of each start, to "listening" and to the greeting."""
    print("5. instructions to 'listening' and to the first greeting (valgrind cachegrind)")
    seen: dict[str, list[str]] = {}
    for name, argv in runs.items():
        counts = seen[name] = []
        # the minimal server sends no greeting
        for until in ("listening", "greeting") if name.startswith("serve") else ("listening",):
            code, *rest = argv
            done = subprocess.run(
                [
                    "valgrind", "--tool=cachegrind", "--cache-sim=no",
                    "--cachegrind-out-file=/dev/null", sys.executable, code, until, *rest,
                ],
                cwd=RUN_IN,
                env={**envs[name], "PYTHONHASHSEED": "0"},
                capture_output=True,
                text=True,
                timeout=600,
            )  # fmt: skip
            refs = [x for x in done.stderr.splitlines() if "I   refs:" in x or "I refs:" in x]
            counts.append(refs[0].split()[-1] if refs and done.returncode == 0 else "failed")
        greeting = f", {counts[1]:>14s} to the greeting" if len(counts) > 1 else ""
        print(f"   {name:30s} {counts[0]:>14s} to listening{greeting}")
    was, this = (v for k, v in seen.items() if k.startswith("serve"))
    if "failed" not in was + this:
        fewer = [
            int(a.replace(",", "")) / int(b.replace(",", ""))
            for a, b in zip(was, this, strict=True)
        ]
        print(f"   serve: {fewer[0]:.2f}x fewer to listening, {fewer[1]:.2f}x to the greeting")


if __name__ == "__main__":
    main()
