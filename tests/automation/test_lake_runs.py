"""Sensor run requests: one waiting lake run per hour, however many ticks land files for it."""

from __future__ import annotations

from datetime import datetime

from dagster import DagsterEvent, DagsterEventType, DagsterInstance, DagsterRunStatus
from dagster._core.storage.dagster_run import DagsterRun

from shopper_assets.automation.lake_runs import lake_run_requests, not_yet_queued

H = [datetime(2026, 11, 20, h) for h in range(6)]


def add_run(instance: DagsterInstance, status: DagsterRunStatus, first: datetime, last: datetime) -> DagsterRun:
    (request,) = lake_run_requests([first, last] if first != last else [first], "kafka:test")
    if first != last:  # contiguous_ranges made one request for the whole range
        assert request.tags["dagster/asset_partition_range_end"] == f"{last:%Y-%m-%d-%H}:00"
    return instance.add_run(DagsterRun(job_name="__ASSET_JOB", status=status, tags=request.tags))


def test_hours_of_a_waiting_run_are_not_requested_again():
    with DagsterInstance.ephemeral() as instance:
        add_run(instance, DagsterRunStatus.NOT_STARTED, H[1], H[2])  # QUEUED needs a code-location origin
        assert not_yet_queued(H[:4], instance) == [H[0], H[3]]


def test_launched_runs_cover_their_hours_until_a_step_starts():
    """A launched run waiting for the duckdb pool has not listed files yet; once a step started, it has."""
    with DagsterInstance.ephemeral() as instance:
        add_run(instance, DagsterRunStatus.STARTING, H[0], H[0])
        add_run(instance, DagsterRunStatus.STARTED, H[1], H[1])
        running = add_run(instance, DagsterRunStatus.STARTED, H[2], H[2])
        instance.report_dagster_event(
            DagsterEvent(DagsterEventType.STEP_START.value, job_name="__ASSET_JOB", step_key="lake_step"),
            run_id=running.run_id,
        )
        add_run(instance, DagsterRunStatus.SUCCESS, H[3], H[3])
        assert not_yet_queued(H[:4], instance) == [H[2], H[3]]


def test_runs_not_requested_by_the_sensors_are_ignored():
    with DagsterInstance.ephemeral() as instance:
        instance.add_run(
            DagsterRun(
                job_name="__ASSET_JOB",
                status=DagsterRunStatus.NOT_STARTED,
                tags={
                    "dagster/asset_partition_range_start": "2026-11-20-01:00",
                    "dagster/asset_partition_range_end": "2026-11-20-01:00",
                },
            )
        )
        assert not_yet_queued(H[:2], instance) == H[:2]
