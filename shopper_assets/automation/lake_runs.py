"""Run requests shared by the sensors: the lake step for the hours a landing touched, ``ad_spend`` for
the days an ad-spend landing touched, and what a run in progress covers (``marts_runs.py`` follows
those). The ingestion sensors' tick skeleton is ``landing_tick.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import TypeVar

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
)

from shopper_assets.contract.time_grid import hour_key, hours_in
from shopper_assets.partitions import Partitions, current_partitions

# Dagster's documented run tags: a single-run range of partitions, one partition, run priority.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"
PRIORITY_TAG = "dagster/priority"

LAKE_STEP = [AssetKey("raw_events"), AssetKey("cleaned_events"), AssetKey("quarantined_events")]
AD_SPEND = [AssetKey("ad_spend")]
LAKE_JOB = "lake_job"  # the named jobs of automation/jobs.py that these requests run on
MARTS_JOB = "marts_job"
LAKE_RUN_TAG = "shopper/lake_step"  # marks the runs the ingestion sensors request
LAKE_RUN_RETRIES = 2  # needs run_retries enabled in dagster.yaml
# Run priority of the lake runs: it orders the run queue and the claims on the duckdb pool, so a lake
# step waiting next to a dbt step goes first and the dbt step reads what it wrote (automation/marts_runs.py).
LAKE_RUN_PRIORITY = 1
_NOT_LAUNCHED = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED]
IN_PROGRESS = [*_NOT_LAUNCHED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


T = TypeVar("T", datetime, date)


def contiguous_ranges(hours: Iterable[T], step: timedelta = timedelta(hours=1)) -> list[tuple[T, T]]:
    """Sorted hours (or days, with ``step`` one day) grouped into (first, last) runs of consecutive ones."""
    ranges: list[tuple[T, T]] = []
    for h in sorted(set(hours)):
        if ranges and h - ranges[-1][1] == step:
            ranges[-1] = (ranges[-1][0], h)
        else:
            ranges.append((h, h))
    return ranges


def day_key(day: date) -> str:
    return f"{day:%Y-%m-%d}"


def ad_spend_run_requests(days: list[date], reason: str) -> list[RunRequest]:
    """One single-run backfill of ``ad_spend`` per contiguous range of days."""
    return range_run_requests(
        contiguous_ranges(days, timedelta(days=1)), day_key, AD_SPEND, reason, MARTS_JOB, run_key_prefix="ad_spend:"
    )


def lake_run_requests(hours: list[datetime], reason: str) -> list[RunRequest]:
    """One single-run backfill of the lake step per contiguous range of hours."""
    tags = {
        LAKE_RUN_TAG: "true",
        PRIORITY_TAG: str(LAKE_RUN_PRIORITY),
        # later ticks may leave their files to this run (not_yet_queued): retry it if it fails
        "dagster/max_retries": str(LAKE_RUN_RETRIES),
    }
    return range_run_requests(contiguous_ranges(hours), hour_key, LAKE_STEP, reason, LAKE_JOB, tags)


def range_run_requests(
    ranges: list[tuple[T, T]],
    key: Callable[[T], str],
    selection: list[AssetKey],
    reason: str,
    job_name: str,
    tags: dict[str, str] | None = None,
    run_key_prefix: str = "",
) -> list[RunRequest]:
    """A run of ``selection`` (in job ``job_name``) per (first, last) partition range, as a single-run
    backfill (range tags)."""
    return [
        RunRequest(
            run_key=f"{reason}:{run_key_prefix}{key(first)}..{key(last)}",
            job_name=job_name,
            asset_selection=selection,
            tags={
                RANGE_START_TAG: key(first),
                RANGE_END_TAG: key(last),
                "shopper/trigger": reason.split(":")[0],
                **(tags or {}),
            },
        )
        for first, last in ranges
    ]


def not_yet_queued(hours: list[datetime], instance: DagsterInstance) -> list[datetime]:
    """The hours no waiting lake run covers yet.

    A lake run lists an hour's landing files when its first step starts, so a run whose steps have
    not started (queued, or launched and waiting for the ``duckdb`` pool behind a dbt run) will also
    read the files landed since it was requested: asking for another run of the same hour would
    only add work. Under a steady stream this keeps at most one waiting run per hour instead of a
    queue that grows with every tick. The sensor calls this after its files are durable, and a step
    is recorded as started before it lists files, so a run counted here sees them.
    """
    covered: set[datetime] = set()
    for run in instance.get_runs(RunsFilter(statuses=IN_PROGRESS, tags={LAKE_RUN_TAG: "true"})):
        keys = partition_key_range(run)
        if not keys or steps_started(instance, run):
            continue
        covered.update(hours_in(_from_key(keys[0]), _from_key(keys[1]) + timedelta(hours=1)))
    return [h for h in hours if h not in covered]


def partition_key_range(run: DagsterRun) -> tuple[str, str] | None:
    """(first, last) partition key of a run: its range tags, or its single partition."""
    first = run.tags.get(RANGE_START_TAG) or run.tags.get(PARTITION_TAG)
    last = run.tags.get(RANGE_END_TAG) or run.tags.get(PARTITION_TAG)
    return (first, last) if first and last else None


def steps_started(instance: DagsterInstance, run: DagsterRun) -> bool:
    """Whether a step of the run has started (so it holds, or held, the duckdb pool's slot)."""
    if run.status in _NOT_LAUNCHED:
        return False
    return bool(instance.get_records_for_run(run.run_id, of_type=DagsterEventType.STEP_START, limit=1).records)


def _from_key(key: str) -> datetime:
    return datetime.strptime(key, "%Y-%m-%d-%H:%M")


def location_partitions(context: SensorEvaluationContext) -> Partitions:
    """The partitions of the sensor's code location (as its definitions were built), or those of the
    settings when the sensor is evaluated outside a code location."""
    if context.repository_def is None:
        return current_partitions()
    graph = context.repository_def.asset_graph
    return Partitions(graph.get(LAKE_STEP[0]).partitions_def, graph.get(AD_SPEND[0]).partitions_def)


def lake_runs_for(context: SensorEvaluationContext, hours: list[datetime], reason: str) -> list[RunRequest]:
    """Lake runs for the hours that no waiting run covers yet (see not_yet_queued)."""
    return lake_run_requests(not_yet_queued(hours, context.instance), reason)
