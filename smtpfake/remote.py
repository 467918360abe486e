"""A Python client for a sidecar's HTTP API, offering the same methods as :class:`SmtpFake`.

A suite written against the ``smtpfake`` fixture runs unchanged against a sidecar started by CI
(or by ``docker run``): ``RemoteSmtpFake("http://127.0.0.1:8025")`` answers ``messages``,
``sessions``, ``use``, ``reset`` and the waits with the same dataclasses, rebuilt from JSON by
:mod:`smtpfake.serialize`, and ``ca_file``/``client_ssl_context()`` for TLS scenarios. urllib
only: nothing beyond the standard library.
"""

from __future__ import annotations

import dataclasses
import functools
import http.client
import ipaddress
import json
import re
import shutil
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from smtpfake import arguments, wait_cancel
from smtpfake.control import Control, ControlHelpers
from smtpfake.engine.records import Message
from smtpfake.journal import JournalCounts, SessionRecord
from smtpfake.scenario import Location, Problem, Scenario, ScenarioError, ScenarioRef
from smtpfake.scenario.compose import too_big_message
from smtpfake.scenario.errors import cannot_read
from smtpfake.scenario.limits import MAX_SCENARIO_BYTES
from smtpfake.scenario.loader import plain
from smtpfake.scenario.use_errors import use_errors
from smtpfake.serialize import (
    JSON,
    ScenarioDescription,
    counts_from_json,
    message_from_json,
    options_from_json,
    problems_from_json,
    session_from_json,
)
from smtpfake.settling import refuse_blocking_wait

#: the most pages :meth:`RemoteSmtpFake.listed` reads (a journal keeps a bounded number of items;
#: each page holds at least one more)
MAX_PAGES = 10_000

#: the longest one ``POST /api/wait`` of an awaitable wait (``await_for_*``) lasts: its await's
#: cancel ends the wait after this much at most (each slice is one request)
_SLICE = 0.05


class RemoteError(RuntimeError):
    """The sidecar answered with an error (or could not be reached)."""

    def __init__(self, status: int, message: str, body: JSON | None = None) -> None:
        super().__init__(f"smtpfake sidecar: {status}: {message}" if status else message)
        self.status = status
        self.body = body or {}


class SidecarUnreachable(RemoteError):
    """No answer from the sidecar at all (refused, reset, timed out): status 0. ``reason`` is
    the network's word alone, for a caller that names the sidecar its own way."""

    def __init__(self, url: str, exc: OSError) -> None:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        super().__init__(0, f"cannot reach the smtpfake sidecar at {url}: {exc}")
        self.reason = str(reason)


#: the header naming the run that made a server on demand (smtpfake.http.guards.RUN_HEADER:
#: written out, so the client imports nothing of the sidecar's side)
RUN_HEADER = "X-Smtpfake-Run"


class SidecarRestarted(RemoteError):
    """The server on demand this client drives went with the sidecar's run that made it: the
    sidecar at the URL was restarted (410 to the ``X-Smtpfake-Run`` this client sent). A server
    of that id now, if any, is another client's; this one needs a new server."""


class NotASidecar(RemoteError):
    """What answers at the URL is not an smtpfake sidecar's API: an SMTP server (its port given
    for the API's), a web server that is not smtpfake, a reply cut short, bad JSON. One line
    naming the URL and what answered; ``status`` is the HTTP status if there was one. Waiting
    does not change it: the plugin's start-up check gives up at once."""

    def __init__(self, url: str, answered: str, status: int = 0) -> None:
        super().__init__(0, f"{url} is not an smtpfake sidecar's API: {answered}")
        self.status = status


def _not_http(exc: http.client.HTTPException) -> str:
    """What answered, for :class:`NotASidecar`: a status line like ``220 ...`` is SMTP's."""
    line = str(getattr(exc, "line", "")).strip()
    if re.match(r"[2-5][0-9][0-9]([ -]|$)", line):
        return (
            f"it answered like an SMTP server: {line[:80]!r}; that is the SMTP port, "
            "the API is on the port serve --api-port names"
        )
    if isinstance(exc, http.client.IncompleteRead):
        return f"its HTTP answer was cut short ({len(exc.partial)} bytes read)"
    return f"it answered something other than HTTP ({type(exc).__name__}: {str(exc)[:80]!r})"


def _refused_argument(excinfo: Any) -> bool:
    """For pytest (``__tracebackhide__``): a 400 is the caller's argument refused, so its
    traceback ends at the caller's line, as the in-process checks' do."""
    return isinstance(excinfo.value, RemoteError) and excinfo.value.status == 400


class RemoteMessage(Message):
    """A message of a sidecar's listing: its envelope and queue id at once, its data fetched
    from ``GET /api/messages/{id}/raw`` when first read (then kept), so a listing of large
    messages stays small. Reading the data of a message deleted or reset since the listing
    raises RemoteError (404)."""

    def __init__(self, summary: JSON, fetch: Callable[[int], bytes]) -> None:
        # a frozen dataclass: fields are set as its own __init__ sets them
        mail_options, rcpt_options = options_from_json(summary)
        for name, value in (
            ("mail_from", str(summary["mail_from"])),
            ("rcpt_tos", tuple(str(r) for r in summary["rcpt_tos"])),
            ("session", int(summary["session"])),
            ("time", float(summary["time"])),
            ("queue_id", str(summary["queue_id"])),
            ("mail_options", mail_options),
            ("rcpt_options", rcpt_options),
            ("id", int(summary["id"])),
            ("size", int(summary["size"])),
            ("_fetch", fetch),
        ):
            object.__setattr__(self, name, value)

    #: the id the API names it by (``/api/messages/{id}``)
    id: int
    #: the data's length in octets, from the listing: known without fetching the data
    size: int
    _fetch: Callable[[int], bytes]

    @functools.cached_property
    def data(self) -> bytes:  # the field, read on demand
        return self._fetch(self.id)

    def __repr__(self) -> str:
        """The record's fields, the data as far as it was read: a repr (a failing assert's
        report, a log line) never makes a request, so never raises RemoteError."""
        read = self.__dict__.get("data")  # where cached_property keeps it once read
        data = repr(read) if read is not None else f"<{self.size} octets, not read yet>"
        return (
            f"RemoteMessage(id={self.id}, mail_from={self.mail_from!r}, "
            f"rcpt_tos={self.rcpt_tos!r}, data={data}, session={self.session}, "
            f"time={self.time!r}, queue_id={self.queue_id!r}, "
            f"mail_options={self.mail_options!r}, rcpt_options={self.rcpt_options!r})"
        )

    def __reduce__(self) -> tuple[type[Message], tuple[Any, ...]]:
        """Pickled (pytest-xdist, multiprocessing) as the plain Message it stands for, its data
        read now: the client it reads through holds a lock and a connection."""
        return Message, tuple(getattr(self, f.name) for f in dataclasses.fields(Message))


def _check_client(url: Any, token: Any, timeout: Any, smtp_host: Any, smtp_port: Any) -> None:
    """RemoteSmtpFake()'s arguments (see :mod:`smtpfake.arguments`)."""
    __tracebackhide__ = True
    call = "RemoteSmtpFake"
    for name, value in (("url", url), ("token", token), ("smtp_host", smtp_host)):
        if not isinstance(value, str) and (value is not None or name == "url"):
            what = "the sidecar's API URL" if name == "url" else "None or a string"
            kind = type(value).__name__
            raise TypeError(f"{call}({name}={value!r}): expected {what}, not a {kind}")
    arguments.seconds(call, "timeout", timeout, high=arguments.MAX_SECONDS)
    if timeout == 0:  # urllib's 0 is "do not wait at all": every request would fail
        raise ValueError(f"{call}(timeout=0): expected seconds more than 0")
    arguments.whole(call, "smtp_port", smtp_port, low=1, high=65535, none=True)


def _token(token: str) -> str:
    """RemoteSmtpFake(token=...) cleaned; ValueError naming the argument for one no header
    can carry."""
    __tracebackhide__ = True
    from smtpfake.bearer_token import clean

    try:
        return clean(token)
    except ValueError as exc:
        raise ValueError(f"RemoteSmtpFake(token=...): {exc}") from None


def _param_text(value: Any) -> str:
    """A parameter's value as YAML writes it (true, 5, 2.5, 5m), for a query string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def wildcard_host(host: str) -> bool:
    """Whether ``host`` is an all-interfaces address (0.0.0.0, ::, ""): not one to connect to."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return host == ""


#: how fast a sidecar loads an uploaded scenario, at the least (a 1.27 MB scenario of 20,000
#: rules took 4 s; 100 KB/s leaves room for a slow machine): an upload's extra time to answer
UPLOAD_BYTES_PER_SECOND = 100_000


class RemoteSmtpFake(ControlHelpers):
    """Control of a sidecar over HTTP. ``url`` is the API's base (``http://host:8025``).

    ``host``/``port`` are where to send mail: the SMTP address the sidecar reports, except that
    a sidecar bound to all interfaces (0.0.0.0, in a container) is reached at the API's host.
    Give ``smtp_host``/``smtp_port`` when a port mapping makes them differ from what it reports.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        smtp_host: str | None = None,
        smtp_port: int | None = None,
    ) -> None:
        __tracebackhide__ = True
        _check_client(url, token, timeout, smtp_host, smtp_port)
        parts = urllib.parse.urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"expected the sidecar's API URL like http://127.0.0.1:8025, got {url!r}"
            )
        path = parts.path.removesuffix("/api")
        if path and not re.fullmatch(r"/api/servers/[^/]+", path):
            raise ValueError(
                f"expected the sidecar's API URL (http://host:port) or a server's URL "
                f"(http://host:port/api/servers/ID), got {url!r}"
            )
        #: the API's base; ``prefix`` is where this server's endpoints are (``/api`` for the
        #: sidecar's own, ``/api/servers/ID`` for a server on demand)
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.prefix = path or "/api"
        # a secret file's last newline dropped, as serve drops it (smtpfake.bearer_token)
        self.token = None if token is None else _token(token)
        self.timeout = timeout
        self._api_host = parts.hostname
        self._smtp_host = smtp_host
        self._smtp_port = smtp_port
        self._ca_lock = threading.Lock()
        self._ca_file: str | None = None
        self._seen_sidecar = False  # its health answered as a sidecar's (request())
        #: the sidecar's run that made the server on demand this client drives (new_server),
        #: sent with each request: a restarted sidecar answers 410, not with another's server
        self.run: str | None = None

    # -- transport -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: JSON | bytes | None = None,
        *,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
        timeout: float | None = None,
        ok: Sequence[int] = (200,),
        top: bool = False,
    ) -> tuple[int, JSON]:
        """One API call; returns (status, JSON body). A status outside ``ok`` raises RemoteError
        (400 or 413 from a scenario upload raises ScenarioError, as the in-process ``use`` does).
        ``top``: a path of the sidecar itself (``/api/servers``), not of this server."""
        __tracebackhide__ = _refused_argument
        if not self._seen_sidecar and path != "/api/health":
            # once: another JSON API on the URL is NotASidecar before any answer of it is read
            # as a sidecar's (a KeyError; a reset() or use() that "worked"; fresh15 F3)
            self.health()
            self._seen_sidecar = True
        status, _, raw = self._fetch(
            method, path, body, content_type=content_type, query=query, timeout=timeout, top=top
        )
        try:
            answer = json.loads(raw) if raw else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            said = f"{method} {path} answered {status} and not JSON: {raw[:200]!r}"
            raise NotASidecar(self.url, said, status) from None
        if not isinstance(answer, dict):
            said = f"{method} {path} answered {status} and not a JSON object: {answer!r:.200}"
            raise NotASidecar(self.url, said, status)
        if status not in ok:
            if status == 410 and self.run and not top:
                raise SidecarRestarted(status, str(answer.get("error", raw[:200])), answer)
            if status == 400 and "problems" in answer:
                raise problems_from_json(answer)
            if status == 413 and method == "PUT" and path == "/api/scenario":
                # a scenario over the size limit: the in-process use() raises ScenarioError too
                raise problems_from_json({"error": answer.get("error", raw[:200])})
            raise RemoteError(status, str(answer.get("error", raw[:200])), answer)
        return status, answer

    def _fetch(
        self,
        method: str,
        path: str,
        body: JSON | bytes | None = None,
        *,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
        timeout: float | None = None,
        accept: str = "application/json",
        top: bool = False,
    ) -> tuple[int, str, bytes]:
        """One HTTP exchange: (status, Content-Type, raw body), whatever the status. ``path`` is
        an endpoint of this server (``/api/wait``), sent under :attr:`prefix` (unless ``top``)."""
        url = self.url + (path if top else self.prefix + path.removeprefix("/api"))
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = {"Accept": accept}
        if data is not None:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.run and not top:
            headers[RUN_HEADER] = self.run
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                return resp.status, resp.headers.get_content_type(), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get_content_type(), exc.read()
        except (urllib.error.URLError, OSError) as exc:  # a closed connection, no answer too
            raise SidecarUnreachable(self.url, exc) from exc
        except http.client.HTTPException as exc:  # an answer, not HTTP: BadStatusLine, ...
            raise NotASidecar(self.url, _not_http(exc)) from None

    def events(self, timeout: float = 30.0) -> Generator[JSON, None, None]:
        """This server's events as they happen (``GET /api/events``, Server-Sent Events), each
        the JSON object of one ``data:`` line. Returns once the sidecar has subscribed the
        stream, so every event after the call is in it; iterate until you have what you wait
        for, then close the iterator. ``timeout`` bounds the wait for each line (the sidecar
        sends one at least every 15 s); past it, TimeoutError."""
        __tracebackhide__ = True
        arguments.seconds("events", "timeout", timeout, high=arguments.MAX_SECONDS)
        headers = {"Accept": "text/event-stream"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.run:
            headers[RUN_HEADER] = self.run
        req = urllib.request.Request(self.url + self.prefix + "/events", headers=headers)
        try:
            resp = urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as exc:
            raise RemoteError(exc.code, f"GET {self.prefix}/events: {exc.read()[:200]!r}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise SidecarUnreachable(self.url, exc) from exc
        except http.client.HTTPException as exc:
            raise NotASidecar(self.url, _not_http(exc)) from None
        lines = (raw.decode("utf-8").rstrip("\r\n") for raw in resp)
        for line in lines:  # up to the hello: the stream is subscribed
            if line.startswith("data: "):
                break
        return self._events(resp, lines)

    @staticmethod
    def _events(resp: Any, lines: Iterator[str]) -> Generator[JSON, None, None]:
        with resp:
            for line in lines:
                if line.startswith("data: "):
                    yield json.loads(line[len("data: ") :])

    def health(self) -> JSON:
        """The readiness answer (``status`` "ready" when SMTP is listening); never raises on 503.
        NotASidecar for JSON without the sidecar's ``status`` and ``smtp`` (another web API)."""
        body = self.request("GET", "/api/health", ok=(200, 503))[1]
        if not isinstance(body.get("status"), str) or not isinstance(body.get("smtp"), dict):
            said = f"GET {self.prefix}/health answered {body!r:.200}, not a sidecar's health"
            raise NotASidecar(self.url, said)
        return body

    # -- the Control interface -------------------------------------------------------------------

    @property
    def host(self) -> str:
        if self._smtp_host is None:
            reported = str(self.health()["smtp"]["host"])
            self._smtp_host = self._api_host if wildcard_host(reported) else reported
        return self._smtp_host

    @property
    def port(self) -> int:
        if self._smtp_port is None:
            self._smtp_port = int(self.health()["smtp"]["port"])
        return self._smtp_port

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def ca_file(self) -> str:
        """The CA certificate (PEM file) that issued the sidecar's generated TLS certificates.

        Downloaded once (``GET /api/tls/ca``) into a temporary file removed with this object: the
        sidecar keeps one CA for its lifetime. The first read needs a scenario with ``server.tls``
        and no certificate of its own in force; otherwise it raises RemoteError (404)."""
        with self._ca_lock:
            if self._ca_file is None:
                self._ca_file = self._download_ca()
            return self._ca_file

    def _download_ca(self) -> str:
        status, ctype, raw = self._fetch("GET", "/api/tls/ca", accept="application/x-pem-file")
        if status != 200:
            try:
                answer = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError):
                answer = {"error": repr(raw[:200])}
            body = answer if isinstance(answer, dict) else {"error": repr(answer)}
            raise RemoteError(status, str(body.get("error", "no CA")), body)
        if ctype != "application/x-pem-file" or b"-----BEGIN CERTIFICATE-----" not in raw:
            raise RemoteError(status, f"not a PEM certificate from GET /api/tls/ca: {raw[:200]!r}")
        folder = tempfile.mkdtemp(prefix="smtpfake-remote-ca-")
        weakref.finalize(self, shutil.rmtree, folder, True)
        path = Path(folder) / "ca.pem"
        path.write_bytes(raw)
        return str(path)

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts :attr:`ca_file`, hostname checks on: pass it to
        ``smtplib.SMTP.starttls(context=...)`` or aiosmtplib's ``tls_context``."""
        return ssl.create_default_context(cafile=self.ca_file)

    @property
    def scenario_name(self) -> str:
        return str(self.scenario["name"])

    @property
    def scenario(self) -> ScenarioDescription:
        """The scenario in force as the API describes it (name, summary, expect, rules, ...), as
        the in-process fixture's; ``scenario()``, the older spelling, still reads."""
        return ScenarioDescription(self.request("GET", "/api/scenario")[1])

    def _rule_labels(self) -> tuple[str, ...]:
        """For the rule-name check of sessions_where and assert_sent (ControlHelpers)."""
        return tuple(str(r["label"]) for r in self.scenario.get("rules") or ())

    def scenarios(self) -> list[JSON]:
        return list(self.request("GET", "/api/scenarios")[1]["scenarios"])

    def _message(self, summary: JSON) -> Message:
        """A message of a listing: whole when it carries its data, else fetched on demand."""
        if "data_base64" in summary:
            return message_from_json(summary)
        return RemoteMessage(summary, self.raw)

    def raw(self, message_id: int) -> bytes:
        """The data of message ``message_id`` as received (``GET /api/messages/{id}/raw``)."""
        __tracebackhide__ = True
        arguments.whole("raw", "message_id", message_id, low=0, high=2**63 - 1)
        path = f"/api/messages/{message_id}/raw"
        status, _, raw = self._fetch("GET", path, accept="message/rfc822")
        if status != 200:
            try:
                error = json.loads(raw).get("error", "")
            except (ValueError, AttributeError):
                error = repr(raw[:200])
            raise RemoteError(status, f"GET {path}: {error}")
        return raw

    def listed(self, what: str) -> list[JSON]:
        """Every item of ``GET /api/{what}`` (``messages``, ``sessions``), oldest first, page by
        page: a page holds at most the API's 10,000, and a sidecar's journal may keep more
        (``serve --journal-messages``). Items that arrive meanwhile may be included."""
        items: list[JSON] = []
        for _ in range(MAX_PAGES):
            query = {"offset": str(len(items))}
            body = self.request("GET", f"/api/{what}", query=query)[1]
            page = list(body[what])
            items += page
            if not page or len(items) >= int(body["total"]):
                break
        return items

    @property
    def messages(self) -> tuple[Message, ...]:
        """The kept messages (summaries; each one's data is fetched when first read)."""
        return tuple(self._message(m) for m in self.listed("messages"))

    @property
    def sessions(self) -> tuple[SessionRecord, ...]:
        listed = self.listed("sessions")
        return tuple(session_from_json(s, message=self._message) for s in listed)

    @property
    def counts(self) -> JournalCounts:
        """Sessions and messages seen, kept and dropped since the last reset (GET /api/journal),
        settled first as every read is."""
        self._read_settle()
        return counts_from_json(self.request("GET", "/api/journal")[1])

    def use(
        self,
        scenario: ScenarioRef,
        *,
        seed: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        """A name switches to the sidecar's scenario; a path or a dict is uploaded as YAML.
        ``params`` sets the scenario's parameters by name (``{"delay": "5m"}``); problems as
        in-process (see :func:`smtpfake.scenario.use_errors.use_errors`)."""
        __tracebackhide__ = True
        arguments.use(scenario, seed, params)
        with use_errors(scenario, params):
            self._use(scenario, seed, params)

    def _use(
        self, scenario: ScenarioRef, seed: int | None, params: Mapping[str, Any] | None
    ) -> None:
        __tracebackhide__ = True
        if isinstance(scenario, Scenario):
            raise TypeError(
                "a Scenario object cannot be sent to a sidecar; give a name, a YAML path or a dict"
            )
        query: dict[str, str] = {} if seed is None else {"seed": str(seed)}
        # an upload's parameters travel as param.NAME=VALUE, in their YAML spelling
        query |= {f"param.{k}": _param_text(v) for k, v in (params or {}).items()}
        if isinstance(scenario, dict):
            # as load_mapping does in-process: summary/expect optional, problems at <name>
            name = str(scenario.get("name", "inline"))
            try:
                text = yaml.safe_dump(plain(scenario), sort_keys=False)
            except yaml.YAMLError as exc:
                where = Location(f"<{name}>", 0, 0)  # the dict as a whole: it has no lines
                raise ScenarioError([Problem(where, f"cannot read: {exc}")]) from None
            extra = {"name": name, "source": f"<{name}>", "require_docs": "false"}
            # problems by key path, as in-process (use_errors): a line:col would point into
            # this YAML copy
            self._upload(text, query | extra)
            return
        ref = str(scenario)
        if isinstance(scenario, Path) or ref.endswith((".yaml", ".yml")) or "/" in ref:
            path = Path(ref)
            try:
                raw = path.read_bytes()
                if len(raw) > MAX_SCENARIO_BYTES:  # told at the file, as in-process, not a 413
                    raise ScenarioError([Problem(Location(ref, 0, 0), too_big_message(len(raw)))])
                text = raw.decode("utf-8")  # a bad byte told at its line:col
            except (OSError, UnicodeDecodeError) as exc:
                raise cannot_read(ref, exc) from None  # as in-process
            # the file's own name in problems, so file:line:col points at the caller's file
            self._upload(text, query | {"name": path.stem, "source": ref})
            return
        body: JSON = {"name": ref} if seed is None else {"name": ref, "seed": seed}
        if params is not None:
            body["params"] = dict(params)
        # a 400 names the request's fields (name: no scenario named ...; params.delay: ...)
        self.request("PUT", "/api/scenario", body)

    def _upload(self, text: str, query: dict[str, str]) -> None:
        data = text.encode()
        # the sidecar answers once the scenario is loaded, some 0.4 ms a rule (40,000 rules:
        # 16 s): a big upload gets time for that, or the call fails while the switch is made
        wait = self.timeout + len(data) / UPLOAD_BYTES_PER_SECOND
        self.request(
            "PUT", "/api/scenario", data, content_type="application/yaml", query=query, timeout=wait
        )

    def reset(self) -> None:
        self.request("POST", "/api/reset")

    def advance(self, seconds: float) -> float:
        """Move the sidecar server's clock forward (``POST /api/clock``); returns its new time."""
        __tracebackhide__ = True
        arguments.seconds("advance", "seconds", seconds, high=arguments.MAX_SECONDS)
        return float(self.request("POST", "/api/clock", {"advance": seconds})[1]["now"])

    def _wait(self, kind: str, count: int, timeout: float) -> list[Any]:
        __tracebackhide__ = True  # a timeout points at the test's line, as a failing helper does
        started = time.monotonic()
        while True:
            remaining = max(0.0, started + timeout - time.monotonic())
            # one request for the whole wait, but in slices in an awaitable wait's worker
            # thread, so that its await's cancel ends it (a request cannot be stopped midway)
            part = wait_cancel.slice_of(remaining, _SLICE)
            status, body = self.request(
                "POST",
                "/api/wait",
                {kind: count, "timeout": part},
                timeout=part + self.timeout,
                ok=(200, 408),
            )
            if status == 200 or part >= remaining:
                break
            wait_cancel.check()
        if status == 408:
            # the in-process words, and the transcript only where the in-process error has it
            # (the plugin's report prints it once: fresh15 F5 saw it twice)
            what = "message(s)" if kind == "messages" else "finished session(s)"
            said = f"waited {timeout}s for {count} {what}, got {body.get('count', '?')}"
            raise TimeoutError(self._with_transcript(said))
        items = list(body[kind])
        # the answer is one page, as GET /api/{kind}'s first: the rest, page by page
        return items if len(items) >= int(body["total"]) else self.listed(kind)

    def _met(self, kind: str, count: int) -> bool:
        """Whether a wait for ``count`` ``kind`` is met already (one look, no waiting)."""
        body = {kind: count, "timeout": 0}
        return self.request("POST", "/api/wait", body, ok=(200, 408))[0] == 200

    def wait_for_messages(self, count: int = 1, timeout: float = 5.0) -> tuple[Message, ...]:
        __tracebackhide__ = True
        arguments.wait("wait_for_messages", count, timeout)
        refuse_blocking_wait("wait_for_messages", lambda: self._met("messages", count))
        return tuple(self._message(m) for m in self._wait("messages", count, timeout))

    def wait_for_sessions(self, count: int = 1, timeout: float = 5.0) -> tuple[SessionRecord, ...]:
        """Wait until ``count`` sessions have ended (so their transcripts are complete)."""
        __tracebackhide__ = True
        arguments.wait("wait_for_sessions", count, timeout)
        refuse_blocking_wait("wait_for_sessions", lambda: self._met("sessions", count))
        waited = self._wait("sessions", count, timeout)
        return tuple(session_from_json(s, message=self._message) for s in waited)

    # -- servers on demand -----------------------------------------------------------------------

    def new_server(
        self,
        scenario: str = "default",
        *,
        seed: int | None = None,
        params: Mapping[str, Any] | None = None,
        client: type[RemoteSmtpFake] | None = None,
    ) -> RemoteSmtpFake:
        """A fresh, isolated server of this sidecar (``POST /api/servers``) playing ``scenario``
        with ``params`` set, and a client of it (``client``, a RemoteSmtpFake class) with the
        same token: its own SMTP port, journal, counters and state. Close it with
        :meth:`delete_server` when done (a test session's end). ScenarioError with the API's
        problems as it says them (``scenario: no scenario named 'x'``, ``params.delay: ...``);
        RemoteError 404/405 from a sidecar that cannot make servers."""
        __tracebackhide__ = True
        if not isinstance(scenario, str):  # only the sidecar's scenarios: no upload here
            kind = type(scenario).__name__
            raise TypeError(f"new_server({scenario!r}): expected a scenario's name, not a {kind}")
        arguments.use(scenario, seed, params)
        body: JSON = {"scenario": scenario}
        if seed is not None:
            body["seed"] = seed
        if params is not None:
            body["params"] = dict(params)
        made = self.request("POST", "/api/servers", body, ok=(200, 201), top=True)[1]
        reported = str(made.get("host") or made.get("smtp_host") or "")
        own = (client or RemoteSmtpFake)(
            f"{self.url}/api/servers/{made['id']}",
            self.token,
            timeout=self.timeout,
            smtp_host=self._api_host if wildcard_host(reported) else reported,
            smtp_port=int(made["smtp_port"]),
        )
        own.run = str(made["run"]) if made.get("run") else None  # (an older sidecar: none)
        return own

    def move_to(self, other: RemoteSmtpFake) -> None:
        """Drive ``other``'s server from now on (the plugin's, when a restarted sidecar lost the
        old one): its API prefix and SMTP address; what this client knew of the old server (its
        CA, its open sessions) is forgotten."""
        self.prefix = other.prefix
        self.run = other.run
        self._smtp_host, self._smtp_port = other.host, other.port  # (set: made by new_server)
        with self._ca_lock:
            self._ca_file = None
        self.__dict__.pop("_stalled_sessions", None)  # ControlHelpers' Stalled, made anew

    @property
    def server_id(self) -> str:
        """``main`` for the sidecar's own server, else the id of a server on demand."""
        return self.prefix.rsplit("/", 1)[1] if self.prefix != "/api" else "main"

    def delete_server(self) -> None:
        """Close this server on demand (``DELETE /api/servers/{id}``); a no-op for ``main``."""
        if self.prefix != "/api":
            self.request("DELETE", self.prefix, top=True)

    def __repr__(self) -> str:
        return f"<RemoteSmtpFake {self.url}{self.prefix}>"


if TYPE_CHECKING:
    # mypy holds the two transports to one interface
    def _same_interface(remote: RemoteSmtpFake) -> Control:
        return remote
