"""Time partitions shared by every layer: hourly for the lake, daily for dbt marts (UTC).

Built from the first day (``Settings.start_date``) when the definitions are built, never at import:
``partitions_from(settings.start_date)`` returns the same objects for the same day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from typing import NamedTuple

from dagster import DailyPartitionsDefinition, HourlyPartitionsDefinition, TimeWindow

from shopper_assets.settings import Settings

#: How far ahead of the clock an event may be stamped and still be landed in its own hour, to wait for
#: that hour's partition: a day (a producer's clock running fast). An event stamped later than that (2099)
#: is landed in the hour it arrived and quarantined.
MAX_HOURS_AHEAD = 24


class Partitions(NamedTuple):
    """The two partitionings of the platform, from one first day."""

    hourly: HourlyPartitionsDefinition
    daily: DailyPartitionsDefinition


@cache
def partitions_from(start: date) -> Partitions:
    """Hourly (lake) and daily (marts) partitions from ``start`` (SHOPPER_START_DATE).

    end_offset=1: the hour (and day) in progress is a partition too, so streamed events are processed
    while their hour is still open, and re-processed as it fills.
    """
    first = start.isoformat()
    return Partitions(
        hourly=HourlyPartitionsDefinition(start_date=f"{first}-00:00", timezone="UTC", end_offset=1),
        daily=DailyPartitionsDefinition(start_date=first, timezone="UTC", end_offset=1),
    )


def current_partitions() -> Partitions:
    """The partitions of the environment's settings, for code that runs inside a sensor or a run
    (read when asked, as the definitions read them when they are built)."""
    return partitions_from(Settings.from_env().start_date)


def first_hour() -> datetime:
    """Naive UTC start of the first partition (SHOPPER_START_DATE): a line of an earlier hour can never be
    materialized, so the lake quarantines it (read when asked, as the lake's functions are also used
    outside a code location)."""
    start = Settings.from_env().start_date
    return datetime(start.year, start.month, start.day)


def window_bounds(window: TimeWindow) -> tuple[datetime, datetime]:
    """[start, end) of a partition window as naive UTC datetimes."""
    return _to_naive_utc(window.start), _to_naive_utc(window.end)


def _to_naive_utc(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        return ts
    offset = ts.utcoffset() or timedelta(0)
    return (ts - offset).replace(tzinfo=None)
