"""Endpoints for servers on demand: make, list, look at, close."""

from __future__ import annotations

import time

from aiohttp import web

from smtpfake.http.choice import choose, params_invalid
from smtpfake.http.context import Settings, answer, read_json
from smtpfake.http.fleet import MAIN, Instance
from smtpfake.http.inputs import JSON, only
from smtpfake.scenario import ParamsError


def _server_body(request: web.Request, instance: Instance) -> JSON:
    base = f"{request.scheme}://{request.host}"
    return {
        "id": instance.id,
        "host": instance.server.host,
        "smtp_port": instance.server.port,
        "url": f"{base}/api/servers/{instance.id}",
        "scenario": instance.server.scenario.name,
        "seed": instance.server.effective_seed,
        "created": instance.created,
        "sessions": len(instance.server.sessions),
        "messages": len(instance.numbered()),
    }


def _made_body(request: web.Request, settings: Settings, instance: Instance) -> JSON:
    """A new server's answer: its info, and the run that made it (``X-Smtpfake-Run``)."""
    return {**_server_body(request, instance), "run": settings.fleet.run}


async def create_server(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    data = await read_json(request, settings)
    only(data, ("scenario", "seed", "params"))
    # every problem named by its key path (smtpfake.http.choice)
    choice = choose(data, "scenario", settings.fleet.main.server.scenario_dirs, "default")
    try:
        created = await settings.fleet.create(choice.name, choice.seed, choice.params)
    except ParamsError as exc:
        raise params_invalid(exc, choice.params or {}, "params.") from None
    settings.hub.publish({"event": "server", "server": MAIN, "id": created.id, "time": time.time()})
    body = _made_body(request, settings, created)
    return answer(body, 201, {"Location": body["url"]})


async def list_servers(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    found = [_server_body(request, i) for i in settings.fleet.instances.values()]
    return answer({"count": len(found), "capacity": settings.fleet.capacity, "servers": found})


async def get_server(request: web.Request, settings: Settings, instance: Instance) -> web.Response:
    return answer(_server_body(request, instance))


async def delete_server(
    request: web.Request, settings: Settings, instance: Instance
) -> web.Response:
    await settings.fleet.delete(instance.id)
    now = time.time()
    settings.hub.publish({"event": "deleted", "server": instance.id, "time": now})
    settings.hub.publish({"event": "server", "server": MAIN, "id": instance.id, "time": now})
    return answer({"deleted": instance.id})
