"""Kafka subscribers: none yet. The journal reads no other service's events (no observation text
ever goes on Kafka); the summary shared with a facilitator (issue 15 item 6) will be the first event."""

from shared.service import ServiceRuntime


def register(runtime: ServiceRuntime) -> None:
    """Nothing to subscribe to (kept so every service has the same kit)."""
