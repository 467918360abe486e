"""Reading ``server:``: the ServerSettings of a scenario, with its ``tls:`` and ``auth:``.

A new ServerSettings field is read in :meth:`SettingsReader.server`.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from smtpfake.scenario.limits import (
    MAX_HOSTNAME_OCTETS,
    MAX_REPLY_LINE_OCTETS,
    MAX_REPLY_LINES,
)
from smtpfake.scenario.model import (
    AUTH_MECHANISMS,
    BARE_CR_POLICIES,
    BARE_LF_POLICIES,
    IDLE_CLOSES,
    AuthSettings,
    ServerSettings,
    TlsSettings,
    ehlo_keyword,
)
from smtpfake.scenario.nodes import MAP_TAG, MappingNode, Node, ScalarNode, SequenceNode
from smtpfake.scenario.reply import check_text
from smtpfake.scenario.yamlwalk import (
    INVALID,
    Walker,
    describe,
    did_you_mean,
    is_null,
    is_text,
    kind,
    rejected,
)

SERVER_KEYS = tuple(f.name for f in dataclasses.fields(ServerSettings))
AUTH_KEYS = tuple(f.name for f in dataclasses.fields(AuthSettings))
#: EHLO keywords of registered SMTP extensions (IANA), for typos in extensions_remove
KNOWN_KEYWORDS = (
    *("PIPELINING", "SIZE", "STARTTLS", "AUTH", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"),
    *("DSN", "HELP", "CHUNKING", "BINARYMIME", "ETRN", "VRFY", "EXPN", "DELIVERBY", "REQUIRETLS"),
    *("MT-PRIORITY", "FUTURERELEASE", "LIMITS", "ATRN", "BURL", "CHECKPOINT", "RRVS", "TURN"),
)
#: RFC 5321 §4.1.1.1: ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"),
#: ehlo-param = 1*(%d33-126), joined by single spaces
EHLO_LINE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*( [!-~]+)*")
TLS_KEYS = tuple(f.name for f in dataclasses.fields(TlsSettings) if f.name != "location")


class SettingsReader(Walker):
    def server(self, node: Node) -> Any:
        kw: dict[str, Any] = {}
        nodes: dict[str, Node] = {}
        removals: list[tuple[Node, str]] = []
        entries = self.mapping(node, "server")
        for key, key_node, value in entries:
            what = f"server.{key}"
            if key in ("hostname", "greeting"):
                kw[key] = self.wire_text(value, what)
                nodes[key] = value
            elif key in ("extensions", "extensions_add", "extensions_remove"):
                if rejected(value):
                    kw[key] = INVALID
                    continue
                if not isinstance(value, SequenceNode):
                    self.problem(
                        value, f"{what}: expected a list of EHLO keywords, got {kind(value)}"
                    )
                    continue
                exts = [self.ehlo_line(n, what, key) for n in value.value]
                kw[key] = INVALID if INVALID in exts else tuple(exts)
                if key == "extensions_remove":
                    removals = list(zip(value.value, kw[key], strict=True))
            elif key in ("require_helo", "strict_envelope"):
                kw[key] = self.boolean(value, what)
            elif key in ("max_recipients", "max_message_bytes"):
                kw[key] = self.integer(value, what, 1)
            elif key in ("idle_timeout", "close_after", "retry_after"):
                kw[key] = self.timer_seconds(value, what)
            elif key == "bare_lf":
                kw[key] = self.choice(value, what, BARE_LF_POLICIES)
            elif key == "bare_cr":
                kw[key] = self.choice(value, what, BARE_CR_POLICIES)
            elif key == "idle_close":
                kw[key] = self.choice(value, what, IDLE_CLOSES)
                if kw[key] != "reply" and "idle_timeout" not in {k for k, _, _ in entries}:
                    self.problem(value, f"{what}: set idle_timeout too (the seconds of silence)")
            elif key == "auth":
                kw[key] = self.auth(value, what)
            elif key == "tls":
                kw[key] = self.tls(value, what)
            else:
                self.unknown_key(key_node, key, SERVER_KEYS, "server")
        if any(v is INVALID for v in kw.values()):
            return INVALID
        settings = ServerSettings(**kw)
        if not self.greeting_fits(settings, nodes):
            return INVALID
        lines = 1 + max(len(settings.advertised(tls_active=t)) for t in (False, True))
        if lines > MAX_REPLY_LINES:
            self.problem(
                node,
                f"server: the EHLO reply would have {lines} lines; a reply has at most "
                f"{MAX_REPLY_LINES} (the hostname line and {MAX_REPLY_LINES - 1} extensions)",
            )
            return INVALID
        self.removals(settings, removals)
        return settings

    def wire_text(self, node: Node, what: str) -> Any:
        """``hostname`` (one word, RFC 5321 §4.1.2 Domain or address literal, at most 255
        octets) or ``greeting`` (reply text, RFC 5321 §4.2): both go on the wire as written."""
        text = self.string(node, what)
        if text is INVALID:
            return INVALID
        why = check_text(text)
        if why is None and what == "server.hostname":
            if not text or not all("!" <= ch <= "~" for ch in text):
                why = "a hostname is one word of printable ASCII (e.g. mx.example.test)"
            elif len(text) > MAX_HOSTNAME_OCTETS:
                why = f"a hostname is at most {MAX_HOSTNAME_OCTETS} octets (RFC 1035 §2.3.4)"
        if why:
            self.problem(node, f"{what}: {why}")
            return INVALID
        return text

    def greeting_fits(self, settings: ServerSettings, nodes: dict[str, Node]) -> bool:
        """The 220 line is ``220 hostname greeting`` and must fit in 512 octets (§4.5.3.1.5)."""
        room = MAX_REPLY_LINE_OCTETS - len("220 \r\n") - len(settings.hostname) - 1
        why = check_text(settings.greeting, room=room)
        if why is None:
            return True
        node = nodes.get("greeting") or nodes.get("hostname")
        if node is not None:
            self.problem(node, f"server.greeting: with the hostname before it, {why}")
        return False

    def ehlo_line(self, node: Node, what: str, key: str) -> Any:
        """One EHLO line: ``ehlo-keyword *(SP ehlo-param)`` (RFC 5321 §4.1.1.1); a keyword
        alone for ``extensions_remove``. Read as written, but for surrounding spaces."""
        value = self.typed(node, what, is_text, "an EHLO keyword")
        if value is INVALID:
            return INVALID
        line = str(value).strip()
        if key == "extensions_remove":
            return line  # compared with the advertised keywords in removals()
        if not EHLO_LINE_RE.fullmatch(line):
            bad = check_text(line) or (
                "expected KEYWORD [PARAM ...]: a keyword of letters, digits and '-' (starting "
                "with a letter or digit), then parameters of printable ASCII, each after one "
                "space (RFC 5321 §4.1.1.1)"
            )
            self.problem(node, f"{what}: {line!r}: {bad}")
            return INVALID
        if len(line) > MAX_REPLY_LINE_OCTETS - len("250-\r\n"):
            self.problem(
                node,
                f"{what}: {len(line)} octets is too long for one EHLO reply line (at most "
                f"{MAX_REPLY_LINE_OCTETS} with '250-' and CRLF, RFC 5321 §4.5.3.1.5)",
            )
            return INVALID
        return line

    def removals(self, settings: ServerSettings, removals: list[tuple[Node, str]]) -> None:
        """``extensions_remove`` names keywords. Removing one that is not advertised does
        nothing (``[STARTTLS]`` says "no TLS here" even on the default list), but one that is
        neither advertised nor a known keyword and looks like one of them is a typo."""
        every = dataclasses.replace(settings, extensions_remove=())
        offered = [
            ehlo_keyword(e)
            for tls_active in (False, True)
            for e in every.advertised(tls_active=tls_active)
        ]
        for node, keyword in removals:
            word = keyword.upper()
            hint = did_you_mean(word, dict.fromkeys([*offered, *KNOWN_KEYWORDS]))
            if " " in keyword:
                self.problem(
                    node,
                    f"server.extensions_remove: expected a keyword alone, got '{keyword}' "
                    f"(write '{ehlo_keyword(keyword)}')",
                )
            elif word not in offered and word not in KNOWN_KEYWORDS and hint:
                self.problem(
                    node,
                    f"server.extensions_remove: '{keyword}' is not an EHLO keyword{hint} "
                    f"(advertised: {', '.join(dict.fromkeys(offered)) or 'nothing'})",
                )

    def tls(self, node: Node, what: str) -> Any:
        """``server.tls``: true/false, or a mapping of TlsSettings fields (enabled by default)."""
        if isinstance(node, ScalarNode):
            on = self.typed(node, what, lambda v: isinstance(v, bool), "true, false or a mapping")
            return INVALID if on is INVALID else TlsSettings(on, location=self.loc(node))
        readers = {
            "enabled": self.boolean,
            "required": self.boolean,
            "implicit": self.boolean,
            "certificate": self.pem_file,
            "key": self.pem_file,
        }
        read, nodes = self.fields(node, what, readers, TLS_KEYS)
        kw = {"enabled": True, **read}
        if "key" in kw and "certificate" not in kw:
            self.problem(nodes["key"], f"{what}.key: a key needs its certificate (certificate:)")
            return INVALID
        if not isinstance(node, MappingNode) or any(v is INVALID for v in kw.values()):
            return INVALID
        return TlsSettings(**kw, location=self.loc(node))

    def pem_file(self, node: Node, what: str) -> Any:
        """A PEM file path, relative to the scenario file's folder; it must exist."""
        name = self.string(node, what)
        if name is INVALID:
            return INVALID
        source = Path(self.source)
        path = Path(name).expanduser()
        if not path.is_absolute() and source.is_file():
            path = source.parent / path
        if not path.is_file():
            self.problem(node, f"{what}: no such file: {str(path)!r}")
            return INVALID
        return str(path.resolve())

    def auth(self, node: Node, what: str) -> Any:
        """``server.auth``: null (no AUTH) or a mapping of AuthSettings fields."""
        if is_null(node):
            return None
        readers = {
            "mechanisms": self.mechanisms,
            "users": self.users,
            "required": self.boolean,
            "require_tls": self.boolean,
        }
        kw, _ = self.fields(node, what, readers, AUTH_KEYS)
        if not isinstance(node, MappingNode) or any(v is INVALID for v in kw.values()):
            return INVALID
        return AuthSettings(**kw)

    def mechanisms(self, node: Node, what: str) -> Any:
        if rejected(node):
            return INVALID
        if not isinstance(node, SequenceNode) or not node.value:
            got = "an empty list" if isinstance(node, SequenceNode) else kind(node)
            self.problem(
                node,
                f"{what}: expected a list of one or more of {', '.join(AUTH_MECHANISMS)}, "
                f"got {got}",
            )
            return INVALID
        out: list[str] = []
        for item in node.value:
            name = self.string(item, what)
            if name is INVALID:
                return INVALID
            if name not in AUTH_MECHANISMS:
                hint = (
                    f"; write it in capitals: '{name.upper()}'"
                    if name.upper() in AUTH_MECHANISMS
                    else did_you_mean(name.upper(), AUTH_MECHANISMS)
                )
                self.problem(
                    item,
                    f"{what}: unknown mechanism '{name}'{hint} "
                    f"(smtpfake implements: {', '.join(AUTH_MECHANISMS)})",
                )
                return INVALID
            if name in out:
                self.problem(item, f"{what}: '{name}' is listed twice")
                return INVALID
            out.append(name)
        return tuple(out)

    def users(self, node: Node, what: str) -> Any:
        """A mapping of username to password, both strings (a number must be quoted, since
        YAML would read 0123 as 83)."""
        if isinstance(node, MappingNode) and node.tag == MAP_TAG:
            pairs: list[tuple[str, str]] = []
            # Usernames are read as written, as every key is (YAML 1.1 would make `yes` True).
            for name, _, value in self.mapping(node, what):
                password = self.scalar(value, f"{what}.{name}")
                if password is INVALID:
                    return INVALID
                if not isinstance(password, str):
                    self.problem(
                        value,
                        f"{what}.{name}: a password must be a string, got {describe(password)} "
                        f"(quote it: '{value.value}')",
                    )
                    return INVALID
                pairs.append((name, password))
            return tuple(pairs)
        if not rejected(node):
            self.problem(
                node, f"{what}: expected a mapping of username to password, got {kind(node)}"
            )
        return INVALID

    def timer_seconds(self, node: Node, what: str) -> Any:
        """A number of seconds above 0, or null (unset)."""
        return None if is_null(node) else self.seconds(node, what)
