"""The lake steps as plain functions over a LakeSession, so assets, tests and benchmarks share them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shopper_assets.ingestion.landing import LandingZone
from shopper_assets.lake.cleaning import classified_sql, cleaned_rows_sql, leftovers_sql, rejected_rows_sql
from shopper_assets.lake.raw import landed_reader, landing_hours_for, read_landed, routing_sql
from shopper_assets.lake.tables import QUARANTINED_EVENTS
from shopper_assets.storage.lake_store import LakeSession, window_filter


@dataclass
class RawStats:
    rows: int
    files: int
    landing_hours: int
    routed_from_later_folders: int = 0


@dataclass
class CleaningStats:
    raw_rows: int
    cleaned_rows: int
    quarantined_rows: int
    late_duplicates: int
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def duplicates_dropped(self) -> int:
        return self.raw_rows - self.cleaned_rows - self.quarantined_rows


def ingest_raw(session: LakeSession, landing: LandingZone, start: datetime, end: datetime, late_hours: int) -> RawStats:
    """Land every line routed to [start, end) into raw_events, replacing those partitions."""
    hours = landing_hours_for(start, end, late_hours)
    files = sum(len(landing.list_files(h)) for h in hours)
    session.con.register("_landed", landed_reader(read_landed(landing, hours)))
    try:
        query = f"SELECT * FROM ({routing_sql('_landed', late_hours)}) AS routed WHERE {window_filter(start, end)}"
        rows = session.replace_window("raw_events", start, end, query)
    finally:
        session.con.unregister("_landed")
    later = session.con.execute(
        f"SELECT count(*) FROM ({session.scan('raw_events', start, end)}) WHERE landing_hour >= {_ts(end)}"
    ).fetchone()[0]
    return RawStats(rows=rows, files=files, landing_hours=len(hours), routed_from_later_folders=later)


def clean_window(session: LakeSession, start: datetime, end: datetime) -> CleaningStats:
    """Rebuild cleaned_events and quarantined_events for [start, end) from raw_events.

    Valid events go to cleaned_events once per event_id; every other line goes to quarantine
    with a reason, except duplicates. A line that arrived after the late-arrival window counts as a
    duplicate when its event is already in cleaned_events, and is quarantined otherwise.
    """
    con = session.con
    raw = session.scan("raw_events", start, end)
    # Valid lines stream from the parse into the dedupe and the Parquet writer; the few lines that
    # did not arrive in cleaned_events are then found by lineage and classified again for a reason.
    cleaned_rows = session.replace_window("cleaned_events", start, end, cleaned_rows_sql(classified_sql(raw)))
    leftovers = leftovers_sql(raw, session.scan("cleaned_events", start, end))
    con.execute(f"CREATE OR REPLACE TEMP TABLE _rejected AS {rejected_rows_sql(classified_sql(leftovers))}")
    late_hours = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT date_trunc('hour', event_time) FROM _rejected WHERE reason = 'late_beyond_lookback'"
        ).fetchall()
    ]
    late_duplicates = 0
    if late_hours:
        history = " UNION ALL ".join(
            f"SELECT event_id FROM ({session.scan('cleaned_events', h, h.replace(minute=59))})" for h in late_hours
        )
        late_duplicates = con.execute(
            f"DELETE FROM _rejected WHERE reason = 'late_beyond_lookback' AND event_id IN ({history})"
        ).fetchone()[0]
    cols = ", ".join(QUARANTINED_EVENTS.column_names)
    quarantined = session.replace_window("quarantined_events", start, end, f"SELECT {cols} FROM _rejected")
    by_reason = dict(con.execute("SELECT reason, count(*) FROM _rejected GROUP BY reason ORDER BY reason").fetchall())
    raw_rows = con.execute(f"SELECT count(*) FROM ({raw})").fetchone()[0]
    con.execute("DROP TABLE _rejected")
    return CleaningStats(
        raw_rows=raw_rows,
        cleaned_rows=cleaned_rows,
        quarantined_rows=quarantined,
        late_duplicates=late_duplicates,
        quarantined_by_reason=by_reason,
    )


def _ts(ts: datetime) -> str:
    return f"TIMESTAMP '{ts:%Y-%m-%d %H:%M:%S}'"
