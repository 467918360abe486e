"""Endpoints about the scenario in force: health, get and switch it, the library, the TLS CA."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from smtpfake import __version__
from smtpfake.http.choice import (
    YAML_TYPE,
    FieldProblem,
    check_seed,
    choose,
    invalid,
    params_invalid,
)
from smtpfake.http.context import MAX_BODY, Settings, answer, read_body, read_json
from smtpfake.http.fleet import Instance
from smtpfake.http.inputs import JSON, ApiError, check_uploaded_files, only
from smtpfake.scenario import ParamsError, ScenarioError, load_file, load_text, scenario_files
from smtpfake.scenario.compose import too_big_message
from smtpfake.scenario.limits import MAX_SCENARIO_BYTES
from smtpfake.serialize import scenario_in_force

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
#: PUT /api/scenario's query, with a YAML body (and param.NAME=VALUE for its parameters)
YAML_QUERY = ("name", "seed", "source", "require_docs")
PARAM_PREFIX = "param."


def _smtp(instance: Instance) -> JSON:
    return {"host": instance.server.host, "port": instance.server.port}


async def health(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    ready = instance.server.listening
    body = {
        "status": "ready" if ready else "unavailable",
        "version": __version__,
        "scenario": instance.server.scenario.name,
        "smtp": _smtp(instance),
        # lines of serve's log dropped because its reader did not keep up (logging_observer)
        "log_dropped": 0 if settings.log is None else settings.log.dropped,
        # this process's run (random at start): a restart at the same URL changes it
        "run": settings.fleet.run,
    }
    return answer(body, 200 if ready else 503)


def scenario_body(instance: Instance) -> JSON:
    return scenario_in_force(instance.server)


async def get_scenario(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    return answer(scenario_body(instance))


async def put_scenario(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    if request.content_type in YAML_TYPES:
        # as big as a scenario file may be: one size limit for a scenario however it comes,
        # told in the loader's words, not the API's body limit
        body = await read_body(
            request, settings, limit=MAX_SCENARIO_BYTES, too_large=_upload_too_large
        )
        query = dict(request.query)
        # param.NAME=VALUE sets a parameter the uploaded scenario declares
        chosen_params = {
            k.removeprefix(PARAM_PREFIX): v for k, v in query.items() if k.startswith(PARAM_PREFIX)
        }
        others = {k: v for k, v in query.items() if not k.startswith(PARAM_PREFIX)}
        only(others, (*YAML_QUERY, PARAM_PREFIX + "NAME"), "query parameter")
        # loading is pure Python (a 20,000-rule scenario takes seconds): off the event loop,
        # which also carries every SMTP session, so no session waits for an upload
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, _use_yaml, instance, query, body, chosen_params or None)
    else:
        # the body's type first: YAML sent without its Content-Type (curl --data-binary @f.yaml
        # sends a form type) is told how to send it, not that ?name= is unknown
        data = await read_json(
            request,
            settings,
            or_else=f"or a YAML scenario ({YAML_TYPE})",
            too_large=_json_too_large,
        )
        only(request.query, (), "query parameter")
        await asyncio.get_running_loop().run_in_executor(None, use_named, instance, data)
    settings.hub.publish(
        {
            "event": "scenario",
            "server": instance.id,
            "name": instance.server.scenario.name,
            "time": time.time(),
        }
    )
    return answer(scenario_body(instance))


def _json_too_large(size: int | None) -> str:
    """A body over the API's limit that came as JSON, or without a Content-Type (curl -T
    file.yaml): a YAML scenario sent with its type may be as big as a scenario file."""
    return (
        f"body too large (at most {MAX_BODY} bytes as JSON); a YAML scenario sent with "
        f"{YAML_TYPE} may be up to {MAX_SCENARIO_BYTES:,} bytes"
    )


def _upload_too_large(size: int | None) -> str:
    """A YAML upload past the scenario size limit, as the loader says it of a file, and what
    to do (the limit is smtpfake's, for any scenario: not a setting)."""
    said = (
        too_big_message(size)
        if size is not None
        else (
            f"the scenario is over {MAX_SCENARIO_BYTES:,} bytes; a scenario is at most "
            f"{MAX_SCENARIO_BYTES:,} bytes"
        )
    )
    return (
        f"{said} ({MAX_SCENARIO_BYTES / 2**20:g} MiB, uploaded or as a file: smtpfake's own limit, "
        "not a setting): make it smaller, e.g. split its rules over scenarios of their own"
    )


def _use_yaml(
    instance: Instance, query: dict[str, str], body: bytes, chosen_params: dict[str, str] | None
) -> None:
    problems: list[FieldProblem] = []
    chosen = check_seed(query.get("seed"), "seed", problems)
    docs = query.get("require_docs", "true").lower()
    if docs not in ("true", "false"):
        problems.append(FieldProblem("require_docs", f"must be true or false, got {docs[:20]!r}"))
    if problems:
        raise invalid(problems)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the YAML body is not UTF-8: {exc}") from None
    name = query.get("name", "uploaded")
    # problems say file:line:col: by the upload's name when it has one (?name=orders:
    # "<orders>:3:5: ...", as a dict given to use() reads), else "request-body"; ?source=
    # names the caller's own file instead (the remote client sends its path)
    source = query.get("source", f"<{name}>" if "name" in query else "request-body")
    server = instance.server
    check_uploaded_files(text, source, server.scenario_dirs)
    # the same loader as files, so the same file:line:col problems; a parameter value the
    # upload does not take is the query's mistake: named as its param.NAME
    try:
        scenario = load_text(
            text, source=source, name=name, require_docs=docs == "true", params=chosen_params
        )
    except ParamsError as exc:
        raise params_invalid(exc, chosen_params or {}, PARAM_PREFIX) from None
    instance.fake.use(scenario, seed=chosen)


def use_named(instance: Instance, data: JSON) -> None:
    """Switch to a scenario of the sidecar's library by name (``{"name", "seed", "params"}``);
    every problem named by its key path (:mod:`smtpfake.http.choice`)."""
    only(data, ("name", "seed", "params"))
    choice = choose(data, "name", instance.server.scenario_dirs)
    try:
        instance.fake.use(choice.name, seed=choice.seed, params=choice.params)
    except ParamsError as exc:
        raise params_invalid(exc, choice.params or {}, "params.") from None


async def list_scenarios(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    items: list[JSON] = []
    for name, path in sorted(scenario_files(instance.server.scenario_dirs).items()):
        try:
            sc = load_file(path)
        except ScenarioError as exc:
            items.append(
                {"name": name, "summary": None, "source": str(path)}
                | {"problems": [str(p) for p in exc.problems]}
            )
            continue
        items.append({"name": name, "summary": sc.summary, "source": sc.source})
    return answer({"active": instance.server.scenario.name, "scenarios": items})


async def tls_ca(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    """The PEM of the throwaway CA behind the active scenario's generated certificate; 404 when
    there is nothing a client could trust from us."""
    scenario = instance.server.scenario
    tls = scenario.server.tls
    if not tls.enabled:
        raise ApiError(
            404,
            f"the active scenario '{scenario.name}' has no server.tls, so there is no CA to "
            "trust; switch to a TLS scenario (e.g. tls-required) first",
            reason="no-tls",
        )
    if tls.certificate is not None:
        raise ApiError(
            404,
            f"the active scenario '{scenario.name}' uses its own certificate "
            f"({tls.certificate}); smtpfake does not know its CA: trust that certificate's "
            "issuer instead",
            reason="own-certificate",
        )
    pem = instance.server.tls_ca_pem.encode("ascii")
    return web.Response(
        body=pem, content_type="application/x-pem-file", headers={"Cache-Control": "no-store"}
    )
