"""A generated day with every dirty-data knob on: each malformed line is quarantined with the right
reason, duplicates and late events are handled, and every landed line is accounted for."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from shopper_assets.generator import DirtyDataConfig, GeneratorConfig, write_landing
from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.lake.pipeline import clean_window, ingest_raw
from shopper_assets.quality.checks import CheckThresholds, run_all
from shopper_assets.storage.lake_store import LocalLakeStore

EXPECTED_REASON = {
    "not_json": "invalid_json",
    "wrong_type": "invalid_type",
    "missing_required": "missing_required_field",
    "unknown_event_type": "unknown_event_type",
    "negative_price": "negative_price",
    "future_timestamp": "future_timestamp",
    "invalid_utf8": "invalid_utf8",
}


def test_dirty_generated_day_reconciles(data_dir: Path):
    day = date(2026, 11, 20)
    dirty = DirtyDataConfig(duplicate_rate=0.02, late_rate=0.03, late_max_hours=3, malformed_rate=0.01)
    summary = write_landing(
        GeneratorConfig(start=day, events_per_day=20_000, seed=7, dirty=dirty), data_dir, progress=False
    )
    assert summary.duplicates > 0 and summary.late > 0 and all(summary.malformed.values())

    start = datetime(2026, 11, 20)
    end = start + timedelta(days=1)
    store = LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"))
    with store.session() as s:
        raw = ingest_raw(s, LocalLandingZone(data_dir=str(data_dir)), start, end, late_hours=6)
        stats = clean_window(s, start, end)
        results = {r.check_name: r for r in run_all(s, start, end, CheckThresholds(), 6)}
        late_in_place = s.con.execute(
            f"SELECT count(*) FROM ({s.scan('cleaned_events', start, end)}) WHERE _landing_hour > event_hour"
        ).fetchone()[0]

    assert raw.rows == summary.lines
    assert stats.cleaned_rows == summary.events  # every good event exactly once
    assert stats.duplicates_dropped == summary.duplicates
    want = {}
    for kind, n in summary.malformed.items():
        want[EXPECTED_REASON[kind]] = want.get(EXPECTED_REASON[kind], 0) + n
    assert stats.quarantined_by_reason == want
    assert late_in_place >= summary.late  # late deliveries sit in the hour of their event_time
    assert results["raw_reconciles"].passed, results["raw_reconciles"].metadata
    assert results["unique_event_id"].passed
    assert results["quarantine_ratio"].passed  # 1% malformed < 5% threshold
