"""The checks of a micro-batch count its own rows and add the stored tallies of the hour's earlier
batches: the same results as counting the hour whole, a bad batch keeps its hour failing, and
a rebuilt hour is counted afresh."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

from shopper_assets.generator import DirtyDataConfig, GeneratorConfig, write_landing
from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.lake.pipeline import clean_window, ingest_raw
from shopper_assets.quality import checks
from shopper_assets.quality.checks import CheckThresholds, stored_tallies
from shopper_assets.storage.lake_store import PARTS_MANIFEST, Batch, LocalLakeStore, partition_path
from tests.conftest import write_landing_file
from tests.lake.events import event
from tests.lake.test_incremental import chunks

DAY = datetime(2026, 11, 20)
H10 = DAY + timedelta(hours=10)
LATE = 3


def store(data_dir: Path) -> LocalLakeStore:
    return LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"), threads=2)


def checked(data_dir: Path, start: datetime, end: datetime) -> dict[str, tuple[bool, dict]]:
    """Land what is new, clean it, and run every check on [start, end): name -> (passed, metadata)."""
    with store(data_dir).session() as s:
        ingest_raw(s, LocalLandingZone(data_dir=str(data_dir)), start, end, LATE)
        clean_window(s, start, end)
        results = list(checks.run_all(s, start, end, CheckThresholds(), LATE))
    return {r.check_name: (r.passed, {k: v.value for k, v in r.metadata.items()}) for r in results}


def test_tallied_micro_batches_give_the_results_of_a_whole_count(tmp_path: Path):
    dirty = DirtyDataConfig(duplicate_rate=0.05, late_rate=0.05, late_max_hours=LATE, malformed_rate=0.03)
    generated = tmp_path / "generated"
    write_landing(
        GeneratorConfig(start=date(2026, 11, 20), events_per_day=6000, seed=3, dirty=dirty), generated, progress=False
    )
    start, end = DAY + timedelta(hours=9), DAY + timedelta(hours=13)
    streamed = tmp_path / "streamed"
    landing = LocalLandingZone(data_dir=str(streamed))
    for hour, name, data in (c for c in chunks(generated, per_file=3) if start <= c[0] < end):
        landing.write_file(hour, name, data)
        checked(streamed, hour - timedelta(hours=LATE), hour + timedelta(hours=1))

    from_tallies = checked(streamed, start, end)
    with store(streamed).session() as s:  # every batch of the window has its tallies stored
        hours = [DAY + timedelta(hours=h) for h in range(9, 13)]
        assert all(stored_tallies(b) for hour in hours for b in s.batches("cleaned_events", hour))

    recounted = tmp_path / "recounted"  # the same lake with its manifests gone: each hour counted whole
    shutil.copytree(streamed, recounted)
    for manifest in (recounted / "lake" / "cleaned_events").rglob(PARTS_MANIFEST):
        manifest.unlink()
    with store(recounted).session() as s:
        whole = {
            r.check_name: (r.passed, {k: v.value for k, v in r.metadata.items()})
            for r in checks.run_all(s, start, end, CheckThresholds(), LATE)
        }

    assert from_tallies == whole
    assert all(passed for passed, _ in whole.values()), whole
    reconciled = whole["raw_reconciles"][1]  # dirty data: the counts are not trivially zero
    assert reconciled["duplicates_dropped"] > 0 and reconciled["quarantined_rows"] > 0


def test_a_micro_batch_is_counted_on_its_own_and_a_bad_one_keeps_its_hour_failing(data_dir: Path, monkeypatch):
    hour_end = H10 + timedelta(hours=1)
    write_landing_file(data_dir, H10, "a.jsonl.gz", [event(at=H10 + timedelta(minutes=m)) for m in range(5)])
    assert all(passed for passed, _ in checked(data_dir, H10, hour_end).values())

    # The next micro-batch holds a row the cleaning let through with no user_id (a cleaning bug,
    # simulated by rewriting its part): its hour fails, and keeps failing while that row is there.
    write_landing_file(data_dir, H10, "b.jsonl.gz", [event(at=H10 + timedelta(minutes=10))])
    with store(data_dir).session() as s:
        ingest_raw(s, LocalLandingZone(data_dir=str(data_dir)), H10, hour_end, LATE)
        clean_window(s, H10, hour_end)
        newest = s.batches("cleaned_events", H10)[-1].parts[0]
        part = data_dir / "lake" / partition_path("cleaned_events", H10) / newest
        s.con.execute(f"COPY (SELECT * REPLACE (NULL AS user_id) FROM '{part}') TO '{part}.tmp' (FORMAT parquet)")
        Path(f"{part}.tmp").replace(part)
        failed = list(checks.run_all(s, H10, hour_end, CheckThresholds(), LATE))
    assert {r.check_name for r in failed if not r.passed} == {"required_fields_not_null"}

    counted = []
    original = checks._tally
    monkeypatch.setattr(checks, "_tally", lambda s, rows: counted.append(rows) or original(s, rows))
    write_landing_file(data_dir, H10, "c.jsonl.gz", [event(at=H10 + timedelta(minutes=20))])
    results = checked(data_dir, H10, hour_end)
    assert len(counted) == 1  # only the new batch was counted; the two before it were added up
    passed, metadata = results["required_fields_not_null"]
    assert not passed and metadata["null_counts"] == {"user_id": 1}
    assert results["unique_event_id"][1]["rows"] == 7

    # The bad row's file is rewritten (the cleaning fixed, the hour re-landed): a rebuild, counted afresh.
    write_landing_file(data_dir, H10, "b.jsonl.gz", [event(at=H10 + timedelta(minutes=11))])
    assert all(passed for passed, _ in checked(data_dir, H10, hour_end).values())


def test_storage_keeps_the_checks_tallies_as_an_opaque_note(data_dir: Path):
    """A manifest entry with tallies (as written before storage stopped knowing them) reads back as a
    note and is written out unchanged; recording a note keeps the batch's other notes."""
    entry = {"parts": ["part-a-0.parquet"], "inputs": {"raw-a": ""}, "lines": {"f": [3, 3]}, "tallies": {"n": 1}}
    batch = Batch.from_json(entry)
    assert stored_tallies(batch) == {"n": 1} and batch.to_json() == entry
    assert batch == Batch(parts=("part-a-0.parquet",), inputs={"raw-a": ""})  # notes are not identity

    hour = DAY + timedelta(hours=9)
    lake = store(data_dir)
    folder = lake.root / partition_path("cleaned_events", hour)
    folder.mkdir(parents=True)
    (folder / "part-a-0.parquet").touch()
    (folder / PARTS_MANIFEST).write_text(json.dumps({"batches": [{**entry, "other": True}]}))
    with lake.session() as s:
        s.record_notes("cleaned_events", hour, [replace(batch, notes={"tallies": {"n": 2}})])
        (stored,) = s.batches("cleaned_events", hour)
    assert stored.notes == {"tallies": {"n": 2}, "other": True}
