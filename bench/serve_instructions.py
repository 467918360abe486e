"""User-space instructions per message of the real ``smtpfake serve`` process under Postfix's
smtp-source, counted by valgrind's cachegrind: the interpreter, the event loop (uvloop's C or
asyncio's Python), libc; not the kernel. A count, not a time: it hardly moves with other work on
the machine (runs of one checkout agree within about 0.1%), so a change of a percent shows
where a socket benchmark's timings (bench/smtp_source.py) cannot tell it from noise.

Each figure is a run of ``--messages`` plus 200 messages minus a run of 200, so start-up and
imports cancel out (PYTHONHASHSEED=0 in both; an uncounted run first has each checkout write its
byte-code and scenario cache, so no count parses source). ``--baseline DIR`` counts another
checkout the same way (e.g. ``git worktree add /tmp/base main``), in alternating order. With
``--log`` the count moves a few percent with the machine's load (the log writes a batch every
0.05 s of wall time, and under valgrind the server runs some 50 times slower): compare in one run.

Needs valgrind and /usr/sbin/smtp-source (Debian: ``apt-get install valgrind postfix``).

Usage: python bench/serve_instructions.py [--messages 1000] [--loop uvloop] [--log]
       [--log-format text|json] [--baseline DIR] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

from smtp_source import SOURCE, listening_port  # bench/ is the script's directory

#: the messages of the shorter run, whose count is taken off the longer one's
BASE_MESSAGES = 200


def count(tree: str | None, messages: int, args: argparse.Namespace, counted: bool = True) -> int:
    """Instructions of one ``smtpfake serve`` run that served ``messages`` messages (``counted``
    False: a run without valgrind, counting nothing)."""
    command = ["valgrind", "--tool=cachegrind", "--cache-sim=no"] if counted else []
    command += ["--cachegrind-out-file=/dev/null"] if counted else []
    command += [sys.executable, "-m", "smtpfake", "serve"]
    command += ["--port", "0", "--loop", args.loop] + ([] if args.log else ["--quiet"])
    command += ["--log-format", args.log_format]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTPFAKE_")}
    env["PYTHONHASHSEED"] = "0"
    if tree is not None:
        env["PYTHONPATH"] = os.path.abspath(tree)
    with tempfile.TemporaryDirectory() as folder:
        with (
            open(os.path.join(folder, "stdout.log"), "w") as log,
            open(os.path.join(folder, "stderr"), "w") as err,
        ):
            proc = subprocess.Popen(
                command, stdout=log, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=folder
            )
        try:
            # (600: under valgrind on a machine loaded by other work, start-up took over 120 s)
            port = listening_port(proc, folder, timeout=600)
            source = [SOURCE, "-s", "10", "-m", str(messages), "-l", "1000", f"127.0.0.1:{port}"]
            subprocess.run(source, check=True, timeout=600)
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        with open(os.path.join(folder, "stderr")) as err:
            report = err.read()
        with open(os.path.join(folder, "stdout.log")) as log:
            # text: "N messages accepted"; JSON: the stopped event's "messages": N
            served = re.search(r"(\d+) messages? accepted|\"messages\": (\d+)", log.read())
    found = re.search(r"I\s+refs:\s+([\d,]+)", report)
    if proc.returncode != 0 or (counted and found is None):
        raise RuntimeError(f"serve exited with status {proc.returncode}: {report[-2000:]}")
    accepted = served and int(served.group(1) or served.group(2))
    if accepted is not None and accepted != messages:
        raise RuntimeError(f"sent {messages} messages, serve accepted {accepted}")
    return int(found.group(1).replace(",", "")) if found is not None else 0


def per_message(tree: str | None, args: argparse.Namespace) -> float:
    more = count(tree, args.messages + BASE_MESSAGES, args)
    return (more - count(tree, BASE_MESSAGES, args)) / args.messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--log", action="store_true", help="with serve's event log (no --quiet)")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.add_argument("--baseline", metavar="DIR", help="also count this checkout's smtpfake")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if not (shutil.which("valgrind") and shutil.which(SOURCE)):
        sys.exit("needs valgrind and Postfix's smtp-source (apt-get install valgrind postfix)")
    if not 0 < args.messages <= 9_000:
        sys.exit("--messages: 1 to 9,000 (the journal keeps the last 10,000 messages)")
    trees: dict[str, str | None] = {"smtpfake": None}
    if args.baseline:
        trees["baseline"] = args.baseline
    results: dict[str, list[float]] = {name: [] for name in trees}
    for tree in trees.values():
        # Uncounted: a checkout's first run writes its byte-code and the scenario cache (a fresh
        # worktree's first count took ~950k instructions per message for main's ~614k)
        count(tree, 10, args, counted=False)
    for _ in range(args.rounds):
        for name, tree in trees.items():
            results[name].append(per_message(tree, args))
    print(
        f"smtpfake serve --loop {args.loop}{'' if args.log else ' --quiet'} --log-format "
        f"{args.log_format} under smtp-source "
        f"-s 10 -l 1000: user-space instructions per message (cachegrind; {args.messages} "
        f"messages, a run of {args.messages + BASE_MESSAGES} minus one of {BASE_MESSAGES}); "
        f"python {sys.version.split()[0]}"
    )
    for name, values in results.items():
        shown = ", ".join(f"{v / 1000:.1f}k" for v in values)
        print(f"{name:<10} {shown}")
    if args.baseline:
        mine, base = min(results["smtpfake"]), min(results["baseline"])
        print(f"{'ratio':<10} {mine / base:.3f}")


if __name__ == "__main__":
    main()
