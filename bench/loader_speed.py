"""What validating a big scenario costs: seconds per MB and peak RSS of ``load_text``, side by
side with PyYAML's own ``safe_load`` of the same text (the baseline) measured in the same run.

The scenario is generated: ordinary rules (a reply, a match, a delay, a per-key counter, a
fault with parameters) repeated until the text reaches each size. Each measurement runs in a
fresh child process, so peak RSS (VmHWM) is that of one load alone; rounds alternate
between smtpfake and the baseline so that noise from other processes spreads over both, and
the best round of each is shown. Every loop is bounded in count. The figure issue 8 asks for is
the 5 MB row: under 5 s and 200 MB peak RSS.

Usage: python bench/loader_speed.py [--sizes 0.5,1.5,5] [--repeat 3] [--profile MB]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo, for tests/

from tests.scenario.test_big_scenario import PAIR as RULE  # one pair of rules, as the test's

HEAD = "summary: bench, many rules\nexpect: n/a\nserver:\n  hostname: bench.test\nrules:\n"


def scenario_text(megabytes: float) -> str:
    """Rules until the text is at least ``megabytes`` MB (10**6 bytes) long."""
    target = int(megabytes * 1_000_000)
    parts = [HEAD]
    size, i = len(HEAD), 0
    while size < target and i < 10_000_000:
        part = RULE.format(i=i, n=i % 7 + 1)
        parts.append(part)
        size += len(part)
        i += 1
    return "".join(parts)


def child(kind: str, megabytes: float) -> None:
    """One load in this process; prints JSON {seconds, rss_mb, bytes}."""
    import yaml

    from smtpfake.scenario import load_text

    text = scenario_text(megabytes)
    start = time.perf_counter()
    if kind == "smtpfake":
        load_text(text, source="bench.yaml")
    else:
        yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rss_mb": peak_rss_mb(), "bytes": len(text.encode())}))


def peak_rss_mb() -> float:
    """This process image's peak RSS in MiB: VmHWM (ru_maxrss on Linux may keep the peak of
    the process this one was forked from)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return next(int(s.split()[1]) for s in status if s.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kind: str, megabytes: float) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--sizes", str(megabytes)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def profile(megabytes: float) -> None:
    from smtpfake.scenario import load_text

    text = scenario_text(megabytes)
    profiler = cProfile.Profile()
    profiler.runcall(load_text, text, source="bench.yaml")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--sizes", default="0.5,1.5,5", help="scenario sizes in MB, comma-separated"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best of each is shown")
    parser.add_argument("--profile", type=float, help="print a cProfile of one load of this size")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, float(args.sizes))
        return
    if args.profile:
        profile(args.profile)
        return
    kinds = ("smtpfake", "yaml.safe_load")
    print(f"{'size':>8} {'loader':>15} {'s':>7} {'s/MB':>7} {'peak RSS MB':>12} {'x baseline':>11}")
    for mb in (float(s) for s in args.sizes.split(",")):
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.repeat):
            for kind in kinds:  # interleaved: A, B, A, B, ...
                r = measure(kind, mb)
                if kind not in best or r["seconds"] < best[kind]["seconds"]:
                    best[kind] = r
        base = best["yaml.safe_load"]["seconds"]
        for kind in kinds:
            r = best[kind]
            size = r["bytes"] / 1_000_000
            print(
                f"{size:>6.2f}MB {kind:>15} {r['seconds']:>7.2f} {r['seconds'] / size:>7.2f} "
                f"{r['rss_mb']:>12.0f} {r['seconds'] / base:>10.2f}x"
            )


if __name__ == "__main__":
    main()
