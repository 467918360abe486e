"""The disk cache of loaded scenarios (smtpfake.scenario.cache): a later process reads the
scenario without the YAML loader, and an entry is used only for exactly what it was made of."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import enum
import json
import marshal
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from smtpfake.scenario import ScenarioError, cache, load_file, loader
from smtpfake.scenario.library import builtin_dir
from smtpfake.scenario.model import Scenario

YAML = "summary: first\nexpect: nothing\n"
GREYLIST = """\
summary: greylisting for ${delay} seconds
expect: a retry
params:
  delay:
    type: duration
    default: 300
rules:
  - on: rcpt
    reply: 451 4.7.1 wait ${delay} seconds
"""

# A fresh interpreter each time: what this test process imported does not count.
IN_A_NEW_PROCESS = """
import json, sys
from smtpfake.scenario.library import resolve
sc = resolve(sys.argv[1])
loaded = sorted(m for m in sys.modules if m == "yaml" or m.startswith("smtpfake.scenario."))
print(json.dumps({"summary": sc.summary, "rules": len(sc.rules), "modules": loaded}))
"""


def resolve_in_a_new_process(ref: str, folder: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", IN_A_NEW_PROCESS, ref],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, cache.ENV: str(folder)},
    )
    assert out.returncode == 0, out.stderr
    answer: dict[str, object] = json.loads(out.stdout)
    return answer


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.marshal"))


def scenario_in(entry: Path) -> Any:
    """What an entry holds after its key (8 octets of length, then the key)."""
    data = entry.read_bytes()
    return cache.built(marshal.loads(data[8 + int.from_bytes(data[:8], "big") :]))


def write_entry(entry: Path, key: cache.Key, payload: bytes) -> None:
    """An entry as cache.py lays one out, holding ``payload`` after ``key``."""
    made_of = cache.key_bytes(key)
    entry.write_bytes(len(made_of).to_bytes(8, "big") + made_of + payload)


def test_the_second_process_reads_the_builtin_without_the_yaml_loader(tmp_path: Path) -> None:
    first = resolve_in_a_new_process("greylisting", tmp_path)
    assert "yaml" in first["modules"]  # type: ignore[operator]
    assert [p.name.split("-")[0] for p in entries(tmp_path)] == ["greylisting"]
    second = resolve_in_a_new_process("greylisting", tmp_path)
    assert (second["summary"], second["rules"]) == (first["summary"], first["rules"])
    modules = second["modules"]
    assert isinstance(modules, list)
    for heavy in ("yaml", "smtpfake.scenario.loader", "smtpfake.scenario.rule_reader"):
        assert heavy not in modules, heavy


def test_a_cached_scenario_equals_the_loaded_one(tmp_path: Path) -> None:
    path = tmp_path / "grey.yaml"
    path.write_text(GREYLIST, encoding="utf-8")
    env = {cache.ENV: str(tmp_path / "cache")}
    written = cache.load(str(path), {"delay": 5}, env)
    read = cache.load(str(path), {"delay": 5}, env)
    assert read is not written  # read from the entry, not this process's object
    assert read == written == load_file(path, params={"delay": 5})
    assert read.summary == "greylisting for 5 seconds"
    assert read.document == GREYLIST


def test_an_edit_that_keeps_size_and_time_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "same.yaml"
    path.write_text(YAML, encoding="utf-8")
    env = {cache.ENV: str(tmp_path / "cache")}
    assert cache.load(str(path), {}, env).summary == "first"
    stamp = path.stat()
    path.write_text(YAML.replace("first", "other"), encoding="utf-8")  # same length
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert cache.load(str(path), {}, env).summary == "other"


def test_it_names_the_source_as_the_loader_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "s.yaml").write_text(YAML, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    env = {cache.ENV: str(tmp_path / "cache")}
    for _ in range(2):  # written, then read
        got = cache.load("./s.yaml", {}, env)
        assert (got.source, got.name) == ("s.yaml", "s") == (load_file("./s.yaml").source, "s")


def test_parameters_are_part_of_the_key(tmp_path: Path) -> None:
    path = tmp_path / "grey.yaml"
    path.write_text(GREYLIST, encoding="utf-8")
    env = {cache.ENV: str(tmp_path / "cache")}
    assert cache.load(str(path), {"delay": 5}, env).summary == "greylisting for 5 seconds"
    assert cache.load(str(path), {}, env).summary == "greylisting for 300 seconds"
    assert cache.load(str(path), {"delay": 7}, env).summary == "greylisting for 7 seconds"


def test_an_entry_made_of_something_else_is_not_used(tmp_path: Path) -> None:
    """As after an upgrade or an edit of the model's code: same entry name, another key."""
    path = tmp_path / "s.yaml"
    path.write_text(YAML, encoding="utf-8")
    env = {cache.ENV: str(tmp_path / "cache")}
    good = cache.load(str(path), {}, env)
    (entry,) = entries(tmp_path / "cache")
    key = cache.key_of(str(path), {}, path.read_bytes())
    older = (key[0], "0.0.1", *key[2:])
    stale = cache.plain(dataclasses.replace(good, summary="stale"))
    write_entry(entry, older, marshal.dumps(stale))
    assert cache.load(str(path), {}, env).summary == "first"
    assert cache.load(str(path), {}, env).summary == "first"  # and the entry was rewritten


def test_a_damaged_entry_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(YAML, encoding="utf-8")
    env = {cache.ENV: str(tmp_path / "cache")}
    cache.load(str(path), {}, env)
    (entry,) = entries(tmp_path / "cache")
    entry.write_bytes(entry.read_bytes()[:20])
    assert cache.load(str(path), {}, env).summary == "first"
    assert scenario_in(entry).summary == "first"


def test_a_scenario_with_problems_is_reported_every_time_and_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("summary: x\nexpect: y\nrules: 3\n", encoding="utf-8")
    env = {cache.ENV: str(tmp_path / "cache")}
    for _ in range(2):
        with pytest.raises(ScenarioError, match=r"bad\.yaml:3:"):
            cache.load(str(path), {}, env)
    assert entries(tmp_path / "cache") == []


def test_a_directory_others_may_write_to_is_not_used(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    path = tmp_path / "s.yaml"
    path.write_text(YAML, encoding="utf-8")
    assert cache.load(str(path), {}, {cache.ENV: str(folder)}).summary == "first"
    assert entries(folder) == []


def test_off_and_no_home_mean_no_cache(tmp_path: Path) -> None:
    assert cache.cache_dir({cache.ENV: "off", "HOME": str(tmp_path)}) is None
    assert cache.cache_dir({}) is None
    assert cache.cache_dir({"HOME": "/home/u"}) == "/home/u/.cache/smtpfake/scenarios"
    assert cache.cache_dir({"XDG_CACHE_HOME": "/c", "HOME": "/h"}) == "/c/smtpfake/scenarios"


def test_an_unwritable_directory_is_no_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    path = tmp_path / "s.yaml"
    path.write_text(YAML, encoding="utf-8")
    assert cache.load(str(path), {}, {cache.ENV: str(folder)}).summary == "first"
    if os.geteuid() != 0:  # root writes anyway
        assert entries(folder) == []


def test_old_entries_are_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "MAX_ENTRIES", 4)
    env = {cache.ENV: str(tmp_path / "cache")}
    for i in range(6):
        path = tmp_path / f"s{i}.yaml"
        path.write_text(YAML, encoding="utf-8")
        cache.load(str(path), {}, env)
    assert 2 <= len(entries(tmp_path / "cache")) <= 4


def test_old_entries_are_pruned_by_their_bytes_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A count alone let big scenarios' entries (about 4 times the YAML) grow without bound."""
    big = GREYLIST + "# " + "x" * 20_000 + "\n"
    monkeypatch.setattr(cache, "MAX_BYTES", 100_000)  # room for about two of them
    folder = tmp_path / "cache"
    for i in range(6):
        path = tmp_path / f"big{i}.yaml"
        path.write_text(big, encoding="utf-8")
        cache.load(str(path), {}, {cache.ENV: str(folder)})
        assert sum(p.stat().st_size for p in entries(folder)) <= 100_000
    assert [p.name.split("-")[0] for p in entries(folder)][-1] == "big5"  # the newest is kept


def test_writers_at_once_leave_one_whole_entry(tmp_path: Path) -> None:
    """Threads (an API, xdist workers in processes alike) that miss together all write it."""
    path = tmp_path / "grey.yaml"
    path.write_text(GREYLIST, encoding="utf-8")
    env = {cache.ENV: str(tmp_path / "cache")}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: cache.load(str(path), {}, env), range(16)))
    assert all(g == got[0] for g in got)
    (entry,) = entries(tmp_path / "cache")  # no temporary file left behind
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [entry.name]
    assert scenario_in(entry) == got[0]


def test_no_cache_where_ownership_or_the_sources_cannot_be_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(YAML, encoding="utf-8")
    env = {cache.ENV: str(tmp_path / "cache")}
    with monkeypatch.context() as m:
        m.delattr(os, "getuid")  # as on Windows
        assert cache.load(str(path), {}, env).summary == "first"
    with monkeypatch.context() as m:
        m.setattr(cache, "_code_fingerprint", lambda: None)  # as from a zip
        assert cache.load(str(path), {}, env).summary == "first"
    assert entries(tmp_path / "cache") == []


def test_an_entry_another_version_wrote_is_never_read(tmp_path: Path) -> None:
    """Two virtualenvs with different smtpfakes share ~/.cache: the other one's entry for the same
    file names a class this version lacks. Reading it was an AttributeError traceback from
    ``smtpfake serve`` on every start; the key, compared first, turns it away unread."""
    path = tmp_path / "s.yaml"
    path.write_text(YAML, encoding="utf-8")
    env = {cache.ENV: str(tmp_path / "cache")}
    cache.load(str(path), {}, env)
    (entry,) = entries(tmp_path / "cache")
    key = cache.key_of(str(path), {}, path.read_bytes())
    # an instance of smtpfake.scenario.model.RetiredSetting, a class this one lacks
    foreign = marshal.dumps(
        ((("smtpfake.scenario.model", "RetiredSetting"),), [cache.OBJECT, 0, (), ()])
    )
    with pytest.raises(AttributeError):
        cache.built(marshal.loads(foreign))  # what reading it whole does
    write_entry(entry, (key[0], "9.9.9", *key[2:]), foreign)
    assert cache.load(str(path), {}, env).summary == "first"
    assert scenario_in(entry).summary == "first"  # and rewritten by this version
    entry.write_bytes(foreign)  # an entry of the old layout: no key in front
    assert cache.load(str(path), {}, env).summary == "first"


def test_a_scenario_naming_its_own_tls_files_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One YAML in two folders, each with its own certificate, served by a relative path from
    each: the second run got the first folder's certificate from the cache."""
    text = "summary: own\nexpect: tls\nserver:\n  tls:\n    certificate: cert.pem\n"
    env = {cache.ENV: str(tmp_path / "cache")}
    for site in ("a", "b"):
        (tmp_path / site).mkdir()
        (tmp_path / site / "s.yaml").write_text(text, encoding="utf-8")
        (tmp_path / site / "cert.pem").write_text(f"not read at load: {site}\n", encoding="utf-8")
        monkeypatch.chdir(tmp_path / site)
        got = cache.load("s.yaml", {}, env)
        assert got.server.tls.certificate == str((tmp_path / site / "cert.pem").resolve())
    assert entries(tmp_path / "cache") == []
    (tmp_path / "b" / "cert.pem").unlink()  # and a certificate gone is reported, as uncached
    with pytest.raises(ScenarioError, match=r"s\.yaml:5:18: server\.tls\.certificate: no such"):
        cache.load("s.yaml", {}, env)


def same_throughout(a: object, b: object, where: str = "scenario") -> None:
    """``a`` and ``b`` alike value for value, down to every record's every field (those
    compared by no ``==`` too), with the same types and enum members."""
    assert type(a) is type(b), where
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same_throughout(x, y, f"{where}[{i}]")
    elif isinstance(a, dict) and isinstance(b, dict):
        assert list(a) == list(b), where
        for k in a:
            same_throughout(a[k], b[k], f"{where}[{k!r}]")
    elif type(a) in (type(None), bool, int, float, str, bytes, frozenset):
        assert a == b, where
    elif isinstance(a, enum.Enum):
        assert a is b, where
    else:
        same_throughout(vars(a), vars(b), f"{where}.{type(a).__name__}")


def test_every_library_scenario_is_kept_and_read_back_whole(tmp_path: Path) -> None:
    """An entry is marshal's (importing pickle was some 7 million instructions of serve's start):
    it holds every record, enum and container the built-in scenarios are made of."""
    env = {cache.ENV: str(tmp_path / "cache")}
    library = sorted(builtin_dir().glob("*.yaml"))
    assert len(library) > 50
    for path in library:
        loaded = load_file(path)
        cache.load(str(path), {}, env)  # written
        entry = (
            tmp_path / "cache" / cache.entry_name(cache.key_of(str(path), {}, path.read_bytes()))
        )
        same_throughout(scenario_in(entry), loaded, path.name)
        same_throughout(cache.load(str(path), {}, env), loaded, path.name)  # read


class Marked(str):
    """A str of a class the entries cannot name (not smtpfake's)."""


def test_a_scenario_holding_what_an_entry_cannot_is_served_and_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(YAML, encoding="utf-8")
    load_text = loader.load_text

    def marked(*args: Any, **kwargs: Any) -> Scenario:
        return dataclasses.replace(load_text(*args, **kwargs), summary=Marked("marked"))

    monkeypatch.setattr(loader, "load_text", marked)
    env = {cache.ENV: str(tmp_path / "cache")}
    for _ in range(2):
        assert type(cache.load(str(path), {}, env).summary) is Marked
    assert list((tmp_path / "cache").iterdir()) == []
    with pytest.raises(cache.Unstorable, match="Marked"):
        cache.plain(marked(YAML))


def test_one_record_met_twice_is_read_back_as_one(tmp_path: Path) -> None:
    """As pickle kept it: the same object twice in the scenario is one object once read."""
    good = load_file(builtin_dir() / "greylisting.yaml")
    twice = dataclasses.replace(good, rules=(good.rules[0], good.rules[0]))
    back = cache.built(marshal.loads(marshal.dumps(cache.plain(twice))))
    assert isinstance(back, Scenario)
    first, second = back.rules
    assert first is second and first == good.rules[0]


def test_an_older_versions_pickled_entries_are_pruned_with_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "MAX_ENTRIES", 4)
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    for i in range(4):  # as smtpfake before the marshal format named its entries
        old = folder / f"s{i}-0000000{i}.pickle"
        old.write_bytes(b"an entry of an older version")
        os.utime(old, ns=(i, i))
    path = tmp_path / "s.yaml"
    path.write_text(YAML, encoding="utf-8")
    cache.load(str(path), {}, {cache.ENV: str(folder)})
    left = sorted(p.name for p in folder.iterdir())
    assert left == ["s-" + entries(folder)[0].name.split("-")[1], "s3-00000003.pickle"]
