"""Late events reach the hour of their event_time; duplicates are dropped across files and hours;
re-materializing is idempotent."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.lake.pipeline import clean_window, ingest_raw
from shopper_assets.quality import checks
from shopper_assets.storage.lake_store import LocalLakeStore
from tests.conftest import write_landing_file
from tests.lake.events import event

DAY = datetime(2026, 11, 20)
LATE = 6


def materialize(data_dir: Path, start: datetime, end: datetime):
    store = LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"))
    with store.session() as s:
        ingest_raw(s, LocalLandingZone(data_dir=str(data_dir)), start, end, LATE)
        stats = clean_window(s, start, end)
        assert checks.raw_reconciles(s, start, end).passed
        assert checks.unique_event_id(s, start, end, LATE).passed
    return stats


def table(data_dir: Path, name: str, start: datetime, end: datetime, cols: str = "*") -> list[tuple]:
    store = LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"))
    with store.session() as s:
        return s.con.execute(f"SELECT {cols} FROM ({s.scan(name, start, end)}) ORDER BY ALL").fetchall()


def test_late_event_lands_in_its_event_hour(data_dir: Path):
    h10, h12 = DAY + timedelta(hours=10), DAY + timedelta(hours=12)
    on_time = event(at=h10 + timedelta(minutes=5))
    late = event(at=h10 + timedelta(minutes=40))  # delivered two hours late, in the 12:00 folder
    write_landing_file(data_dir, h10, "a.jsonl.gz", [on_time])
    write_landing_file(data_dir, h12, "b.jsonl.gz", [event(at=h12), late])

    materialize(data_dir, DAY, DAY + timedelta(days=1))

    hour_10 = table(data_dir, "cleaned_events", h10, h10 + timedelta(hours=1), "event_id, _landing_hour")
    assert hour_10 == sorted([(on_time["event_id"], h10), (late["event_id"], h12)])
    assert len(table(data_dir, "cleaned_events", h12, h12 + timedelta(hours=1))) == 1
    raw_10 = table(data_dir, "raw_events", h10, h10 + timedelta(hours=1), "source_file, line_number")
    assert raw_10 == [("date=2026-11-20/hour=10/a.jsonl.gz", 1), ("date=2026-11-20/hour=12/b.jsonl.gz", 2)]


def test_late_event_reaches_an_already_materialized_hour_on_rematerialization(data_dir: Path):
    h10, h13 = DAY + timedelta(hours=10), DAY + timedelta(hours=13)
    write_landing_file(data_dir, h10, "a.jsonl.gz", [event(at=h10)])
    materialize(data_dir, h10, h10 + timedelta(hours=1))
    late = event(at=h10 + timedelta(minutes=30))
    write_landing_file(data_dir, h13, "late.jsonl.gz", [late])
    # The 10:00 partition depends on folders 10:00..16:00, so it is re-materialized after 13:00 lands.
    materialize(data_dir, h10, h10 + timedelta(hours=1))
    ids = [r[0] for r in table(data_dir, "cleaned_events", h10, h10 + timedelta(hours=1), "event_id")]
    assert late["event_id"] in ids and len(ids) == 2


def test_event_later_than_the_window_is_quarantined_not_lost(data_dir: Path):
    h2, h12 = DAY + timedelta(hours=2), DAY + timedelta(hours=12)
    too_late = event(at=h2)  # 10 hours late, beyond the 6 h window
    write_landing_file(data_dir, h12, "b.jsonl.gz", [too_late])
    materialize(data_dir, DAY, DAY + timedelta(days=1))
    q = table(data_dir, "quarantined_events", DAY, DAY + timedelta(days=1), "event_id, reason, event_hour")
    assert q == [(too_late["event_id"], "late_beyond_lookback", h12)]


def test_duplicates_across_files_and_hours_are_dropped(data_dir: Path):
    h10, h11, h20 = (DAY + timedelta(hours=h) for h in (10, 11, 20))
    e = event(at=h10 + timedelta(minutes=1))
    write_landing_file(data_dir, h10, "a.jsonl.gz", [e, e])  # same file twice
    write_landing_file(data_dir, h10, "b.jsonl.gz", [e])  # another file
    write_landing_file(data_dir, h11, "c.jsonl.gz", [e])  # a later hour, within the window
    write_landing_file(data_dir, h20, "d.jsonl.gz", [e])  # ten hours later: beyond the window, still a duplicate
    stats_day = materialize(data_dir, DAY, DAY + timedelta(days=1))
    cleaned = table(data_dir, "cleaned_events", DAY, DAY + timedelta(days=1), "event_id, _source_file, _line_number")
    assert cleaned == [(e["event_id"], "date=2026-11-20/hour=10/a.jsonl.gz", 1)]  # first delivery wins
    assert table(data_dir, "quarantined_events", DAY, DAY + timedelta(days=1)) == []
    assert stats_day.raw_rows == 5 and stats_day.duplicates_dropped == 4 and stats_day.late_duplicates == 1


def test_rematerializing_is_idempotent_and_leaves_no_leftovers(data_dir: Path):
    h10 = DAY + timedelta(hours=10)
    write_landing_file(data_dir, h10, "a.jsonl.gz", [event(at=h10), event(at=h10), "not json"])
    b = write_landing_file(data_dir, h10, "b.jsonl.gz", [event(at=h10)])
    first = materialize(data_dir, DAY, DAY + timedelta(days=1))
    again = materialize(data_dir, DAY, DAY + timedelta(days=1))
    assert (first.raw_rows, first.cleaned_rows, first.quarantined_rows) == (4, 3, 1)
    assert (again.raw_rows, again.cleaned_rows, again.quarantined_rows) == (4, 3, 1)
    assert len(table(data_dir, "cleaned_events", DAY, DAY + timedelta(days=1))) == 3
    b.unlink()  # a file withdrawn from landing disappears from every layer on re-materialization
    materialize(data_dir, DAY, DAY + timedelta(days=1))
    assert len(table(data_dir, "raw_events", DAY, DAY + timedelta(days=1))) == 3
    assert len(table(data_dir, "cleaned_events", DAY, DAY + timedelta(days=1))) == 2


def test_one_hour_rematerialized_leaves_the_others_alone(data_dir: Path):
    for h in range(24):
        write_landing_file(data_dir, DAY + timedelta(hours=h), "a.jsonl.gz", [event(at=DAY + timedelta(hours=h))])
    materialize(data_dir, DAY, DAY + timedelta(days=1))
    h5 = DAY + timedelta(hours=5)
    materialize(data_dir, h5, h5 + timedelta(hours=1))
    assert len(table(data_dir, "cleaned_events", DAY, DAY + timedelta(days=1))) == 24
