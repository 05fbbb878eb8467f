"""Questionnaires per second with one ratings instance and with two, in the same run.

    python -m deploy.bench.scaling [--questionnaires M] [--concurrency W]

Against the running local stack (`make up`, with the front door). Prepares two cohorts of about M
questionnaires (M/10 cycles of ten raters, asked for on Kafka, each rater's link read from their
invitation email) and two cycles more each to warm up on. Then `services.sh scale ratings=1`, and W
raters at a time answer the first cohort over HTTPS through the front door (every page, then send);
then `scale ratings=2` and the second cohort. A questionnaire counts once reports has stored its
response, consumed from RatingSubmitted: the rate runs from the first timed request until the
last response is in reports' database (the HTTP-only rate, until ratings stored the last one, is
printed beside it). Prints both rates and their ratio; scales ratings back to one instance at the end.
The machine's cores are shared by the raters' client, the front door, PostgreSQL, Kafka and all
services, so the ratio measures this machine, not the service alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from uuid import UUID, uuid4

from deploy.bench.cohort import RATERS_PER_CYCLE, Questionnaire, prepare_cohort
from deploy.bench.cpu import CpuMark, CpuUse
from deploy.bench.load import LoadProgress, Raters
from deploy.bench.stack import BenchSettings, connect, front_door, instance_pids, scale

WARM_CYCLES = 2  # answered before the clock starts: connections, pools and caches of a new instance


@dataclass(frozen=True)
class Run:
    instances: int
    questionnaires: int
    http_seconds: float  # first request until ratings had stored the last response
    seconds: float  # first request until reports had stored the last response
    progress: LoadProgress
    cpu: CpuUse  # while the raters answered

    @property
    def rate(self) -> float:
        return self.questionnaires / self.seconds

    def line(self) -> str:
        return (
            f"ratings x{self.instances}: {self.rate:6.1f} questionnaires/s end to end "
            f"({self.questionnaires} in {self.seconds:.1f} s to reports' database; HTTP {self.http_seconds:.1f} s, "
            f"{self.questionnaires / self.http_seconds:.1f}/s; {self.progress.requests} requests, "
            f"{self.progress.resent.total()} sent again)\n"
            f"            CPU cores in use: ratings {self.cpu.services:.2f}, this client {self.cpu.client:.2f}, "
            f"the machine {self.cpu.machine_busy:.2f} of {os.cpu_count()}"
        )


def split_warm(cohort: list[Questionnaire]) -> tuple[list[Questionnaire], list[Questionnaire]]:
    """The first WARM_CYCLES cycles' questionnaires, and the others' shuffled (raters of every cycle at once)."""
    by_cycle: dict[UUID, list[Questionnaire]] = defaultdict(list)
    for questionnaire in cohort:
        by_cycle[questionnaire.cycle_id].append(questionnaire)
    cycles = list(by_cycle.values())
    warm = [q for cycle in cycles[:WARM_CYCLES] for q in cycle]
    timed = [q for cycle in cycles[WARM_CYCLES:] for q in cycle]
    random.Random(len(timed)).shuffle(timed)
    return warm, timed


async def stored_in_reports(settings: BenchSettings, cohort: list[Questionnaire], *, timeout: float) -> float:
    """Wait until reports has stored every response of the cohort: the time.monotonic() it had."""
    cycle_ids = list({q.cycle_id for q in cohort})
    reports = await connect(settings.reports_database_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            count = await reports.fetchval("SELECT count(*) FROM reports.response WHERE cycle_id = ANY($1)", cycle_ids)
            if count >= len(cohort):
                return time.monotonic()
            await asyncio.sleep(0.05)
        raise TimeoutError(f"reports stored {count} of {len(cohort)} responses in {timeout:.0f}s")
    finally:
        await reports.close()


async def reports_generated(settings: BenchSettings, cohort: list[Questionnaire], *, timeout: float) -> None:
    """Wait until every cycle of the cohort has its report, so the next run starts on a quiet stack."""
    cycle_ids = list({q.cycle_id for q in cohort})
    reports = await connect(settings.reports_database_url)
    try:
        deadline = time.monotonic() + timeout
        while await reports.fetchval("SELECT count(*) FROM reports.report WHERE cycle_id = ANY($1)", cycle_ids) < len(
            cycle_ids
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reports of the cohort not generated after {timeout:.0f}s")
            await asyncio.sleep(0.2)
    finally:
        await reports.close()


async def measure(settings: BenchSettings, cohort: list[Questionnaire], *, instances: int, concurrency: int) -> Run:
    """Scale ratings to `instances`, warm up, then time the rest of the cohort end to end."""
    await asyncio.to_thread(scale, ratings=instances)
    warm, timed = split_warm(cohort)
    async with front_door(settings, connections=concurrency) as http:
        raters = Raters(http, concurrency=concurrency)
        await raters.answer_all(warm, LoadProgress(total=len(warm)))
        progress = LoadProgress(total=len(timed))
        pids = list(instance_pids(settings.hlm360_local_dir, "ratings").values())
        mark = CpuMark.now(pids)
        await raters.answer_all(timed, progress)
        answered = CpuMark.now(pids)
    stored = await stored_in_reports(settings, timed, timeout=300)
    await reports_generated(settings, cohort, timeout=300)
    cpu = CpuUse.between(mark, answered)
    return Run(instances, len(timed), answered.at - mark.at, stored - mark.at, progress, cpu)


async def bench(questionnaires: int, concurrency: int) -> tuple[Run, Run]:
    settings = BenchSettings()  # type: ignore[call-arg]
    cycles = max(1, round(questionnaires / RATERS_PER_CYCLE)) + WARM_CYCLES
    print(
        f"scaling bench: {(cycles - WARM_CYCLES) * RATERS_PER_CYCLE} questionnaires per run ({cycles - WARM_CYCLES} "
        f"cycles of {RATERS_PER_CYCLE} raters, {WARM_CYCLES} more to warm up), {concurrency} raters at a time, "
        f"through {settings.hlm360_frontdoor_url}; {os.cpu_count()} CPUs",
        flush=True,
    )
    tag = f"bench{uuid4().hex[:6]}"
    try:
        await asyncio.to_thread(scale, ratings=1)
        first, second = await asyncio.gather(
            prepare_cohort(settings, cycles=cycles, tag=f"{tag}a"),
            prepare_cohort(settings, cycles=cycles, tag=f"{tag}b"),
        )
        one = await measure(settings, first, instances=1, concurrency=concurrency)
        print(one.line(), flush=True)
        two = await measure(settings, second, instances=2, concurrency=concurrency)
        print(two.line(), flush=True)
    finally:
        await asyncio.to_thread(scale, ratings=1)
    print(f"ratio:      {two.rate / one.rate:.2f} (two instances / one, end to end)")
    return one, two


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questionnaires", type=int, default=200, help="per run (default 200: 20 cycles)")
    parser.add_argument("--concurrency", type=int, default=24, help="raters answering at once (default 24)")
    args = parser.parse_args(argv)
    asyncio.run(bench(args.questionnaires, args.concurrency))


if __name__ == "__main__":
    main()
