"""S3LakeStore on real S3 (moto server) and Postgres: the real lake pipeline, parity with the local
store, idempotent re-runs, no stale objects, a cache that follows other writers."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from shopper_assets.generator import DirtyDataConfig, GeneratorConfig, write_landing
from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.storage.lake_store import LocalLakeStore
from tests.lake.events import event
from tests.prod.helpers import lake_rows, pg_rows, run_pipeline, s3_keys, upload_landing

START = datetime(2026, 11, 20)
END = START + timedelta(days=1)
TABLES = ("raw_events", "cleaned_events", "quarantined_events")
VOLATILE = ("ingested_at", "quarantined_at")  # processing times differ between two runs


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dirty generated day (duplicates, late lines, every kind of malformed line)."""
    root = tmp_path_factory.mktemp("generated")
    dirty = DirtyDataConfig(duplicate_rate=0.02, late_rate=0.03, late_max_hours=3, malformed_rate=0.01)
    write_landing(GeneratorConfig(start=date(2026, 11, 20), events_per_day=8_000, seed=11, dirty=dirty), root, False)
    return root


@pytest.fixture
def local_store(generated: Path, tmp_path: Path) -> LocalLakeStore:
    store = LocalLakeStore(data_dir=str(tmp_path / "local"), duckdb_path=str(tmp_path / "local" / "w.duckdb"))
    run_pipeline(store, LocalLandingZone(data_dir=str(generated)), START, END)
    return store


def test_pipeline_on_s3_matches_local_store_and_postgres(
    generated, local_store, landing, s3, bucket, make_store, pg_url
):
    upload_landing(generated, s3, bucket)
    store = make_store()
    raw, stats = run_pipeline(store, landing, START, END)
    assert raw.rows > 8_000 and stats.quarantined_rows > 0 and stats.duplicates_dropped > 0

    keys = s3_keys(s3, bucket, "lake/")
    tables = "(raw_events|cleaned_events|quarantined_events)"
    pattern = rf"lake/{tables}/date=2026-11-20/hour=\d\d/(part-[^/]+\.parquet|_parts\.json)"
    assert keys and all(re.fullmatch(pattern, k) for k in keys), keys[:5]
    assert {k.split("/")[1] for k in keys} == set(TABLES)

    # Postgres holds exactly what the local (DuckDB) pipeline computes from the same landing files.
    assert pg_rows(pg_url, "cleaned_events") == lake_rows(local_store, "cleaned_events", START, END)
    assert pg_rows(pg_url, "quarantined_events", drop=VOLATILE) == lake_rows(
        local_store, "quarantined_events", START, END, drop=VOLATILE
    )
    assert any(r[-1] is not None for r in pg_rows(pg_url, "quarantined_events", drop=VOLATILE))  # bytea survived

    # A store with an empty cache reads the same partitions back from S3.
    fresh = make_store("other-cache")
    for table in TABLES:
        assert lake_rows(fresh, table, START, END, drop=VOLATILE) == lake_rows(local_store, table, START, END, VOLATILE)


def test_rerun_is_idempotent_and_removed_input_disappears_everywhere(
    generated, landing, s3, bucket, make_store, pg_url
):
    landing_keys = upload_landing(generated, s3, bucket)
    store = make_store()
    run_pipeline(store, landing, START, END)
    keys = s3_keys(s3, bucket, "lake/")
    cleaned = pg_rows(pg_url, "cleaned_events")

    run_pipeline(store, landing, START, END)
    assert s3_keys(s3, bucket, "lake/") == keys
    assert pg_rows(pg_url, "cleaned_events") == cleaned
    with psycopg.connect(pg_url) as conn:
        n, distinct = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM lake.cleaned_events").fetchone()
    assert n == distinct == len(cleaned)

    # A leftover object of an older run (e.g. more writer threads) in a partition being rewritten.
    some_part = next(k for k in keys if k.startswith("lake/cleaned_events/date=2026-11-20/hour=05/"))
    leftover = some_part.rsplit("/", 1)[0] + "/part-99.parquet"
    s3.copy_object(Bucket=bucket, Key=leftover, CopySource={"Bucket": bucket, "Key": some_part})
    # The last hour's landing file goes away; another process (its own cache) re-materializes the day.
    removed = next(k for k in landing_keys if "/hour=23/" in k)
    source_file = removed.removeprefix("landing/events/")
    s3.delete_object(Bucket=bucket, Key=removed)
    other = make_store("other-cache")
    run_pipeline(other, landing, START, END)

    after = s3_keys(s3, bucket, "lake/")
    assert leftover not in after
    assert not [k for k in after if k.startswith("lake/raw_events/date=2026-11-20/hour=23/") and k.endswith(".parquet")]
    assert pg_rows(pg_url, "cleaned_events", where=f"_source_file = '{source_file}'") == []
    assert pg_rows(pg_url, "quarantined_events", where=f"source_file = '{source_file}'") == []
    remaining = pg_rows(pg_url, "cleaned_events")
    assert 0 < len(remaining) < len(cleaned)
    # The first store's cache is stale; its next read follows S3 (changed ETags), not the cache.
    for table in TABLES:
        assert lake_rows(store, table, START, END, VOLATILE) == lake_rows(other, table, START, END, VOLATILE)
    assert len(lake_rows(store, "cleaned_events", START, END)) == len(remaining)


def test_single_hour_window_only_touches_that_hour(generated, landing, s3, bucket, make_store, pg_url):
    upload_landing(generated, s3, bucket)
    store = make_store()
    run_pipeline(store, landing, START, END)
    before = pg_rows(pg_url, "cleaned_events")
    hour = START + timedelta(hours=7)
    run_pipeline(store, landing, hour, hour + timedelta(hours=1))
    assert pg_rows(pg_url, "cleaned_events") == before
    with psycopg.connect(pg_url) as conn:
        per_hour = conn.execute("SELECT count(*) FROM lake.cleaned_events WHERE event_hour = %s", (hour,)).fetchone()[0]
    assert per_hour > 0


def test_a_micro_batch_uploads_and_copies_only_its_own_rows(generated, landing, s3, bucket, make_store, pg_url):
    upload_landing(generated, s3, bucket)
    store = make_store()
    run_pipeline(store, landing, START, END)
    hour = START + timedelta(hours=10)
    prefix = f"lake/cleaned_events/date={hour:%Y-%m-%d}/hour={hour:%H}/"
    before = {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]}

    batch = [event(at=hour + timedelta(minutes=m)) for m in range(5)] + ["not json"]
    landing.write_file(
        hour, "kafka-batch-0001.jsonl", "\n".join(json.dumps(e) if isinstance(e, dict) else e for e in batch).encode()
    )
    raw, stats = run_pipeline(store, landing, hour, hour + timedelta(hours=1))

    assert (raw.files_read, raw.rows_added, raw.hours_appended) == (1, 6, 1)
    assert not stats.rebuilt and stats.raw_parts_processed == 1
    after = {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]}
    kept = {k: v for k, v in before.items() if k.endswith(".parquet")}
    assert {k: after[k] for k in kept} == kept  # the hour's earlier parts were not uploaded again
    assert len([k for k in after if k.endswith(".parquet")]) == len(kept) + 1
    # Postgres gained exactly the new rows, and still equals the lake.
    assert pg_rows(pg_url, "cleaned_events") == lake_rows(store, "cleaned_events", START, END)
    assert pg_rows(pg_url, "quarantined_events", drop=VOLATILE) == lake_rows(
        store, "quarantined_events", START, END, drop=VOLATILE
    )
    new_ids = {e["event_id"] for e in batch if isinstance(e, dict)}
    assert new_ids <= {r[0] for r in pg_rows(pg_url, "cleaned_events", where=f"event_hour = '{hour}'")}
    # A store with an empty cache sees the same partitions, and can append to them in turn.
    fresh = make_store("other-cache")
    landing.write_file(hour, "kafka-batch-0002.jsonl", json.dumps(event(at=hour)).encode())
    raw, stats = run_pipeline(fresh, landing, hour, hour + timedelta(hours=1))
    assert raw.files_read == 1 and not stats.rebuilt
    assert pg_rows(pg_url, "cleaned_events") == lake_rows(fresh, "cleaned_events", START, END)
