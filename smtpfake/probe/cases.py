"""Cases: scenarios that carry ``checks:``, selected by name and tag, and what each tells its
client (:class:`Target`: the environment variables and ``{placeholders}``)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from smtpfake.probe.messages import MESSAGES
from smtpfake.scenario import Scenario, load_file, scenario_files
from smtpfake.scenario.checks import Checks
from smtpfake.scenario.loader import with_params as scenario_with_params
from smtpfake.scenario.yamlwalk import did_you_mean

#: the tag of cases that wait on purpose (a slow greeting, a server that never answers)
WAITS = "waits"


@dataclass(frozen=True)
class Case:
    """One probe case: a scenario with checks to judge."""

    scenario: Scenario

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def checks(self) -> Checks:
        return self.scenario.checks

    @property
    def tags(self) -> tuple[str, ...]:
        return self.scenario.checks.tags

    @property
    def tls(self) -> str:
        """What the client is told about TLS: none, starttls or implicit."""
        if self.checks.client.tls is not None:
            return self.checks.client.tls
        tls = self.scenario.server.tls
        return "none" if not tls.enabled else "implicit" if tls.implicit else "starttls"

    @property
    def credentials(self) -> tuple[str, str] | None:
        """(user, password) for the client, when the case gives it credentials."""
        auth = self.scenario.server.auth
        wanted = self.checks.client.auth
        if wanted is False or (wanted is None and auth is None):
            return None
        return auth.users[0] if auth is not None and auth.users else ("alice", "secret")


def load_cases(paths: Iterable[str | Path] = (), dirs: Sequence[str | Path] = ()) -> list[Case]:
    """Every scenario with checks: the built-in library and ``dirs``, then the files ``paths``
    (a later one of the same name replaces an earlier one). Sorted by name. A file of ``paths``
    without ``checks: judge:`` is a ValueError naming it: it was asked for by name, and leaving
    it out ran the library alone, as if it had been probed (ScenarioError for one that does
    not load)."""
    found: dict[str, Case] = {}
    asked = [Path(p) for p in paths]
    for path in [*scenario_files(dirs).values(), *asked]:
        scenario = load_file(path)
        if scenario.checks.judge:
            found[scenario.name] = Case(scenario)
        elif path in asked:
            raise ValueError(
                f"{path}: no checks: judge: to judge a client by, so it is no probe case (add "
                "checks:, see the README's Checks)"
            )
    return [found[name] for name in sorted(found)]


def select(
    cases: Sequence[Case],
    names: Sequence[str] = (),
    tags: Sequence[str] = (),
    skip_tags: Sequence[str] = (),
) -> list[Case]:
    """Cases whose name matches one of ``names`` (globs) or that have one of ``tags`` (none
    given: all), less those with one of ``skip_tags``."""
    chosen = []
    for case in cases:
        wanted = not names and not tags
        wanted = wanted or any(fnmatch.fnmatchcase(case.name, n) for n in names)
        wanted = wanted or any(t in case.tags for t in tags)
        if wanted and not any(t in case.tags for t in skip_tags):
            chosen.append(case)
    return chosen


def _hint(unknown: Sequence[str], known: Sequence[str]) -> str:
    """``; did you mean 'default'?`` for one misspelt name (not a glob), else ""."""
    if len(unknown) != 1 or any(c in unknown[0] for c in "*?["):
        return ""
    return did_you_mean(unknown[0], known)


def selection_problem(
    cases: Sequence[Case],
    names: Sequence[str] = (),
    tags: Sequence[str] = (),
    skip_tags: Sequence[str] = (),
    flags: tuple[str, str] = ("--tag", "--skip-tag"),
) -> str | None:
    """Why a selection is a mistake, or None: a name (glob) that matches no case, a tag no case
    has (named by ``flags``, as the caller spells the two), or nothing left to run. A run of
    nothing would pass: it is never what was meant."""
    unmatched = [n for n in names if not any(fnmatch.fnmatchcase(c.name, n) for c in cases)]
    if unmatched:
        known = ", ".join(c.name for c in cases)
        hint = _hint(unmatched, [c.name for c in cases])
        return f"no case named {', '.join(unmatched)}{hint} (cases: {known})"
    known_tags = sorted({t for c in cases for t in c.tags})
    for flag, given in zip(flags, (tags, skip_tags), strict=True):
        if unknown := [t for t in given if t not in known_tags]:
            hint = _hint(unknown, known_tags)
            return (
                f"{flag}: no case has the tag {', '.join(unknown)}{hint} "
                f"(tags: {', '.join(known_tags)})"
            )
    if not select(cases, names, tags, skip_tags):
        return "the selection leaves no case"
    return None


def with_params(cases: Sequence[Case], params: Mapping[str, str]) -> list[Case]:
    """The cases again, each with those of ``params`` (name -> value as text, as ``--param``
    gives them) that its scenario declares. Raises ValueError naming a parameter that no case
    declares (a misspelt name must not be ignored), and ScenarioError (at file:line:col) for a
    value a scenario refuses, as ``serve --param`` does."""
    declared = {p.name for case in cases for p in case.scenario.params}
    unknown = sorted(set(params) - declared)
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise ValueError(
            f"no selected case declares a parameter named {', '.join(map(repr, unknown))} "
            f"(their parameters: {known})"
        )
    out = []
    for case in cases:
        own = {p.name: params[p.name] for p in case.scenario.params if p.name in params}
        out.append(Case(scenario_with_params(case.scenario, own)) if own else case)
    return out


#: the environment variables every client gets (see Target.variables)
_VARIABLES = (
    *("SMTP_HOST", "SMTP_PORT", "SMTP_URL", "SMTP_TLS", "SMTP_CA_FILE", "SMTP_USER"),
    *("SMTP_PASSWORD", "SMTP_FROM", "SMTP_TO", "SMTP_MESSAGE_FILE", "SMTP_CASE"),
)


def _placeholder(variable: str) -> str:
    return variable.removeprefix("SMTP_").lower()


@dataclass(frozen=True)
class Target:
    """Where and what the client sends for one case. ``message_file`` holds ``message``."""

    case: str
    host: str
    port: int
    tls: str  # none | starttls | implicit
    ca_file: str | None
    credentials: tuple[str, str] | None
    sender: str
    recipients: tuple[str, ...]
    message: bytes
    message_file: str

    @property
    def url(self) -> str:
        return f"{'smtps' if self.tls == 'implicit' else 'smtp'}://{self.host}:{self.port}"

    def variables(self) -> dict[str, str]:
        """The environment the client runs in (also the ``{placeholders}``, lower-cased and
        without the ``SMTP_`` prefix: ``{host}``, ``{port}``, ``{to}``...)."""
        user, password = self.credentials or ("", "")
        values = {
            "SMTP_HOST": self.host,
            "SMTP_PORT": str(self.port),
            "SMTP_URL": self.url,
            "SMTP_TLS": self.tls,
            "SMTP_CA_FILE": self.ca_file or "",
            "SMTP_USER": user,
            "SMTP_PASSWORD": password,
            "SMTP_FROM": self.sender,
            "SMTP_TO": ",".join(self.recipients),
            "SMTP_MESSAGE_FILE": self.message_file,
            "SMTP_CASE": self.case,
        }
        assert tuple(values) == _VARIABLES
        return values

    @staticmethod
    def placeholder_names() -> tuple[str, ...]:
        """``host``, ``port``, ... (what ``{name}`` in a command may say)."""
        return tuple(_placeholder(k) for k in _VARIABLES)

    def placeholders(self) -> dict[str, str]:
        return {_placeholder(k): v for k, v in self.variables().items()}


def target_for(case: Case, host: str, port: int, ca_file: str | None, folder: Path) -> Target:
    """The case's Target; writes its message into ``folder``."""
    message = MESSAGES[case.checks.client.message]
    path = folder / f"{case.name}.eml"
    path.write_bytes(message)
    return Target(
        case=case.name,
        host=host,
        port=port,
        tls=case.tls,
        ca_file=ca_file if case.tls != "none" else None,
        credentials=case.credentials,
        sender=case.checks.client.sender,
        recipients=case.checks.client.recipients,
        message=message,
        message_file=str(path),
    )
