"""Where the CPU went during a run (Linux /proc): the machine's busy cores, the ratings instances'
and this client's own, so a scaling ratio can be read against what the machine had to give."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle and iowait
    return sum(values) - idle, sum(values)


def process_seconds(pids: list[int]) -> float:
    """User and system CPU seconds of these processes (all their threads) so far; gone ones count 0."""
    seconds = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        seconds += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return seconds


@dataclass(frozen=True)
class CpuMark:
    at: float
    machine: tuple[int, int]
    services: float
    client: float

    @classmethod
    def now(cls, pids: list[int]) -> CpuMark:
        return cls(time.monotonic(), machine_ticks(), process_seconds(pids), time.process_time())


@dataclass(frozen=True)
class CpuUse:
    """Cores used on average between two marks."""

    machine_busy: float
    services: float
    client: float

    @classmethod
    def between(cls, start: CpuMark, end: CpuMark) -> CpuUse:
        seconds = end.at - start.at
        busy, total = (end.machine[0] - start.machine[0]), (end.machine[1] - start.machine[1])
        cores = os.cpu_count() or 1
        return cls(
            machine_busy=cores * busy / max(total, 1),
            services=(end.services - start.services) / seconds,
            client=(end.client - start.client) / seconds,
        )
