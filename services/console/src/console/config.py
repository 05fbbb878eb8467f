"""The operators' tooling settings: the only place that reads the environment. The Kafka login is the
operators' principal (`HLM360_KAFKA_USERNAME`, ... in .local/operator.env, shared.settings.AdminSettings)."""

from __future__ import annotations

import os

from pydantic import Field

from shared.settings import AdminSettings


class Settings(AdminSettings):
    """`HLM360_` settings of the `hlm360` command line and (later) the operators' console."""

    # Who acts, for the audit: `--by`, else HLM360_OPERATOR, else the login name of the OS user.
    operator: str | None = None
    # How long reading a topic to its end may take before the command gives up.
    read_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Replays and audit entries sent before waiting for the broker's acknowledgements.
    replay_batch_size: int = Field(default=100, ge=1, le=10_000)


def operator_name(settings: Settings, given: str | None = None) -> str:
    """The name the audit records: the one given, else the setting, else the OS login name."""
    return given or settings.operator or os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"
