"""The lake steps as plain functions over a LakeSession, so assets, tests and benchmarks share them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyarrow as pa

from shopper_assets.contract.tables import QUARANTINED_EVENTS
from shopper_assets.contract.time_grid import hours_in
from shopper_assets.ingestion.landing import LandingZone
from shopper_assets.lake.cleaning import (
    classified_sql,
    cleaned_rows_sql,
    leftover_keys_sql,
    leftovers_sql,
    rejected_rows_sql,
)
from shopper_assets.lake.raw import LandedBatch, landed_reader, landing_hours_for, read_landed, routing_sql
from shopper_assets.storage.lake_store import InputsByHour, LakeSession, consumed, sql_ts, window_filter

PENDING = "(pending: quarantine not written yet)"


@dataclass
class RawStats:
    rows: int  # lines in the window's partitions after the write
    files: int  # landing files the window's hours draw on
    landing_hours: int
    routed_from_later_folders: int = 0
    files_read: int = 0  # of those, the files read by this run (new or changed)
    rows_added: int = 0
    hours_appended: int = 0  # hours that only gained the lines of new files
    hours_rebuilt: int = 0  # hours rewritten whole (first build, or an input changed or vanished)
    versions: dict[datetime, dict[str, str]] = field(default_factory=dict)  # the folders' files as listed


@dataclass
class CleaningStats:
    raw_rows: int
    cleaned_rows: int
    quarantined_rows: int
    late_duplicates: int
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    raw_parts_processed: int = 0
    raw_rows_processed: int = 0  # raw lines this run classified (all of the window's when rebuilt)
    rebuilt: bool = True  # False: only raw parts new since the last run were cleaned and appended

    @property
    def duplicates_dropped(self) -> int:
        return self.raw_rows - self.cleaned_rows - self.quarantined_rows


def ingest_raw(session: LakeSession, landing: LandingZone, start: datetime, end: datetime, late_hours: int) -> RawStats:
    """Bring raw_events for [start, end) in line with the landing zone, reading only what is new.

    An hour's lines come from the files of its folder and the ``late_hours`` folders after it.
    Each partition records the files (and their versions) it was built from, so a run reads only
    files landed since, and appends their lines as a new part: a micro-batch costs its own size,
    not its hour's. An hour whose recorded file changed or vanished, or that has no trustworthy
    record, is rebuilt whole from all its files. Either way the result is the same rows.
    """
    hours = hours_in(start, end)
    folders = landing_hours_for(start, end, late_hours)
    versions = {folder: landing.file_versions(folder) for folder in folders}
    plan: InputsByHour = {}  # hour -> the files whose lines this run writes into it
    rebuild: list[datetime] = []
    for hour in hours:
        candidates = {
            n: v for f in folders if hour <= f <= hour + timedelta(hours=late_hours) for n, v in versions[f].items()
        }
        batches = session.batches("raw_events", hour)
        seen = consumed(batches) if batches else None  # never written (nothing to keep) or untrusted
        if seen is None or any(candidates.get(name) != version for name, version in seen.items()):
            rebuild.append(hour)
            plan[hour] = candidates
        elif new := {n: v for n, v in candidates.items() if n not in seen}:
            plan[hour] = new
    wanted = sorted({name for files in plan.values() for name in files})
    added = 0
    if plan:
        folder_of = {name: folder for folder, files in versions.items() for name in files}
        lines_in: dict[str, int] = {}  # per file read, its lines (the batches record them: landing_checks.py)
        batches = _counted(read_landed(landing, [(folder_of[n], n) for n in wanted]), lines_in)
        session.con.register("_landed", landed_reader(batches))
        try:
            routed = routing_sql("_landed", late_hours)
            if len(rebuild) == len(hours):  # a first build or a backfill: stream straight into the files
                # every file of the hours' folders is wanted, so the window alone selects the lines
                query = f"SELECT * FROM ({routed}) AS routed WHERE {window_filter(start, end)}"
                added = session.replace_window("raw_events", start, end, query, plan, lines_in)
            else:  # which (hour, file) pairs each hour takes: all files for a rebuilt hour, new ones otherwise
                wanted_pairs = {
                    "hour": pa.array([h for h, files in plan.items() for _ in files], pa.timestamp("us")),
                    "file": [n for files in plan.values() for n in files],
                }
                session.con.register("_wanted", pa.table(wanted_pairs))
                query = f"""
                    SELECT routed.* FROM ({routed}) AS routed
                    SEMI JOIN _wanted ON routed.event_hour = _wanted.hour AND routed.source_file = _wanted.file
                """
                added = _write_mixed(session, "raw_events", query, plan, rebuild, lines_in)
        finally:
            session.con.unregister("_landed")
            session.con.unregister("_wanted")  # a no-op when it was not registered
    raw = session.scan("raw_events", start, end)
    rows, later = session.con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE landing_hour >= {sql_ts(end)}) FROM ({raw})"
    ).fetchall()[0]
    return RawStats(
        rows=rows,
        files=sum(len(files) for files in versions.values()),
        landing_hours=len(folders),
        routed_from_later_folders=later,
        files_read=len(wanted),
        rows_added=added,
        hours_appended=len(plan) - len(rebuild),
        hours_rebuilt=len(rebuild),
        versions=versions,
    )


def _counted(batches: Iterator[LandedBatch], lines_in: dict[str, int]) -> Iterator[LandedBatch]:
    """The batches, noting each file's lines in ``lines_in`` as it streams by (before its rows are written)."""
    for batch in batches:
        lines_in[batch.name] = batch.lines.num_rows
        yield batch


def clean_window(session: LakeSession, start: datetime, end: datetime) -> CleaningStats:
    """Bring cleaned_events and quarantined_events for [start, end) in line with raw_events.

    Valid events go to cleaned_events once per event_id (the first delivery wins: earliest landing
    hour, then file name, then line); every other line goes to quarantine with a reason, except
    duplicates. A line that arrived after the late-arrival window counts as a duplicate when its
    event is already in cleaned_events, and is quarantined otherwise.

    The cleaned partitions record which raw parts they were made from, so a run only cleans the raw
    parts added since and appends the result. It rebuilds the window whole when a consumed raw part
    is gone (raw was rebuilt), when the two tables' records disagree (a run died between them), or
    when a new line would win over a kept row of the same event_id (the rows then differ from what
    a rebuild gives). So the result is always that of a full rebuild.
    """
    hours = hours_in(start, end)
    raw_parts = {h: dict.fromkeys(session.part_names("raw_events", h), "") for h in hours}
    new_parts: InputsByHour | None = {}
    cleaned_before = False
    for hour in hours:
        done = [session.batches(t, hour) for t in ("cleaned_events", "quarantined_events")]
        if None in done:
            new_parts = None
            break
        cleaned_from, quarantined_from = consumed(done[0]), consumed(done[1])
        if cleaned_from != quarantined_from or not cleaned_from.keys() <= raw_parts[hour].keys():
            new_parts = None
            break
        cleaned_before = cleaned_before or bool(cleaned_from)
        if new := {p: v for p, v in raw_parts[hour].items() if p not in cleaned_from}:
            new_parts[hour] = new
    # A first build streams (the fast path for a backfill); later runs append what is new.
    late_duplicates, rebuilt = 0, new_parts is None or (bool(new_parts) and not cleaned_before)
    if new_parts and not rebuilt:
        late = _clean_new_parts(session, start, end, new_parts)
        rebuilt = late is None
        late_duplicates = late or 0
    if rebuilt:
        late_duplicates = _clean_all(session, start, end, raw_parts)
    quarantined = session.scan("quarantined_events", start, end)
    by_reason = dict(
        session.con.execute(f"SELECT reason, count(*) FROM ({quarantined}) GROUP BY reason ORDER BY reason").fetchall()
    )
    processed = raw_parts if rebuilt else (new_parts or {})
    raw_rows = session.count("raw_events", start, end)
    return CleaningStats(
        raw_rows=raw_rows,
        cleaned_rows=session.count("cleaned_events", start, end),
        quarantined_rows=sum(by_reason.values()),
        late_duplicates=late_duplicates,
        quarantined_by_reason=by_reason,
        raw_parts_processed=sum(len(p) for p in processed.values()),
        raw_rows_processed=raw_rows if rebuilt else _rows_of(session, processed),
        rebuilt=rebuilt,
    )


def _rows_of(session: LakeSession, parts: InputsByHour) -> int:
    """Lines in the given raw parts (Parquet row counts)."""
    if not parts:
        return 0
    return session.con.execute(f"SELECT count(*) FROM ({session.scan_parts('raw_events', parts)})").fetchall()[0][0]


def _clean_all(session: LakeSession, start: datetime, end: datetime, raw_parts: InputsByHour) -> int:
    """Rebuild the window's cleaned and quarantined partitions from all of its raw lines, an hour at a time.

    Events are deduplicated per hour (``cleaned_rows_sql``), so hours are independent: one at a time, the
    dedupe's window holds an hour's rows rather than the whole window's, and the step's memory stays that
    of an hour however long the window (a 10M-event day in a few GiB without spilling; docs/benchmarks.md).
    Hours without raw lines go with the next hour that has some, so a sparse window of thousands of
    hours (a stray event_time months back) costs a query per hour with lines, not per hour.
    """
    chunks = _chunks(hours_in(start, end), raw_parts)
    return sum(_clean_chunk(session, first, last, raw_parts) for first, last in chunks)


def _chunks(hours: list[datetime], raw_parts: InputsByHour) -> list[tuple[datetime, datetime]]:
    """Consecutive runs of ``hours``, each [first, last) holding at most one hour with raw parts."""
    chunks, first, holds_lines = [], hours[0], False
    for hour in hours:
        if raw_parts[hour] and holds_lines:
            chunks.append((first, hour))
            first, holds_lines = hour, False
        holds_lines = holds_lines or bool(raw_parts[hour])
    chunks.append((first, hours[-1] + timedelta(hours=1)))
    return chunks


def _clean_chunk(session: LakeSession, start: datetime, end: datetime, raw_parts: InputsByHour) -> int:
    """Rebuild the cleaned and quarantined partitions of [start, end) from all of its raw lines."""
    raw_parts = {hour: raw_parts[hour] for hour in hours_in(start, end)}
    raw = session.scan("raw_events", start, end)
    # Valid lines stream from the parse into the dedupe and the Parquet writer; the few lines that
    # did not arrive in cleaned_events are then found by lineage and classified again for a reason.
    # cleaned_events records a made-up input until quarantine is written as well: a run that dies
    # in between leaves a record no raw part matches, so the next run rebuilds.
    pending = {h: {PENDING: ""} for h in raw_parts}  # until quarantine is written too (see below)
    session.replace_window("cleaned_events", start, end, cleaned_rows_sql(classified_sql(raw)), pending)
    keys = leftover_keys_sql(raw, session.scan("cleaned_events", start, end))
    session.con.execute(f"CREATE OR REPLACE TEMP TABLE _leftovers AS {keys}")
    (leftover,) = session.con.execute("SELECT count(*) > 0 FROM _leftovers").fetchall()[0]
    lines = raw if leftover else f"SELECT * FROM ({raw}) AS r WHERE false"  # none: the lines are not read
    leftovers = leftovers_sql(lines, "SELECT * FROM _leftovers")
    session.con.execute(f"CREATE OR REPLACE TEMP TABLE _rejected AS {rejected_rows_sql(classified_sql(leftovers))}")
    session.con.execute("DROP TABLE _leftovers")
    late_duplicates = _drop_late_duplicates(session)
    cols = ", ".join(QUARANTINED_EVENTS.column_names)
    session.replace_window("quarantined_events", start, end, f"SELECT {cols} FROM _rejected", raw_parts)
    session.con.execute("DROP TABLE _rejected")
    session.record_inputs("cleaned_events", raw_parts)
    return late_duplicates


def _clean_new_parts(session: LakeSession, start: datetime, end: datetime, new_parts: InputsByHour) -> int | None:
    """Clean only the given new raw parts and append the results; None if the window needs a rebuild.

    Returns the late duplicates dropped.
    """
    con = session.con
    con.execute(f"CREATE OR REPLACE TEMP TABLE _new AS {classified_sql(session.scan_parts('raw_events', new_parts))}")
    try:
        cleaned = session.scan("cleaned_events", start, end)
        kept = f"SELECT event_hour, event_id, _landing_hour, _source_file, _line_number FROM ({cleaned})"
        same = "n.event_hour = k.event_hour AND n.event_id = k.event_id"  # events are deduplicated per hour
        # A new line that comes before the kept row of its event_id would win a rebuild: rebuild.
        (earlier,) = con.execute(f"""
            SELECT count(*) FROM _new AS n JOIN ({kept}) AS k ON {same}
            WHERE n.reason IS NULL AND (n.landing_hour, n.source_file, n.line_number)
                                       < (k._landing_hour, k._source_file, k._line_number)
        """).fetchall()[0]
        if earlier:
            return None
        fresh = f"SELECT n.* FROM _new AS n ANTI JOIN ({kept}) AS k ON {same}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE _rejected AS {rejected_rows_sql('SELECT * FROM _new')}")
        new_kept = "SELECT event_hour, event_id FROM _new WHERE reason IS NULL"
        late_duplicates = _drop_late_duplicates(session, also_kept=new_kept)
        cols = ", ".join(QUARANTINED_EVENTS.column_names)
        session.append_window("quarantined_events", start, end, f"SELECT {cols} FROM _rejected", new_parts)
        session.append_window("cleaned_events", start, end, cleaned_rows_sql(fresh), new_parts)
        return late_duplicates
    finally:
        con.execute("DROP TABLE IF EXISTS _new")
        con.execute("DROP TABLE IF EXISTS _rejected")


def _drop_late_duplicates(session: LakeSession, also_kept: str | None = None) -> int:
    """Drop from ``_rejected`` the lines that arrived too late but whose event cleaned_events has (at
    the hour of their event_time).

    ``also_kept``: (event_hour, event_id) of rows about to be added to cleaned_events in the same run.
    """
    con = session.con
    late_hours = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT date_trunc('hour', event_time) FROM _rejected WHERE reason = 'late_beyond_lookback'"
        ).fetchall()
    ]
    if not late_hours:
        return 0
    history = " UNION ALL ".join(
        [
            f"SELECT event_hour, event_id FROM ({session.scan('cleaned_events', h, h + timedelta(hours=1))})"
            for h in late_hours
        ]
        + ([also_kept] if also_kept else [])
    )
    return con.execute(f"""
        DELETE FROM _rejected AS r WHERE reason = 'late_beyond_lookback' AND EXISTS (
            SELECT 1 FROM ({history}) AS k
            WHERE k.event_id = r.event_id AND k.event_hour = date_trunc('hour', r.event_time)
        )
    """).fetchall()[0][0]


def _write_mixed(
    session: LakeSession,
    table: str,
    query: str,
    plan: InputsByHour,
    rebuild: list[datetime],
    lines_in: dict[str, int] | None = None,
) -> int:
    """Rebuild some hours whole and append to the others, from one (small) set of rows."""
    session.con.execute(f"CREATE OR REPLACE TEMP TABLE _rows AS {query}")
    try:
        written = 0
        for hour in rebuild:
            one_hour = f"SELECT * FROM _rows WHERE event_hour = {sql_ts(hour)}"
            one = {hour: plan[hour]}
            written += session.replace_window(table, hour, hour + timedelta(hours=1), one_hour, one, lines_in)
        appends = {h: inputs for h, inputs in plan.items() if h not in rebuild}
        if appends:
            listed = ", ".join(sql_ts(h) for h in appends)
            first, last = min(appends), max(appends) + timedelta(hours=1)
            rows = f"SELECT * FROM _rows WHERE event_hour IN ({listed})"
            written += session.append_window(table, first, last, rows, appends, lines_in)
        return written
    finally:
        session.con.execute("DROP TABLE IF EXISTS _rows")
