"""The front door's nginx configuration: one origin for every service, routed by path
(deploy/frontdoor/routes.py), TLS, per-client limits, forwarded headers set here and trusted by the
services from this hop only. Rendered for the local stack (deploy/local/frontdoor.sh: upstreams are
the running instances) and for docker-compose.yml (upstreams are compose names re-resolved by
Docker's DNS). docs/adr/0024-one-front-door.md."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from deploy.frontdoor.routes import PUBLIC_ROUTES

REPO = Path(__file__).resolve().parents[2]
COMPOSE_CONF = REPO / "deploy" / "frontdoor" / "nginx.conf"
SERVICE_PORTS = {
    "invitations": 8101,
    "ratings": 8102,
    "reports": 8103,
    "scheduling": 8104,
    "console": 8105,
    "observations": 8106,
}
# Operators' JSON APIs overlap between services (/api/cycles/{id} is served by three): the front
# door reaches each under its service's name, e.g. /ratings/api/cycles/{id}/close.
API_SERVICES = ("invitations", "ratings", "reports", "scheduling")
# The NHS.UK assets are the same files in every service: any instance serves them.
ASSETS_SERVICE = "invitations"


@dataclass(frozen=True)
class Limits:
    """Per-client request rates the front door holds for every instance behind it (nginx counts in
    one shared zone): pages in general, and the console's sign-in (the console has no database)."""

    per_client_per_second: int = 20
    per_client_burst: int = 100
    sign_ins_per_minute: int = 6
    sign_in_burst: int = 10


def _location(path: str, kind: str, body: str) -> str:
    modifier = "= " if kind == "exact" else ""
    return f"        location {modifier}{path} {{\n{body}        }}\n"


def locations(limits: Limits, *, compose: bool) -> str:
    """Every public route, the assets, the operators' APIs by service name; nothing else."""

    def proxy(service: str, extra: str = "") -> str:
        target = f"http://$upstream_{service}" if compose else f"http://{service}"
        limit = f"            limit_req zone=per_client burst={limits.per_client_burst} nodelay;\n"
        return f"{extra}{limit}            proxy_pass {target};\n"

    out = [
        "        # the front door's own health check; the services' /healthz and /metrics stay private\n",
        _location("/healthz", "exact", '            access_log off;\n            return 200 "ok\\n";\n'),
        _location("/assets/", "prefix", proxy(ASSETS_SERVICE)),
    ]
    for path, service, kind in PUBLIC_ROUTES:
        out.append(_location(path, kind, proxy(service)))
    sign_in = f"            limit_req zone=sign_in burst={limits.sign_in_burst} nodelay;\n"
    out.append(_location("/console/sign-in", "exact", proxy("console", extra=sign_in)))
    for service in API_SERVICES:
        strip = f"            rewrite ^/{service}(/.*)$ $1 break;\n"
        out.append(_location(f"/{service}/api/", "prefix", proxy(service, extra=strip)))
        out.append(_location(f"/{service}/openapi.json", "exact", proxy(service, extra=strip)))
    out.append(_location("/", "prefix", "            return 404;\n"))
    return "".join(out)


COMMON_HTTP = """\
    server_tokens off;
    # Paths carry people's signed links: the log has the method, status, timing and the instance
    # that answered, never the path.
    log_format front_door '$time_iso8601 $request_method $status $body_bytes_sent $request_time $upstream_addr';
    # the services' own limit (http_max_body_bytes, 1 MiB): refused here before it crosses the network
    client_max_body_size 1m;
    limit_req_zone $binary_remote_addr zone=per_client:10m rate={rate}r/s;
    limit_req_zone $binary_remote_addr zone=sign_in:1m rate={sign_ins}r/m;
    limit_req_status 429;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    # Replaced, not appended: the services trust these from the front door only
    # (<SERVICE>_FORWARDED_ALLOW_IPS) and their per-client limits count this address.
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_connect_timeout 5s;
    proxy_read_timeout 60s;
    # An instance that refuses the connection (stopped, killed) is skipped; a request it has
    # started is never sent twice (nginx retries only idempotent ones, and only before sending).
    proxy_next_upstream error timeout;
    proxy_next_upstream_tries 0;
"""


def _common(limits: Limits) -> str:
    return COMMON_HTTP.replace("{rate}", str(limits.per_client_per_second)).replace(
        "{sign_ins}", str(limits.sign_ins_per_minute)
    )


@dataclass(frozen=True)
class Local:
    """Where the local front door lives and listens (deploy/local/frontdoor.sh)."""

    https_port: int
    http_port: int
    host: str
    tls_dir: Path
    run_dir: Path
    log_dir: Path
    temp_dir: Path
    bind_address: str
    user: str | None
    limits: Limits


def upstreams(instances: Mapping[str, Iterable[str]]) -> str:
    blocks = []
    for service in SERVICE_PORTS:
        addresses = list(instances.get(service, ())) or [f"127.0.0.1:{SERVICE_PORTS[service]}"]
        servers = "".join(f"        server {address} max_fails=1 fail_timeout=5s;\n" for address in addresses)
        blocks.append(f"    upstream {service} {{\n{servers}        keepalive 16;\n    }}\n")
    return "".join(blocks)


def local_conf(local: Local, instances: Mapping[str, Iterable[str]]) -> str:
    temp = local.temp_dir
    user = f"user {local.user};\n" if local.user else ""
    return f"""# Generated by deploy/local/frontdoor.sh (python -m deploy.frontdoor.nginx local): do not edit.
{user}worker_processes 1;
pid {local.run_dir}/frontdoor.pid;
error_log {local.log_dir}/frontdoor.log warn;

events {{
    worker_connections 1024;
}}

http {{
{_common(local.limits)}    access_log {local.log_dir}/frontdoor-access.log front_door;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    # The services trust forwarded headers from this address only: nothing else on this machine
    # (a test, a script) connects from it.
    proxy_bind {local.bind_address};

{upstreams(instances)}
    server {{
        listen 127.0.0.1:{local.http_port};
        server_name {local.host};
        return 301 https://{local.host}:{local.https_port}$request_uri;
    }}

    server {{
        listen 127.0.0.1:{local.https_port} ssl;
        server_name {local.host};
        ssl_certificate {local.tls_dir}/server.pem;
        ssl_certificate_key {local.tls_dir}/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_prefer_server_ciphers off;

{locations(local.limits, compose=False)}    }}
}}
"""


def compose_conf(limits: Limits = Limits()) -> str:
    resolve = "".join(f"        set $upstream_{service} {service}:{port};\n" for service, port in SERVICE_PORTS.items())
    return f"""# The front door of docker-compose.yml, generated by `python -m deploy.frontdoor.nginx compose`
# from deploy/frontdoor/routes.py (tests/unit/test_frontdoor.py keeps it in step): do not edit.
# One origin with path routing and TLS (the certificate and key are compose secrets); each request
# goes to the service by its compose name, which Docker's DNS answers with every replica
# (`docker compose up --scale ratings=3`), re-resolved every 10 s. docs/adr/0024-one-front-door.md.
worker_processes auto;
pid /tmp/nginx.pid;
error_log stderr warn;

events {{
    worker_connections 1024;
}}

http {{
{_common(limits)}    access_log /dev/stdout front_door;
    client_body_temp_path /tmp/nginx-client-body;
    proxy_temp_path /tmp/nginx-proxy;
    fastcgi_temp_path /tmp/nginx-fastcgi;
    uwsgi_temp_path /tmp/nginx-uwsgi;
    scgi_temp_path /tmp/nginx-scgi;
    resolver 127.0.0.11 valid=10s ipv6=off;

    server {{
        listen 8080;
        return 301 https://$host:8443$request_uri;
    }}

    server {{
        listen 8443 ssl;
        ssl_certificate /run/secrets/frontdoor_certificate;
        ssl_certificate_key /run/secrets/frontdoor_key;
        ssl_protocols TLSv1.2 TLSv1.3;
{resolve}
{locations(limits, compose=True)}    }}

    # The container's own health check (docker-compose.yml); not published.
    server {{
        listen 8099;
        access_log off;

        location = /healthz {{
            return 200 "ok\\n";
        }}
    }}
}}
"""


def instances_from(targets_dir: Path) -> dict[str, list[str]]:
    """The instances deploy/local/services.sh runs, from the Prometheus target files it writes."""
    found: dict[str, list[str]] = {}
    for service in SERVICE_PORTS:
        path = targets_dir / f"{service}.json"
        if path.is_file():
            groups = json.loads(path.read_text(encoding="utf-8"))
            found[service] = [target for group in groups for target in group["targets"]]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("compose", help=f"write {COMPOSE_CONF.relative_to(REPO)}")
    local = sub.add_parser("local", help="print the local front door's nginx.conf")
    local.add_argument("--local-dir", type=Path, required=True)
    local.add_argument("--https-port", type=int, default=8443)
    local.add_argument("--http-port", type=int, default=8080)
    local.add_argument("--host", default="localhost")
    local.add_argument("--bind-address", default="127.0.0.2")
    local.add_argument("--temp-dir", type=Path, required=True)
    local.add_argument("--user", default=None)
    local.add_argument("--per-client-per-second", type=int, default=Limits.per_client_per_second)
    local.add_argument("--per-client-burst", type=int, default=Limits.per_client_burst)
    args = parser.parse_args()
    if args.mode == "compose":
        COMPOSE_CONF.write_text(compose_conf(), encoding="utf-8")
        print(COMPOSE_CONF.relative_to(REPO))
        return
    base: Path = args.local_dir
    limits = Limits(per_client_per_second=args.per_client_per_second, per_client_burst=args.per_client_burst)
    where = Local(
        https_port=args.https_port,
        http_port=args.http_port,
        host=args.host,
        tls_dir=base / "frontdoor" / "tls",
        run_dir=base / "run",
        log_dir=base / "logs",
        temp_dir=args.temp_dir,
        bind_address=args.bind_address,
        user=args.user,
        limits=limits,
    )
    print(local_conf(where, instances_from(base / "monitoring" / "targets")), end="")


if __name__ == "__main__":
    main()
