"""serve's log lines for a session, made a batch at a time (logging_observer.LoggingJournal).

A transcript entry as the journal keeps it (a tuple: time, side, text, rule, and delivered,
written, event, note when not the defaults) becomes one text line per line of its text, or one JSON
line from a template per kind (no dict built, the same text as ``json.JSONEncoder`` with
``ensure_ascii=False`` makes). Lines are not escaped here: the log escapes a whole batch at
once (EventLog.shown). Each line carries a sort key: the session's time, never going back
within a session, so a batch sorted by it is in time order across sessions and in each
session's own order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import product, repeat
from operator import itemgetter, truediv
from typing import TYPE_CHECKING, Any

from smtpfake.engine.records import SessionInfo, TranscriptEntry, cut_short, tag_endings
from smtpfake.event_order import Held, place
from smtpfake.visible import visible

if TYPE_CHECKING:
    from smtpfake.logging_observer import EventLog

#: the milliseconds of a stamp, and its Z: "000Z" .. "999Z" (filled by :func:`tables`)
MILLI_Z: list[str] = []
#: the same by the millisecond as a float (:func:`milli_of`: 0.0 -> "000Z" .. 999.0 -> "999Z"),
#: with the span of times the millisecond surely holds, as offsets from its second (seconds):
#: from 2 microseconds after its start to 2 before its end. A time ``t`` with ``low <= t -
#: second < high`` has that millisecond, whatever the rounding (t - second is exact, and half an
#: ulp of a time before the year 2514 is under 2 microseconds): the hot loops compare a line's
#: time with the last line's span and look up no stamp while it is within (at full speed, most
#: lines follow the last within its millisecond). Filled by :func:`tables`; until then empty, so
#: every look-up misses and the stamp is made the slow way (EventLog._stamp_anew), which fills it
MILLI_SPAN: dict[float, tuple[str, float, float]] = {}
#: the same without the spans: :func:`milli_of` -> "000Z" .. "999Z" (filled by :func:`tables`)
MILLI_OF: dict[float, str] = {}


def tables() -> None:
    """Fill :data:`MILLI_Z` and :data:`MILLI_SPAN`, once: at a log's first stamp, not at import
    (some 5 million instructions that ``serve --quiet`` and the sidecar, which stamp no line,
    never spend). In place (the hot loops hold them), each in one C call: a thread that reads
    them meanwhile finds all or nothing."""
    if MILLI_SPAN:
        return
    # made in C by itertools and map (an f-string for each was some 3 million instructions)
    milli_z = list(map("".join, product("0123456789", "0123456789", "0123456789", "Z")))
    spans = dict(
        zip(
            map(float, range(1000)),
            zip(
                milli_z,  # (milli * 1000 + 2) / 1e6 and (milli * 1000 + 998) / 1e6, made in C
                map(truediv, range(2, 1_000_000, 1000), repeat(1e6)),
                map(truediv, range(998, 1_000_000, 1000), repeat(1e6)),
                strict=True,
            ),
            strict=True,
        )
    )
    MILLI_Z[:] = milli_z
    MILLI_OF.update(zip(spans, milli_z, strict=True))
    MILLI_SPAN.update(spans)


#: 2**52 + 2**51: a float below 2**51 in size added to it and taken off again is rounded to a
#: whole number, half to even (IEEE 754's default rounding), with no Python call
EVEN = 6755399441055744.0


def milli_of(t: float, second: float) -> float:
    """The millisecond of ``t`` (seconds) within ``second`` (a whole number of seconds >= 0):
    0.0 to 999.0 when ``t`` is in that second, as ``datetime.fromtimestamp`` finds it (the
    fraction, exact here, times 1e6 rounded half to even to the microsecond); anything else
    (not a key of :data:`MILLI_SPAN`) for a time outside it, or carried into the next second.
    The hot loops below inline it."""
    return ((t - second) * 1e6 + EVEN - EVEN) // 1000.0


#: printable texts a log remembers at most (Lines.known)
KNOWN = 1024

#: lines made and not yet written: (sort key, text ending in a newline)
Ready = list[tuple[float, str]]
#: a JSON line's fields after ``session``: a dict, or (an accepted message's, made at once) the
#: members as json.JSONEncoder(ensure_ascii=False) writes them, without the braces
Fields = dict[str, Any] | str
#: a violation's or message's line held back (event_order): (time, event, line, JSON fields)
Later = tuple[float, str, str, Fields]

_KEY = itemgetter(0)
_TEXT = itemgetter(1)
_NEVER = float("-inf")


#: a JSON object's member names as encoded, each with its ": " (a few dozen: the events' fields)
_NAMES: dict[str, str] = {}


def json_object(fields: dict[str, Any], encode: Callable[[str], str]) -> str | None:
    """``fields`` as ``json.JSONEncoder(ensure_ascii=False).encode`` writes them, for the flat
    objects of the log (strings, whole and finite numbers, None, lists of strings), without its
    generic machinery; ``encode``: json's encode_basestring. None for anything else."""
    parts: list[str] = []
    for name, value in fields.items():
        kind = type(value)
        if kind is str:
            shown = encode(value)
        elif kind is int:
            shown = int.__repr__(value)
        elif kind is float and value - value == 0:  # finite (JSON's own NaN, Infinity aside)
            shown = float.__repr__(value)
        elif value is None:
            shown = "null"
        elif kind is bool:
            shown = "true" if value else "false"
        elif kind is list and all(type(item) is str for item in value):
            shown = "[" + ", ".join(map(encode, value)) + "]"
        else:
            return None
        head = _NAMES.get(name)
        if head is None:
            head = _NAMES[name] = f"{encode(name)}: "
        parts.append(head + shown)
    return "{" + ", ".join(parts) + "}"


def by_time(ready: Ready) -> str:
    """The lines of ``ready`` in the order of their keys (ties: as made), joined; empties it."""
    ready.sort(key=_KEY)  # stable: each session's lines stay in its order
    text = "".join(map(_TEXT, ready))
    ready.clear()
    return text


def entry_fields(entry: TranscriptEntry) -> tuple[Any, ...]:
    """``entry`` as the journal keeps it: (time, side, text, rule), and (delivered, written,
    event, note) when they are not the defaults, and endings when set."""
    head = (entry.time, entry.side, entry.text, entry.rule)
    if entry.endings:
        return (*head, entry.delivered, entry.written, entry.event, entry.note, entry.endings)
    if entry.delivered and entry.written is None and not entry.event and not entry.note:
        return head
    return (*head, entry.delivered, entry.written, entry.event, entry.note)


class Followed:
    """A session the log follows: the journal's list of its entries and how far it was read.
    A plain class (one is made per session; a dataclass with slots costs some 1.5 million
    instructions to define, at serve's start)."""

    __slots__ = ("dropped", "entries", "held", "info", "key", "logged", "tails", "who")

    def __init__(self, info: SessionInfo, entries: list[tuple[Any, ...]], who: str) -> None:
        self.info = info
        #: the journal's transcript list of the session (a list of its own if the journal keeps
        #: none)
        self.entries = entries
        #: ``session N `` (and ``[tag] ``): what follows a text line's time
        self.who = who
        #: ``entries[:logged]`` have their lines made
        self.logged = 0
        #: the latest time of its lines so far: their sort key
        self.key = _NEVER
        #: entries that left the front of ``entries`` (the journal's entries limit): the number
        #: of ``entries[i]`` in the session is ``dropped + i``
        self.dropped = 0
        #: the violation and message lines held back until their place in the transcript
        #: (event_order.place), in the order held; None until one is
        self.held: list[Held[Later]] | None = None
        #: a JSON line's members after its text (``"session": N, "side": "client", ``), a
        #: client's and a server's; None until the first is made
        self.tails: tuple[str, str, str, str] | None = None

    def recorded(self) -> int:
        """How many entries the session has recorded."""
        return self.dropped + len(self.entries)


class Lines:
    """Makes the lines of ``log`` (its format and stamps) for sessions; ``tag``: a server on
    demand's id (``[tag]`` before each text line's event, ``server`` in JSON)."""

    def __init__(self, log: EventLog, tag: str | None) -> None:
        self.log = log
        self.tag = tag
        self.json = log.format == "json"
        #: texts of entries found printable (str.isprintable: some 500 instructions a line, a
        #: set's look-up some 100): most repeat (the replies, a test's commands); at most
        #: :data:`KNOWN` of them, then forgotten all at once
        self.known: set[str] = set()
        self.encode: Callable[[str], str] = str
        self._server = ""  # JSON: the server's member, and its ", "
        if self.json:
            from json.encoder import encode_basestring  # C, as json.JSONEncoder uses it

            self.encode = encode_basestring
            if tag is not None:
                self._server = f'"server": {encode_basestring(tag)}, '

    def follow(self, info: SessionInfo, entries: list[tuple[Any, ...]]) -> Followed:
        """The log's state of a session whose entries the journal keeps in ``entries``."""
        who = (
            f"session {info.index} " if self.tag is None else f"session {info.index} [{self.tag}] "
        )
        return Followed(info, entries, who)

    def event(
        self,
        ready: Ready,
        followed: Followed,
        event: str,
        time: float,
        line: str,
        fields: Fields,
    ) -> None:
        """A session's event that is not a transcript entry (connect, violation, ...)."""
        key = followed.key
        if time > key:
            key = followed.key = time
        if not self.json:
            if line.isprintable():  # nearly always: no multi-line text, nothing to show as \xNN
                # EventLog.stamp inline (its call was some 2k instructions of a line's 7k): the
                # millisecond within its last second, else the stamp the slow way
                base, stamp, _ = self.log.second
                milli = MILLI_OF.get(((time - base) * 1e6 + EVEN - EVEN) // 1000.0)
                if milli is None:
                    stamp, milli = self.log.stamp(time), ""
                ready.append((key, f"{stamp}{milli} {followed.who}{line}\n"))
            else:
                stamp = self.log.stamp(time)
                ready.append((key, self._text_line(stamp, followed.who, visible(line))))
            return
        if self.tag is not None:  # "server" first, as the fields of the sidecar's own lines
            line = f"[{self.tag}] {line}"
        # EventLog.line's JSON: time, ts, event, text, [server,] session, then ``fields``
        if isinstance(fields, str):
            members = ", " + fields
        elif fields:
            rest = json_object(fields, self.encode)
            if rest is None:  # a field json_object does not write: the whole line the slow way
                head = {"server": self.tag} if self.tag is not None else {}
                every = {**head, "session": followed.info.index, **fields}
                ready.append((key, self.log.line(event, time, line, **every)))
                return
            members = ", " + rest[1:-1]
        else:
            members = ""
        stamp = self.log.stamp(time)  # first: the ts is quickest in the stamp's second
        ready.append(
            (
                key,
                f'{{"time": "{stamp}", "ts": {self.log.ts(time)}, "event": "{event}", '
                f'"text": {self.encode(line)}, {self._server}"session": {followed.info.index}'
                f"{members}}}\n",
            )
        )

    def take(self, ready: Ready, followed: Followed) -> None:
        """The lines of the entries ``followed``'s session recorded since the last take."""
        entries = followed.entries
        logged, end = followed.logged, len(entries)  # the session may be appending meanwhile
        if logged < end:
            followed.logged = end
            if followed.held or self.json:
                self.entries(ready, followed, entries[logged:end], followed.dropped + logged)
            else:  # nearly always
                self._text_entries(ready, followed, entries[logged:end])

    def entries(
        self, ready: Ready, followed: Followed, new: Sequence[tuple[Any, ...]], first: int
    ) -> None:
        """The lines of the entries ``new`` of ``followed``'s session (``new[0]`` its entry
        number ``first``), each held line just before the entry event_order places it."""
        lines = self._json_entries if self.json else self._text_entries
        held = followed.held
        if not held:  # nearly always: nothing of this session waits
            lines(ready, followed, new)
            return
        if len(held) == 1:  # an accepted message, nearly always: place()'s first step inline
            at, number, (_, event, line, fields) = held[0]
            cut = number - first
            if 0 <= cut < len(new) and new[cut][0] >= at:  # the next entry is its place
                held.clear()
                # one loop over all of ``new`` (one line each), then the event's line moved to
                # its place, with the sort key it has there (the later entries' are the same:
                # new[cut] is stamped at or after it): a loop's call and two slices fewer
                start, before = len(ready), followed.key
                lines(ready, followed, new)
                after, followed.key = followed.key, ready[start + cut - 1][0] if cut else before
                self.event(ready, followed, event, at, line, fields)
                followed.key = after
                ready.insert(start + cut, ready.pop())
                return
            if cut >= len(new):  # its place is still to come (place() finds none)
                lines(ready, followed, new)
                return
        start = 0
        for cut, due in place(held, new, first):
            lines(ready, followed, new[start:cut])
            for at, event, line, fields in due:
                self.event(ready, followed, event, at, line, fields)
            start = cut
        lines(ready, followed, new[start:] if start else new)

    def hold(self, followed: Followed, later: Later) -> None:
        """Hold ``later`` back until its place among the entries the session records next."""
        if followed.held is None:
            followed.held = []
        followed.held.append((later[0], followed.dropped + len(followed.entries), later))

    def _text_entries(
        self, ready: Ready, followed: Followed, new: Sequence[tuple[Any, ...]]
    ) -> None:
        # the hot loop of the text log: bytecodes are its cost (some 20-40 instructions each,
        # more than an f-string's pieces), so the common entry takes the fewest
        log, who, key = self.log, followed.who, followed.key
        base, head, _ = log.second  # EventLog.stamp inline: its last second
        at, lo, hi, milli = log.window  # and its last millisecond's (MILLI_SPAN)
        if at != base:
            lo, hi = 1.0, 0.0  # none
        stamp = head  # a line's time up to its millisecond: set only when that changes
        known = self.known
        for kept in new:
            t = kept[0]
            y = t - base  # exact (the same second, give or take one)
            if not lo <= y < hi:  # another millisecond than the last line's
                try:
                    milli, lo, hi = MILLI_SPAN[(y * 1e6 + EVEN - EVEN) // 1000.0]  # milli_of
                    stamp = head
                except KeyError:  # another second
                    stamp, milli, lo, hi = log.stamp(t), "", 1.0, 0.0
                    base, head, _ = log.second
            if t > key:
                key = t
            text = kept[2]
            # nearly every entry: printable, no rule, delivered whole (a note: marked *)
            if not kept[3] and (text in known or self._printable(text)):
                if len(kept) == 4:
                    if kept[1] == "client":
                        ready.append((key, f"{stamp}{milli} {who}C: {text}\n"))
                    else:
                        ready.append((key, f"{stamp}{milli} {who}S: {text}\n"))
                    continue
                if kept[4] and kept[7]:  # TranscriptEntry.note
                    mark = "C* " if kept[1] == "client" else "S* "
                    ready.append((key, f"{stamp}{milli} {who}{mark}{text}\n"))
                    continue
            ready.append((key, self._text_entry(stamp + milli, who, kept)))
        followed.key = key
        if hi > lo:
            log.window = (base, lo, hi, milli)

    def _printable(self, text: str) -> bool:
        """``text.isprintable()``, and remembered in :attr:`known` when so."""
        if not text.isprintable():
            return False
        if len(self.known) >= KNOWN:  # (the queue ids' replies never repeat)
            self.known.clear()
        self.known.add(text)
        return True

    def _text_entry(self, stamp: str, who: str, kept: tuple[Any, ...]) -> str:
        """The line(s) of an entry with a rule, a note, not delivered whole, or text to show."""
        text = kept[2]
        # a client's ESC sequence or NUL is shown, never played (smtpfake.visible)
        arrow = "C" if kept[1] == "client" else "S"
        arrow += "* " if len(kept) > 4 and kept[7] else ": "
        cut = ""
        endings = kept[8] if len(kept) > 8 else ()  # a reply's not all CRLF: tagged
        if len(kept) > 4 and not kept[4]:  # not delivered whole: as format() shows it
            text, cut = cut_short(kept[1], text, kept[5], endings)
        elif endings:
            text = tag_endings(text, endings)
        if "\n" in text:  # a multi-line reply: each line as it went on the wire
            text = text.replace("\n", "\n" + arrow)
        line = f"{arrow}{text}"
        if kept[3]:
            line += f"   [{kept[3]}]"
        line += cut
        return self._text_line(stamp, who, visible(line))

    @staticmethod
    def _text_line(stamp: str, who: str, line: str) -> str:
        """``STAMP WHO LINE``, and so for each line of a multi-line ``line``: every line of the
        log says when and which session (and greps whole)."""
        if "\n" in line:
            return "".join(f"{stamp} {who}{part}\n" for part in line.split("\n"))
        return f"{stamp} {who}{line}\n"

    def _json_entries(
        self, ready: Ready, followed: Followed, new: Sequence[tuple[Any, ...]]
    ) -> None:
        # {"time", "ts", "event", "text", ["server",] "session", "side", "rule", ["delivered",
        # "written",] ["note"]}: the fields and order of EventLog.line's JSON for an entry; what
        # follows the text is the session's and the side's, made once a session (and for the
        # common entry, no rule and nothing after it, the line's whole end: fewer pieces to join)
        encode = self.encode
        tails = followed.tails
        if tails is None:
            session = f'{self._server}"session": {followed.info.index}, "side": '
            tails = followed.tails = (
                f'{session}"client", "rule": ',
                f'{session}"server", "rule": ',
                f'{session}"client", "rule": null}}\n',
                f'{session}"server", "rule": null}}\n',
            )
        client, server, client_plain, server_plain = tails
        log, key = self.log, followed.key
        spans, even = MILLI_SPAN, EVEN
        base, head, dotted = log.second  # EventLog.stamp and .ts inline: its last second
        at, lo, hi, milli = log.window  # and its last millisecond's (MILLI_SPAN)
        if at != base or not dotted:
            lo, hi = 1.0, 0.0  # none
        # a line's time up to its millisecond, and its ts up to its tenths of a microsecond:
        # changed only when the millisecond is (a line within the last one's sets neither)
        stamp, whole = head, dotted
        for kept in new:
            t = kept[0]
            y = t - base  # exact (the same second, give or take one)
            if lo <= y < hi:  # the last line's millisecond: surely within the second
                tenths = "%07d" % (y * 1e7 + even - even)  # noqa: UP031
            else:
                span = spans.get((y * 1e6 + even - even) // 1000.0)  # milli_of
                if span is not None and dotted and y >= 0.0:
                    milli, lo, hi = span
                    stamp, whole = head, dotted
                    tenths = "%07d" % (y * 1e7 + even - even)  # noqa: UP031
                else:  # another second (or one whose ts is its repr)
                    stamp, milli, lo, hi = log.stamp(t), "", 1.0, 0.0
                    base, head, dotted = log.second
                    whole, tenths = "", log.ts(t)
            if t > key:
                key = t
            rule = kept[3]
            if rule is None and len(kept) == 4:  # nearly every entry
                if kept[1] == "client":
                    ready.append(
                        (
                            key,
                            f'{{"time": "{stamp}{milli}", "ts": {whole}{tenths}, "event": '
                            f'"command", "text": {encode(kept[2])}, {client_plain}',
                        )
                    )
                else:
                    ready.append(
                        (
                            key,
                            f'{{"time": "{stamp}{milli}", "ts": {whole}{tenths}, "event": '
                            f'"reply", "text": {encode(kept[2])}, {server_plain}',
                        )
                    )
                continue
            end = "}\n"
            if len(kept) > 4:
                if len(kept) > 8:  # a reply's line endings, not all CRLF: last, as the API's
                    end = f', "endings": [{", ".join(map(encode, kept[8]))}]{end}'
                if kept[7]:
                    end = ', "note": true}\n'
                if not kept[4]:
                    written = "null" if kept[5] is None else kept[5]  # (a client line: null)
                    end = f', "delivered": false, "written": {written}{end}'
            event, tail = ("command", client) if kept[1] == "client" else ("reply", server)
            ready.append(
                (
                    key,
                    f'{{"time": "{stamp}{milli}", "ts": {whole}{tenths}, "event": "{event}", '
                    f'"text": {encode(kept[2])}, {tail}'
                    f"{'null' if rule is None else encode(rule)}{end}",
                )
            )
        followed.key = key
        if hi > lo:
            log.window = (base, lo, hi, milli)

    def release(self, ready: Ready, followed: Followed) -> None:
        """Every line the session still holds back (it ended, or the journal let it go)."""
        if followed.held:
            for _, _, (at, event, line, fields) in followed.held:
                self.event(ready, followed, event, at, line, fields)
            followed.held.clear()
