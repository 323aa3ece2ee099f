"""Per-hour figures of a lake window, for the metadata of each hourly materialization.

A run materializes a window of hours (one hour for a micro-batch, a day for a backfill), and Dagster
records one materialization per hour; these figures are that hour's own, so the UI's plots by
partition and over time compare like with like. Counted after the write with one grouped scan per
table (a column of Parquet, with partition pruning), not from the run's totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shopper_assets.contract.time_grid import hours_in
from shopper_assets.storage.lake_store import LakeSession


@dataclass(frozen=True)
class HourFigures:
    raw_rows: int = 0
    cleaned_rows: int = 0
    quarantined_rows: int = 0
    #: seconds from the hour's newest cleaned event to now (the materialization): how far behind the events it runs
    lag_seconds: float | None = None

    @property
    def duplicates_dropped(self) -> int:
        return self.raw_rows - self.cleaned_rows - self.quarantined_rows

    @property
    def quarantine_ratio(self) -> float:
        return self.quarantined_rows / self.raw_rows if self.raw_rows else 0.0


def _per_hour(session: LakeSession, table: str, start: datetime, end: datetime) -> dict[datetime, int]:
    rows = session.con.execute(
        f"SELECT event_hour, count(*) FROM ({session.scan(table, start, end)}) GROUP BY 1"
    ).fetchall()
    return {hour: int(n) for hour, n in rows}


def raw_rows_per_hour(session: LakeSession, start: datetime, end: datetime) -> dict[datetime, int]:
    """Lines of raw_events per hour of [start, end) (0 for hours without any)."""
    counted = _per_hour(session, "raw_events", start, end)
    return {hour: counted.get(hour, 0) for hour in hours_in(start, end)}


def hour_figures(session: LakeSession, start: datetime, end: datetime, now: datetime) -> dict[datetime, HourFigures]:
    """Raw, cleaned and quarantined rows and the lag of every hour of [start, end)."""
    raw = _per_hour(session, "raw_events", start, end)
    cleaned = _per_hour(session, "cleaned_events", start, end)
    quarantined = _per_hour(session, "quarantined_events", start, end)
    newest = dict(
        session.con.execute(
            f"SELECT event_hour, max(event_time) FROM ({session.scan('cleaned_events', start, end)}) GROUP BY 1"
        ).fetchall()
    )
    return {
        hour: HourFigures(
            raw.get(hour, 0),
            cleaned.get(hour, 0),
            quarantined.get(hour, 0),
            (now - newest[hour]).total_seconds() if hour in newest else None,
        )
        for hour in hours_in(start, end)
    }
