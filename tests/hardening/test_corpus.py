"""The corpus of malformed scenarios (issue 9): each is refused with ``file:line:col`` problems,
no traceback, in bounded memory.

Each file under corpus/ ends with ``# expect: LINE:COL: TEXT``: the first problem must be at
LINE:COL (``*``: anywhere) and contain TEXT (``*``: anything). The big inputs (a 10 MiB file,
100,000 values) are made here rather than stored.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
import yaml

from smtpfake.scenario import ScenarioError, limits, load_file, load_text

CORPUS = Path(__file__).parent / "corpus"
FILES = sorted(CORPUS.glob("*.yaml"))
EXPECT_RE = re.compile(r"# expect: (\*|\d+:\d+): (.*)\n\Z")
#: memory a refused scenario may take while loading, whatever it holds
MEMORY_BOUND = 64 * 1024 * 1024


def _expectation(path: Path) -> tuple[str, str]:
    m = EXPECT_RE.search(path.read_text(encoding="utf-8"))
    assert m, f"{path.name} has no '# expect: LINE:COL: TEXT' last line"
    return m.group(1), m.group(2)


def _refused(path: Path) -> ScenarioError:
    tracemalloc.start()
    try:
        with pytest.raises(ScenarioError) as info:
            load_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{path.name}: {peak:,} bytes at peak"
    return info.value


def test_the_corpus_has_every_kind() -> None:
    assert len(FILES) >= 60


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_refused_at_file_line_col(path: Path) -> None:
    where, text = _expectation(path)
    error = _refused(path)
    assert error.problems, path.name
    for problem in error.problems:
        assert str(problem).startswith(f"{path}:{problem.location.line}:")
    first = error.problems[0]
    if where != "*":
        assert f"{first.location.line}:{first.location.column}" == where, str(first)
    if text != "*":
        assert text in first.message, str(first)


def test_problems_are_capped_with_a_count_of_the_rest() -> None:
    error = _refused(CORPUS / "problems-capped.yaml")
    assert len(error.problems) == limits.MAX_PROBLEMS
    assert error.more == 600 - limits.MAX_PROBLEMS  # two problems per rule, 300 rules
    path = CORPUS / "problems-capped.yaml"
    assert str(error).splitlines()[-1] == f"{path}: ... and {error.more} more problems"
    result = subprocess.run(
        [sys.executable, "-m", "smtpfake", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.splitlines()[-1] == f"{path}: ... and {error.more} more problems"


#: what a child that loads one big document may reach in resident memory (Python with
#: smtpfake imported is about 40 MiB of it)
RSS_BOUND_KIB = 160 * 1024
# The peak is read from /proc/self/status (VmHWM: this process image's own high-water mark);
# Linux's ru_maxrss keeps the pre-exec peak inherited from a forked parent, so a child of a big
# pytest process (say, after the plugin tests, or in an xdist worker) would report the parent's.
_LOAD_IN_CHILD = """
import resource, sys
from smtpfake.scenario import ScenarioError, load_file
try:
    load_file(sys.argv[1])
    print("loaded")
except ScenarioError as exc:
    print(exc.problems[0])
try:
    with open("/proc/self/status") as status:
        print(next(l.split()[1] for l in status if l.startswith("VmHWM:")))
except OSError:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _load_in_child(path: Path) -> tuple[str, int]:
    """Load ``path`` in a fresh process: (its first problem or "loaded", its peak RSS in KiB)."""
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_IN_CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    outcome, rss = result.stdout.splitlines()
    return outcome, int(rss)


RULE = "- on: rcpt\n  reply: {code: 550, text: [" + ",".join(["abcdef"] * 99) + "]}\n"


def test_a_10_mib_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("summary: s\nexpect: e\nrules:\n" + RULE * 15_000, encoding="utf-8")
    size = path.stat().st_size
    assert size > 10 * 1024 * 1024
    outcome, rss = _load_in_child(path)
    assert outcome == (
        f"{path}: the scenario is {size:,} bytes; a scenario is at most "
        f"{limits.MAX_SCENARIO_BYTES:,} bytes"
    )
    assert rss < RSS_BOUND_KIB


def test_the_largest_document_allowed_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """Under the size limit, more values than allowed: refused for its values, in bounded
    memory."""
    path = tmp_path / "many.yaml"
    # a RULE is 103 values (its list of 99, the list, the reply mapping, two keys, one more)
    rules = limits.MAX_NODES // 100
    path.write_text("summary: s\nexpect: e\nrules:\n" + RULE * rules, encoding="utf-8")
    assert path.stat().st_size < limits.MAX_SCENARIO_BYTES
    outcome, rss = _load_in_child(path)
    assert f"more than {limits.MAX_NODES:,} values in one scenario" in outcome
    assert rss < RSS_BOUND_KIB


def test_what_the_limits_allow_still_loads() -> None:
    """MAX_RULES rules; a 100-line reply; 31 levels of nesting are read (and judged) as usual."""
    rule = "- on: rcpt\n  reply: {code: 550, text: [a, b]}\n"
    scenario = load_text("summary: s\nexpect: e\nrules:\n" + rule * limits.MAX_RULES)
    assert len(scenario.rules) == limits.MAX_RULES
    lines = ",".join(["x"] * limits.MAX_REPLY_LINES)
    load_text(
        f"summary: s\nexpect: e\nrules:\n- on: rcpt\n  reply: {{code: 550, text: [{lines}]}}\n"
    )
    deep = "[" * (limits.MAX_DEPTH - 1) + "]" * (limits.MAX_DEPTH - 1)
    with pytest.raises(ScenarioError) as info:
        load_text(f"summary: s\nexpect: e\nname: {deep}\n")
    assert "expected a single value" in str(info.value)  # read, not refused for its depth


def test_validate_prints_one_line_per_problem_and_no_traceback() -> None:
    """The CLI over the whole corpus: every line is file:line:col: message (or the count)."""
    result = subprocess.run(
        [sys.executable, "-m", "smtpfake", "validate", *map(str, FILES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "Traceback" not in out
    assert "RecursionError" not in out
    located = re.compile(
        rf"^{re.escape(str(CORPUS))}/[\w.-]+\.yaml(:\d+:\d+: .+|: \.\.\. and \d+ more problems)$"
    )
    for line in out.splitlines():
        if line.startswith(str(CORPUS)):
            assert located.match(line), line
    for path in FILES:
        assert f"{path}:" in out, path.name


def test_without_libyaml_the_same_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyYAML without its C parser (some platforms) composes the same way, limits included."""
    from smtpfake.scenario import compose

    expected = {}
    for path in FILES:
        with pytest.raises(ScenarioError) as info:
            load_file(path)
        expected[path] = str(info.value)
    monkeypatch.setattr(compose, "_Loader", yaml.SafeLoader)
    for path in FILES:
        with pytest.raises(ScenarioError) as info:
            load_file(path)
        assert str(info.value) == expected[path], path.name
