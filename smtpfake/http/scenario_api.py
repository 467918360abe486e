"""Endpoints about the scenario in force: health, get and switch it, the library, the TLS CA."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from smtpfake import __version__
from smtpfake.cli import show_text
from smtpfake.http.context import Settings, answer, read_body, read_json
from smtpfake.http.fleet import Instance
from smtpfake.http.inputs import JSON, ApiError, check_uploaded_files, only, seed, shown
from smtpfake.scenario import ScenarioError, load_file, load_text, resolve, scenario_files
from smtpfake.serialize import problems_to_json, scenario_to_json

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
YAML_HINT = "Content-Type: application/yaml"
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
    }
    return answer(body, 200 if ready else 503)


def scenario_body(instance: Instance) -> JSON:
    server = instance.server
    body = scenario_to_json(server.scenario)
    body["seed"] = server.effective_seed
    body["smtp"] = _smtp(instance)
    body["show"] = show_text(server.scenario)
    return body


async def get_scenario(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    return answer(scenario_body(instance))


async def put_scenario(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    if request.content_type in YAML_TYPES:
        body = await read_body(request, settings)
        query = dict(request.query)
        # param.NAME=VALUE sets a parameter the uploaded scenario declares
        chosen_params = {
            k.removeprefix(PARAM_PREFIX): v for k, v in query.items() if k.startswith(PARAM_PREFIX)
        }
        others = {k: v for k, v in query.items() if not k.startswith(PARAM_PREFIX)}
        only(others, (*YAML_QUERY, PARAM_PREFIX + "NAME"), "query parameter")
        _use_yaml(instance, query, body, chosen_params or None)
    else:
        # the body's type first: YAML sent without its Content-Type (curl --data-binary @f.yaml
        # sends a form type) is told how to send it, not that ?name= is unknown
        data = await read_json(request, settings, or_else=f"or a YAML scenario ({YAML_HINT})")
        only(request.query, (), "query parameter")
        use_named(instance, data)
    settings.hub.publish(
        {
            "event": "scenario",
            "server": instance.id,
            "name": instance.server.scenario.name,
            "time": time.time(),
        }
    )
    return answer(scenario_body(instance))


def _use_yaml(
    instance: Instance, query: dict[str, str], body: bytes, chosen_params: dict[str, str] | None
) -> None:
    chosen = seed(query.get("seed"))
    docs = query.get("require_docs", "true").lower()
    if docs not in ("true", "false"):
        raise ApiError(400, f"'require_docs' must be true or false, got {docs[:20]!r}")
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
    # the same loader as files, so the same file:line:col problems
    scenario = load_text(
        text, source=source, name=name, require_docs=docs == "true", params=chosen_params
    )
    instance.fake.use(scenario, seed=chosen)


def use_named(instance: Instance, data: JSON) -> None:
    """Switch to a scenario of the sidecar's library by name (``{"name", "seed", "params"}``)."""
    only(data, ("name", "seed", "params"))
    name = check_name(data.get("name"), "name")
    chosen = seed(data.get("seed"))
    known_name(instance, name)
    instance.fake.use(name, seed=chosen, params=params(data.get("params")))


def params(value: Any) -> dict[str, Any] | None:
    """A scenario's parameters by name (``{"delay": "5m"}``); each value is checked by the
    scenario's own declaration (a bad one is a 400 with its problem)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError(400, f"'params' must be an object of NAME: VALUE, got {shown(value, 80)}")
    return value


def check_name(name: Any, field: str) -> str:
    """A scenario name of the library; a path is refused (never read a path a caller names on
    the sidecar's disk: upload the YAML instead); an unknown name is a 404 with did-you-mean."""
    if not isinstance(name, str) or not name:
        raise ApiError(400, f'\'{field}\' must be a scenario name, e.g. {{"{field}": "default"}}')
    if "/" in name or "\\" in name or name.endswith((".yaml", ".yml")):
        raise ApiError(
            400,
            f"'{name[:80]}' is a path, not a name; upload the file as the body of PUT "
            "/api/scenario with Content-Type: application/yaml",
        )
    return name


def known_name(instance: Instance, name: str) -> None:
    if name in scenario_files(instance.server.scenario_dirs):
        return
    try:
        resolve(name, instance.server.scenario_dirs)
    except ScenarioError as exc:  # the library's "no scenario named ...; did you mean"
        body = problems_to_json(exc)
        del body["error"]
        raise ApiError(404, exc.problems[0].message, **body) from None


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
