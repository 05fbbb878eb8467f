"""The front door (deploy/frontdoor): one origin whose paths reach the service that serves them,
checked by nginx itself (`nginx -t`) and against the route table; the compose copy stays generated.
The running front door is tested in tests/e2e/test_front_door.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

from deploy.frontdoor.nginx import (
    API_SERVICES,
    COMPOSE_CONF,
    SERVICE_PORTS,
    Limits,
    Local,
    compose_conf,
    instances_from,
    local_conf,
)
from deploy.frontdoor.routes import PUBLIC_ROUTES
from tests.unit.test_compose import run, self_signed, tool


def local(tmp_path: Path, *, user: str | None = None) -> Local:
    return Local(
        https_port=18443,
        http_port=18080,
        host="localhost",
        tls_dir=tmp_path / "tls",
        run_dir=tmp_path / "run",
        log_dir=tmp_path / "logs",
        temp_dir=tmp_path / "tmp",
        bind_address="127.0.0.2",
        user=user,
        limits=Limits(),
    )


def locations(config: str) -> dict[str, str]:
    """`location [=] path` -> the upstream it proxies to (or `404`)."""
    found = {}
    for modifier, path, body in re.findall(r"location (= )?(\S+) \{\n(.*?)\n        \}", config, re.S):
        target = re.search(r"proxy_pass http://\$?(?:upstream_)?([a-z]+);", body)
        found[f"{modifier}{path}"] = target.group(1) if target else ("404" if "return 404" in body else "self")
    return found


def test_the_compose_front_door_is_generated_from_the_route_table() -> None:
    assert COMPOSE_CONF.read_text() == compose_conf(), "run `python -m deploy.frontdoor.nginx compose`"


def test_every_public_route_goes_to_its_service_and_nothing_else_is_routed(tmp_path: Path) -> None:
    for config in (local_conf(local(tmp_path), {}), compose_conf()):
        routed = locations(config)
        for path, service, kind in PUBLIC_ROUTES:
            assert routed[("= " if kind == "exact" else "") + path] == service, path
        for service in API_SERVICES:
            assert routed[f"/{service}/api/"] == service
        # the catch-all refuses: /metrics, /healthz of the services and unknown paths are not public
        assert routed["/"] == "404"
        assert not any("metrics" in path for path in routed)
        assert routed["= /healthz"] == "self"


def test_the_local_front_door_lists_every_running_instance(tmp_path: Path) -> None:
    targets = tmp_path / "monitoring" / "targets"
    targets.mkdir(parents=True)
    (targets / "ratings.json").write_text(json.dumps([{"targets": ["127.0.0.1:8102", "127.0.0.1:8112"]}]))
    instances = instances_from(targets)
    assert instances == {"ratings": ["127.0.0.1:8102", "127.0.0.1:8112"]}
    config = local_conf(local(tmp_path), instances)
    ratings = re.search(r"upstream ratings \{(.*?)\}", config, re.S)
    assert ratings is not None
    assert re.findall(r"server (\S+) ", ratings.group(1)) == ["127.0.0.1:8102", "127.0.0.1:8112"]
    # a service without a target file yet: its first instance
    for service, port in SERVICE_PORTS.items():
        assert re.search(rf"upstream {service} \{{\n        server 127.0.0.1:{port} ", config), service


def test_forwarded_headers_are_set_by_the_front_door_from_its_own_address(tmp_path: Path) -> None:
    config = local_conf(local(tmp_path), {})
    # replaced, never appended to what the client sent
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in config
    assert "$proxy_add_x_forwarded_for" not in config
    assert "proxy_bind 127.0.0.2;" in config
    assert "limit_req zone=sign_in" in locations_body(config, "= /console/sign-in")


def locations_body(config: str, location: str) -> str:
    """The body of one `location` block (`= /path` or `/path`)."""
    head = re.escape(f"location {location} {{\n")
    match = re.search(head + r"(.*?)\n        \}", config, re.S)
    assert match is not None, location
    return match.group(1)


def test_nginx_accepts_the_local_front_door(tmp_path: Path) -> None:
    nginx = tool("nginx", hint="the Debian package nginx-light; `make up` installs it (deploy/local/frontdoor.sh)")
    tls = tmp_path / "tls"
    tls.mkdir()
    certificate, key = self_signed(tls)
    certificate.rename(tls / "server.pem")
    key.rename(tls / "server.key")
    for directory in ("run", "logs", "tmp"):
        (tmp_path / directory).mkdir()
    config = tmp_path / "nginx.conf"
    config.write_text(local_conf(local(tmp_path), {"ratings": ["127.0.0.1:8102", "127.0.0.1:8112"]}))
    assert "test is successful" in run(nginx, "-t", "-e", "stderr", "-p", tmp_path, "-c", config)
