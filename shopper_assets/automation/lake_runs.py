"""Run requests shared by the ingestion sensors: the lake step for the hours a landing touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import AssetKey, RunRequest

from shopper_assets.partitions import hourly_partitions

LAKE_STEP = [AssetKey("raw_events"), AssetKey("cleaned_events"), AssetKey("quarantined_events")]


def hour_key(hour: datetime) -> str:
    return f"{hour:%Y-%m-%d-%H}:00"


def contiguous_ranges(hours: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted hours grouped into (first, last) runs of consecutive hours."""
    ranges: list[tuple[datetime, datetime]] = []
    for h in sorted(set(hours)):
        if ranges and h - ranges[-1][1] == timedelta(hours=1):
            ranges[-1] = (ranges[-1][0], h)
        else:
            ranges.append((h, h))
    return ranges


def lake_run_requests(hours: list[datetime], reason: str) -> list[RunRequest]:
    """One single-run backfill of the lake step per contiguous range of hours."""
    return [
        RunRequest(
            run_key=f"{reason}:{hour_key(first)}..{hour_key(last)}",
            asset_selection=LAKE_STEP,
            tags={
                "dagster/asset_partition_range_start": hour_key(first),
                "dagster/asset_partition_range_end": hour_key(last),
                "shopper/trigger": reason.split(":")[0],
            },
        )
        for first, last in contiguous_ranges(hours)
    ]


def split_existing(hours: list[datetime]) -> tuple[list[datetime], list[datetime], list[datetime]]:
    """(hours that are partitions, hours still ahead of the clock, hours before the first partition)."""
    first = hourly_partitions.get_first_partition_window()
    last = hourly_partitions.get_last_partition_window()
    start = first.start.astimezone(UTC).replace(tzinfo=None) if first else datetime.max
    end = last.end.astimezone(UTC).replace(tzinfo=None) if last else datetime.min
    return (
        [h for h in hours if start <= h < end],
        [h for h in hours if h >= end],
        [h for h in hours if h < start],
    )
