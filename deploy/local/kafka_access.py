"""The local broker's principals and access rules, from the contract's access table
(shared/contracts/channels.py): `python -m deploy.local.kafka_access` (run by `make stack`).

Each service and the `external` principal (other NHS systems) get a SCRAM-SHA-512 login and exactly
the rights the table gives them: WRITE on the topics they write (services also the dead-letter
topic), READ on those they read and on consumer groups named `<principal>.<anything>`. WRITE and
READ imply DESCRIBE. The operators' principal (`admin`) is the broker's super user. Rules the table
no longer holds are removed from the broker. Passwords come from the environment the stack wrote
(`.local/env`, `.local/operator.env`) and only ever reach a 0600 file that is deleted afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from shared.contracts.channels import EXTERNAL, PRINCIPALS, SERVICES, reads, writes
from shared.contracts.topics import DEAD_LETTER_TOPIC, topic_for

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
Rule = tuple[str, str, str, str]  # resource type, pattern type, resource name, operation


def rules(principal: str) -> list[Rule]:
    """What `principal` may do, as broker rules."""
    written = [topic_for(event) for event in writes(principal)]
    if principal in SERVICES:
        written.append(DEAD_LETTER_TOPIC)
    found: list[Rule] = [("topic", "literal", topic, "write") for topic in written]
    found += [("topic", "literal", topic_for(event), "read") for event in reads(principal)]
    if reads(principal):
        found.append(("group", "prefixed", f"{principal}.", "read"))
    return found


def plan(passwords: Mapping[str, str]) -> str:
    """The plan KafkaAccess.java applies: one `user` line per principal, one `acl` line per rule."""
    lines = [f"user\t{principal}\t{passwords[principal]}" for principal in PRINCIPALS]
    for principal in PRINCIPALS:
        lines += ["\t".join(("acl", f"User:{principal}", *rule)) for rule in rules(principal)]
    return "\n".join(lines) + "\n"


def passwords_from(environ: Mapping[str, str]) -> dict[str, str]:
    found = {service: environ.get(f"{service.upper()}_KAFKA_PASSWORD", "") for service in SERVICES}
    found[EXTERNAL] = environ.get("HLM360_KAFKA_EXTERNAL_PASSWORD", "")
    missing = sorted(principal for principal, password in found.items() if not password)
    if missing:
        raise SystemExit(f"kafka access: no password for {', '.join(missing)} (run deploy/local/stack.sh up)")
    return found


def admin_properties(environ: Mapping[str, str]) -> str:
    user, password = environ.get("HLM360_KAFKA_USERNAME"), environ.get("HLM360_KAFKA_PASSWORD")
    if not user or not password:
        raise SystemExit("kafka access: HLM360_KAFKA_USERNAME/PASSWORD missing (load .local/operator.env)")
    return (
        f"bootstrap.servers={environ.get('HLM360_KAFKA_BOOTSTRAP_SERVERS', '127.0.0.1:19092')}\n"
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{user}" password="{password}";\n'
    )


def main(environ: Mapping[str, str] = os.environ) -> int:
    libs = Path(environ.get("HLM360_LOCAL_DIR", REPO / ".local")) / "kafka" / "libs"
    with tempfile.TemporaryDirectory(prefix="hlm360-kafka-access-") as folder:
        props, steps = Path(folder) / "admin.properties", Path(folder) / "plan.tsv"
        for path, text in ((props, admin_properties(environ)), (steps, plan(passwords_from(environ)))):
            path.touch(mode=0o600)
            path.write_text(text, encoding="utf-8")
        command = [
            "java",
            "-Xmx256m",
            "-XX:TieredStopAtLevel=1",
            f"-Dlog4j2.configurationFile={HERE / 'kafka' / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={libs.parent / 'logs'}",
            "-cp",
            f"{libs}/*",
            str(HERE / "kafka" / "KafkaAccess.java"),
            str(props),
            str(steps),
        ]
        return subprocess.run(command, check=False).returncode  # noqa: S603 (our own command line)


if __name__ == "__main__":
    sys.exit(main())
