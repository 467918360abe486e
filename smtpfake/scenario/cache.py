"""Loaded scenarios kept on disk between runs, so that ``smtpfake serve`` starts without the YAML
loader (start-up time: yaml and the readers are about a fifth of it).

An entry is its key written out as bytes (8 octets of length, then :func:`key_bytes`), followed
by the :class:`Scenario` in :mod:`marshal` (see :func:`plain`: the builtin serializer of plain
data, where importing ``pickle`` was some 7 million instructions of ``smtpfake serve``'s start).
The key is everything the scenario depends on: this format,
smtpfake's version, the Python version, the size and modification time of every source file of
``smtpfake.scenario`` (an edited checkout counts as another version), the file's path, the
parameters set, and the file's bytes themselves. An entry is used only when its key is equal to
the one just read, compared in full (no hash that could collide), so a stale entry is never used:
it is overwritten. The key is compared before anything is read: an entry another version
wrote (two virtualenvs sharing ~/.cache, an upgrade) may name classes this one lacks, and is
never read. Only a file that loads without problems is kept: a problem is reported by the
loader on every run; nor is a scenario that names its own TLS files (``server.tls.certificate``):
where those are depends on more than the key holds (the working directory for a relative path,
symbolic links, ``~``), so it is loaded from its YAML each time, which checks them.

Where: ``$SMTPFAKE_CACHE_DIR``, else ``$XDG_CACHE_HOME/smtpfake/scenarios``, else
``~/.cache/smtpfake/scenarios``; ``SMTPFAKE_CACHE_DIR=off`` turns it off. What an entry holds
is served as it is, and reading one makes instances of smtpfake's classes it names, so a
directory that is not the user's own, or that others may write to, is not used.
A directory that cannot be made or written is no error: the scenario is loaded from its YAML,
as without a cache (so too on Windows, where ownership is not checked this way, and when the
package's sources are not plain files).
"""

from __future__ import annotations

import binascii
import contextlib
import copyreg
import enum
import functools
import importlib
import marshal
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from smtpfake import __version__
from smtpfake.scenario import limits
from smtpfake.scenario.model import Scenario

ENV = "SMTPFAKE_CACHE_DIR"
#: bumped when what an entry holds changes in a way the key does not see
FORMAT = 3
#: an entry's file name ends so; older versions' entries (pickles) are pruned with them
SUFFIX = ".marshal"
OLD_SUFFIXES = (".pickle",)
#: entries kept: past MAX_ENTRIES, or MAX_BYTES in all, the least recently written are removed
#: down to half of each (an entry of a 5 MB scenario is about 20 MB: a count alone would let a
#: suite that writes big scenarios to fresh temporary paths fill the home folder)
MAX_ENTRIES = 256
MAX_BYTES = 256 * 1024 * 1024


# Paths are strs and os.path here (not pathlib, which with urllib.parse and ipaddress is about
# 3 ms of serve's start): a cache hit is all serve reads its scenario with.


def cache_dir(env: Mapping[str, str] = os.environ) -> str | None:
    """The directory entries live in, or None when the cache is off or no home is known."""
    chosen = env.get(ENV, "")
    if chosen == "off":
        return None
    if chosen:
        return chosen
    xdg = env.get("XDG_CACHE_HOME", "")
    if xdg:
        return os.path.join(xdg, "smtpfake", "scenarios")
    home = env.get("HOME", "")
    return os.path.join(home, ".cache", "smtpfake", "scenarios") if home else None


@functools.cache
def _code_fingerprint() -> bytes | None:
    """(name, size, mtime) of every source file of smtpfake.scenario, which makes the model;
    None when they are not plain files (a zip): then nothing is cached."""
    here = os.path.dirname(os.path.abspath(__file__))
    parts = []
    try:
        for folder in (here, os.path.join(here, "faults")):
            name = os.path.basename(folder)
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.endswith(".py"):
                        st = entry.stat()
                        parts.append(f"{name}/{entry.name}:{st.st_size}:{st.st_mtime_ns}")
    except OSError:
        return None
    return "\n".join(sorted(parts)).encode()


Key = tuple[object, ...]


def key_of(path: str, params: Mapping[str, Any], data: bytes) -> Key:
    """What an entry for ``data`` read from ``path`` with ``params`` set must have been made of."""
    return (
        FORMAT,
        __version__,
        sys.version,
        _code_fingerprint(),
        path,
        repr(sorted(params.items())),
        data,
    )


def key_bytes(key: Key) -> bytes:
    """The key as it is written at the head of an entry: the ``repr`` of all but the file's bytes
    (None, ints, strs and bytes: exact, the same in every process, no raw newline), a newline,
    then the file's bytes as they are."""
    data = key[-1]
    assert isinstance(data, bytes), "key_of puts the file's bytes last"
    return repr(key[:-1]).encode() + b"\n" + data


def entry_name(key: Key) -> str:
    """The entry's file name: the file's stem and a checksum of its path and parameters (two
    files that share one name overwrite each other's entry, which costs a load, never a wrong
    answer: the key inside is compared)."""
    path, params = str(key[4]), str(key[5])
    # binascii's CRC-32 is zlib's (the same names as before); asyncio has loaded binascii, while
    # zlib would be one more shared library to load at serve's start
    checksum = binascii.crc32("\0".join((path, params)).encode())
    stem = os.path.splitext(os.path.basename(path))[0]
    return f"{stem}-{checksum:08x}{SUFFIX}"


def _usable(folder: str) -> bool:
    """The folder exists (made if need be), is ours and only we may write to it. Where
    ownership cannot be checked this way (Windows: no os.getuid) it is never used."""
    getuid = getattr(os, "getuid", None)
    if getuid is None or _code_fingerprint() is None:
        return False
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)  # the mode: the folder itself
        st = os.stat(folder)
    except OSError:
        return False
    return bool(st.st_uid == getuid() and not st.st_mode & 0o022)


def load(path: str, params: Mapping[str, Any], env: Mapping[str, str] = os.environ) -> Scenario:
    """The scenario of the YAML file at ``path`` with ``params``, from the cache when it holds
    it, else loaded (and kept). Raises ScenarioError as ``loader.load_file`` does."""
    folder = cache_dir(env)
    try:
        with open(path, "rb") as f:
            data = f.read(limits.MAX_SCENARIO_BYTES + 1)
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        data = b""  # not cached: the loader reads it again and says what is wrong
    # the YAML loader only on a miss: a hit must not pay for importing it
    if not data or folder is None or len(data) > limits.MAX_SCENARIO_BYTES or not _usable(folder):
        from smtpfake.scenario.loader import load_file

        return load_file(path, params=params)
    key = key_of(path, params, data)
    entry = os.path.join(folder, entry_name(key))
    found = _read(entry, key)
    if found is not None:
        return found
    from pathlib import Path  # with the loader: a miss

    from smtpfake.scenario.loader import load_text

    # from the bytes the key was made of: the file may change meanwhile
    # named as load_file names it (Path("./a.yaml") is "a.yaml")
    scenario = load_text(text, source=str(Path(path)), name=Path(path).stem, params=params)
    if scenario.server.tls.certificate is None:  # files found from outside the key: see above
        with contextlib.suppress(Unstorable):  # a scenario plain() cannot hold: not kept
            _write(entry, key, plain(scenario))
    return scenario


def _read(entry: str, key: Key) -> Scenario | None:
    """The entry's scenario if it was made of exactly ``key``, else None. Nothing is read past
    the key unless it matches: only this very code wrote what follows it."""
    wanted = key_bytes(key)
    try:
        with open(entry, "rb") as f:
            head = f.read(8)
            # the length first: a foreign or damaged entry never makes us read much
            if len(head) != 8 or int.from_bytes(head, "big") != len(wanted):
                return None
            if f.read(len(wanted)) != wanted:
                return None
            stored = marshal.loads(f.read())  # marshal.load reads the file item by item
    except FileNotFoundError:
        return None
    except (OSError, EOFError, ValueError, TypeError):
        return None  # a damaged entry (a full disk, say) is rewritten: marshal's errors
    found = built(stored)
    return found if isinstance(found, Scenario) else None


def _write(entry: str, key: Key, stored: Stored) -> None:
    """The entry written whole or not at all (a temporary file renamed), then old ones pruned."""
    # a name of its own: two writers of one entry (processes, threads) never share the file
    temporary = f"{entry}.{os.getpid()}.{os.urandom(6).hex()}.tmp"
    try:
        with open(temporary, "wb") as f:
            made_of = key_bytes(key)
            f.write(len(made_of).to_bytes(8, "big") + made_of)
            marshal.dump(stored, f)
        os.replace(temporary, entry)
        _prune(os.path.dirname(entry))
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)  # a read-only or full disk: no cache, no error


def _prune(folder: str) -> None:
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.name.endswith((SUFFIX, *OLD_SUFFIXES)):
                continue  # as glob("*.marshal") and glob("*.pickle")
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue  # another process pruned it meanwhile
            found.append((st.st_mtime_ns, st.st_size, entry.path))
    count, total = len(found), sum(size for _, size, _ in found)
    if count <= MAX_ENTRIES and total <= MAX_BYTES:
        return
    for _, size, path in sorted(found):
        if count <= MAX_ENTRIES // 2 and total <= MAX_BYTES // 2:
            break
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        count, total = count - 1, total - size


# The scenario as marshal's plain data, and back. marshal holds None, bools, ints, floats, strs,
# bytes, tuples, lists, dicts and frozensets; the model is frozen records, enums and those. A
# record is stored as pickle (protocol 2 and up) takes it, and made back as pickle makes it: a
# new instance without __init__, its state given to its __setstate__ if it has one, else put in
# its __dict__. Lists are this format's own nodes (the model holds no list of its own):
#   [OBJECT, class, names, values]  a record: ``class`` indexes the entry's (module, name)s
#   [SAME, n]                       the n-th record met before (one object twice stays one)
#   [MEMBER, class, value]          an enum's member
#   [TUPLE, items], [FROZENSET, items]  one holding a node (else stored as it is)
#   [LIST, items], [DICT, keys, values]
# An entry is (classes, the scenario so encoded). Reading visits the nodes alone: a value with
# none inside is marshal's own (reading it back was about 3 times pickle's C reader, in Python,
# when every tuple and string was visited).
OBJECT, SAME, MEMBER, TUPLE, FROZENSET, LIST, DICT = range(7)
_AS_THEY_ARE = (type(None), bool, int, float, str, bytes)

#: (the classes' modules and names, the scenario encoded): marshal's types, checked by it
Stored = tuple[tuple[tuple[str, str], ...], Any]
#: pickle's constructor of a plain record (protocol 2 and up): what __reduce_ex__ names
_NEW_OBJECT = vars(copyreg)["__newobj__"]


class Unstorable(Exception):
    """The scenario holds what this format does not: it is loaded from its YAML each time."""


def plain(scenario: Scenario) -> Stored:
    """``scenario`` as marshal's data (see above). Unstorable for what it cannot hold: a class
    not smtpfake's or not found by its name, a record that pickle would not take plainly."""
    classes: dict[type, int] = {}
    seen: dict[int, int] = {}
    records: list[object] = []  # alive until done, so that no other object takes their ids

    def class_index(cls: type) -> int:
        if cls not in classes:
            if _class_named(cls.__module__, cls.__qualname__) is not cls:
                raise Unstorable(f"{cls!r} is not found by its name")
            classes[cls] = len(classes)
        return classes[cls]

    def each(values: Iterable[object]) -> tuple[object, ...]:
        return tuple(map(encode, values))

    def encode(value: object) -> object:
        kind = type(value)
        if kind in _AS_THEY_ARE:
            return value
        if kind is tuple and isinstance(value, tuple):
            items = each(value)
            return [TUPLE, items] if any(type(x) is list for x in items) else items
        if kind is frozenset and isinstance(value, frozenset):
            items = each(value)
            return [FROZENSET, items] if any(type(x) is list for x in items) else value
        if kind is list and isinstance(value, list):
            return [LIST, each(value)]
        if kind is dict and isinstance(value, dict):
            return [DICT, each(value), each(value.values())]
        if isinstance(value, enum.Enum):
            return [MEMBER, class_index(kind), encode(value.value)]
        if id(value) in seen:
            return [SAME, seen[id(value)]]
        reduced = value.__reduce_ex__(4)
        if not (
            isinstance(reduced, tuple)
            and len(reduced) == 5
            and reduced[0] is _NEW_OBJECT
            and reduced[1] == (kind,)
            and isinstance(reduced[2], dict | None)
            and reduced[3:] == (None, None)
        ):
            raise Unstorable(f"{kind!r} is not reduced as a plain record")
        seen[id(value)] = len(records)
        records.append(value)
        state = reduced[2] or {}
        if not all(type(name) is str for name in state):
            raise Unstorable(f"{kind!r} has a state not named by strs")
        return [OBJECT, class_index(kind), tuple(state), each(state.values())]

    root = encode(scenario)
    return tuple((cls.__module__, cls.__qualname__) for cls in classes), root


def built(stored: Stored) -> object:
    """What :func:`plain` stored, made again."""
    names, root = stored
    classes: list[Any] = [_class_named(module, name) for module, name in names]
    # whether each has __setstate__, asked of the class once (of a record, missing, it was an
    # AttributeError made and dropped for each): a new instance holds nothing of its own yet
    restores = [hasattr(cls, "__setstate__") for cls in classes]
    made: list[object] = []

    def each(values: tuple[object, ...]) -> list[object]:
        return [decode(x) if type(x) is list else x for x in values]

    def decode(node: list[Any]) -> object:
        tag = node[0]
        if tag == OBJECT:
            cls = classes[node[1]]
            record = cls.__new__(cls)
            made.append(record)
            state = dict(zip(node[2], each(node[3]), strict=True))
            if restores[node[1]]:
                record.__setstate__(state)
            else:
                vars(record).update(state)
            return record
        if tag == SAME:
            return made[node[1]]
        if tag == MEMBER:
            value = node[2]
            return classes[node[1]](decode(value) if type(value) is list else value)
        items = each(node[1])
        if tag == TUPLE:
            return tuple(items)
        if tag == FROZENSET:
            return frozenset(items)
        if tag == LIST:
            return items
        return dict(zip(items, each(node[2]), strict=True))

    return decode(root) if type(root) is list else root


def _class_named(module: str, qualname: str) -> type:
    """smtpfake's class of that name, its module imported: no other module is ever imported."""
    if module != "smtpfake" and not module.startswith("smtpfake."):
        raise Unstorable(f"{module}.{qualname} is not smtpfake's")
    found: object = sys.modules.get(module) or importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    if not isinstance(found, type):
        raise Unstorable(f"{module}.{qualname} is not a class")
    return found
