"""An example client for other NHS systems: start a 360 over Kafka and follow it, with nothing but
aiokafka and the AsyncAPI document (docs/asyncapi.json). It logs in as the `external` principal,
which the broker lets write `hlm360.cycle-requested.v1` and read `hlm360.cycle-closed.v1`,
`hlm360.report-released.v1` and `hlm360.feedback-session-completed.v1`, in consumer groups whose
names start with `external.` (docs/adr/0014-trust-model.md). Everything else is refused.

    python docs/examples/external_client.py request --bootstrap 127.0.0.1:19092 \\
        --username external --password-file .local/secrets/kafka_external_password request.json
    python docs/examples/external_client.py follow --bootstrap ... --group external.my-system

`request.json` is a `CycleRequested` body without the envelope (the example in the AsyncAPI
document shows one); the client adds `event_id`, `event_type`, `schema_version`, `occurred_at`,
`correlation_id` and `producer`, and keys the record by `cycle_id`, as the contract asks. Use TLS
(`--tls`) wherever the broker is not on your own machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

REQUEST_TOPIC = "hlm360.cycle-requested.v1"
FOLLOW_TOPICS = ("hlm360.cycle-closed.v1", "hlm360.report-released.v1", "hlm360.feedback-session-completed.v1")


def login(bootstrap: str, username: str, password: str, *, tls: bool = False) -> dict[str, Any]:
    """aiokafka options for a SCRAM-SHA-512 login (over TLS when `tls`)."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "security_protocol": "SASL_SSL" if tls else "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": username,
        "sasl_plain_password": password,
    }
    if tls:
        options["ssl_context"] = ssl.create_default_context()
    return options


def envelope(body: dict[str, Any], *, producer: str) -> dict[str, Any]:
    """The event around a CycleRequested body: ids, type, version and time."""
    return {
        **body,
        "event_id": str(uuid.uuid4()),
        "event_type": "CycleRequested",
        "schema_version": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "correlation_id": str(uuid.uuid4()),
        "producer": producer,
    }


async def request(options: dict[str, Any], body: dict[str, Any], *, producer: str = "example-nhs-system") -> str:
    """Publish one CycleRequested; returns its cycle id. A refused request comes back as a dead
    letter (hlm360.dead-letter.v1), which operators see; the reason never quotes your data."""
    event = envelope(body, producer=producer)
    client = AIOKafkaProducer(**options, acks="all", enable_idempotence=True)
    await client.start()
    try:
        await client.send_and_wait(REQUEST_TOPIC, json.dumps(event).encode(), key=str(event["cycle_id"]).encode())
    finally:
        await client.stop()
    return str(event["cycle_id"])


async def follow(options: dict[str, Any], *, group: str, seconds: float) -> list[dict[str, Any]]:
    """Read the progress events for `seconds` (from where `group` left off, else from now)."""
    consumer = AIOKafkaConsumer(*FOLLOW_TOPICS, **options, group_id=group, auto_offset_reset="latest")
    await consumer.start()
    seen: list[dict[str, Any]] = []
    try:
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen += [json.loads(record.value) for record in records if record.value]
    finally:
        await consumer.stop()
    return seen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("request", "follow"))
    parser.add_argument("body", nargs="?", type=Path, help="request: the CycleRequested body (JSON)")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--username", default="external")
    parser.add_argument("--password-file", type=Path, required=True)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--group", default="external.example")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    options = login(args.bootstrap, args.username, args.password_file.read_text().strip(), tls=args.tls)
    if args.command == "request":
        if args.body is None:
            parser.error("request needs the body file")
        print(asyncio.run(request(options, json.loads(args.body.read_text()))))
    else:
        for event in asyncio.run(follow(options, group=args.group, seconds=args.seconds)):
            print(event.get("event_type"), event.get("cycle_id"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
