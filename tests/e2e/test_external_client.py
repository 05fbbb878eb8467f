"""The example client for other NHS systems (docs/examples/external_client.py) works as its
documentation says, against the running services: as the `external` principal it starts a 360 that
invitations opens, and reads the progress topics in its own consumer group."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from uuid import uuid4

from deploy.demo.journey import build_request
from tests.config import REPO, StackSettings
from tests.e2e.conftest import Databases
from tests.support import eventually

ENVELOPE = {"event_id", "event_type", "schema_version", "occurred_at", "correlation_id", "producer"}


def example() -> ModuleType:
    path = REPO / "docs" / "examples" / "external_client.py"
    spec = importlib.util.spec_from_file_location("external_client", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["external_client"] = module
    spec.loader.exec_module(module)
    return module


async def test_the_example_client_starts_a_360_and_follows_progress(settings: StackSettings, dbs: Databases) -> None:
    client = example()
    password_file = Path(settings.hlm360_local_dir) / "secrets" / "kafka_external_password"
    options = client.login(
        settings.hlm360_kafka_bootstrap_servers, "external", password_file.read_text().strip(), tls=False
    )
    cycle_id = uuid4()
    body = json.loads(
        build_request(cycle_id=cycle_id, facilitator_id=None, tag=uuid4().hex[:8]).model_dump_json(exclude=ENVELOPE)
    )
    assert await client.request(options, body) == str(cycle_id)

    async def opened() -> bool:
        rows = await dbs.fetch("invitations", "SELECT count(*) FROM invitations.cycle WHERE id=$1", cycle_id)
        return int(rows[0][0]) == 1

    await eventually(opened, timeout=60, what="invitations to open the cycle the example requested")
    # reading its topics in its own group is allowed (nothing to see yet, and no refusal)
    assert isinstance(await client.follow(options, group=f"external.e2e-{uuid4().hex[:8]}", seconds=2), list)
