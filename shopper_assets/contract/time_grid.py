"""The contract's time grid: events belong to UTC hours (``event_hour``), reports to UTC days. Plain
datetime arithmetic, shared by every layer (the Dagster partitions over it are in ``partitions.py``)."""

from __future__ import annotations

from datetime import datetime, timedelta


def hours_in(start: datetime, end: datetime) -> list[datetime]:
    """Every hour start in [start, end)."""
    return starts_in(start, end, timedelta(hours=1))


def days_in(start: datetime, end: datetime) -> list[datetime]:
    """Every day start (midnight) in [start, end)."""
    return starts_in(start, end, timedelta(days=1))


def starts_in(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """start, start + step, ... up to (excluding) end."""
    found, t = [], start
    while t < end:
        found.append(t)
        t += step
    return found


def hour_key(hour: datetime) -> str:
    """The hourly partition key of an hour start (naive UTC)."""
    return f"{hour:%Y-%m-%d-%H:%M}"
