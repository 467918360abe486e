"""The compose file and the README's container examples agree with the image.

Compose and GitHub Actions cannot run here; what can go stale is checked: the YAML parses, and
every example publishes the ports the image listens on (SMTP, API) and, where it narrows the
range for servers on demand, publishes exactly that range with the same numbers inside and out.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")
README = (REPO / "README.md").read_text(encoding="utf-8")


def image_env(name: str) -> str:
    found = re.search(rf"\b{name}=(\S+)", DOCKERFILE)
    assert found, f"{name} is not set in the Dockerfile"
    return found[1]


def check_service(ports: list[str], env: dict[str, Any]) -> None:
    inside = {p.rsplit(":", 1)[1] for p in ports}
    assert {image_env("SMTPFAKE_PORT"), image_env("SMTPFAKE_API_PORT")} <= inside, ports
    wanted = str(env.get("SMTPFAKE_SERVER_PORTS", ""))
    if wanted:
        outside_and_in = [p.split(":")[-2:] for p in ports]
        assert [wanted, wanted] in outside_and_in, (wanted, ports)


def test_the_image_exposes_what_it_listens_on() -> None:
    exposed = re.search(r"^EXPOSE (.+)$", DOCKERFILE, re.M)
    assert exposed
    assert exposed[1].split() == [
        image_env("SMTPFAKE_PORT"),
        image_env("SMTPFAKE_API_PORT"),
        image_env("SMTPFAKE_SERVER_PORTS"),
    ]


def test_compose_example() -> None:
    compose = yaml.safe_load((REPO / "compose.example.yaml").read_text(encoding="utf-8"))
    service = compose["services"]["smtpfake"]
    check_service(service["ports"], service["environment"])
    assert compose["services"]["app"]["depends_on"]["smtpfake"]["condition"] == "service_healthy"


def test_readme_compose_and_actions_examples() -> None:
    blocks = [yaml.safe_load(b) for b in re.findall(r"^```yml\n(.*?)^```", README, re.S | re.M)]
    compose = [b for b in blocks if "services" in b and "smtpfake" in b["services"]]
    actions = [b for b in blocks if "jobs" in b]
    assert compose and actions
    for block in compose:
        service = block["services"]["smtpfake"]
        check_service(service["ports"], service["environment"])
    for block in actions:
        service = block["jobs"]["test"]["services"]["smtpfake"]
        check_service(service["ports"], service["env"])
