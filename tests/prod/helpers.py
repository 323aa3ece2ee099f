"""Shared steps of the prod tests: upload a local landing zone, run the lake pipeline, read rows back."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import psycopg
from dagster import build_sensor_context

from shopper_assets.automation.s3_sensor import s3_drop_sensor
from shopper_assets.contract.tables import LAKE_TABLES
from shopper_assets.ingestion.landing import LANDING_PREFIX, LandingZone
from shopper_assets.lake.pipeline import CleaningStats, RawStats, clean_window, ingest_raw
from shopper_assets.storage.lake_store import LakeStore

LATE_HOURS = 6


def upload_landing(data_dir: Path, s3, bucket: str) -> list[str]:
    """Every landing file under ``data_dir`` to the same key in the bucket; returns the keys."""
    root = data_dir / LANDING_PREFIX
    files = sorted(p for p in root.rglob("*") if p.is_file())
    keys = [f"{LANDING_PREFIX}/{p.relative_to(root).as_posix()}" for p in files]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda kp: s3.put_object(Bucket=bucket, Key=kp[0], Body=kp[1].read_bytes()),
                zip(keys, files, strict=True),
            )
        )
    return keys


def run_pipeline(
    store: LakeStore, landing: LandingZone, start: datetime, end: datetime
) -> tuple[RawStats, CleaningStats]:
    with store.session() as session:
        raw = ingest_raw(session, landing, start, end, LATE_HOURS)
        stats = clean_window(session, start, end)
    store.publish_to_warehouse()
    return raw, stats


def lake_rows(store: LakeStore, table: str, start: datetime, end: datetime, drop: tuple[str, ...] = ()) -> list[tuple]:
    cols = [c for c in LAKE_TABLES[table].column_names if c not in drop]
    with store.session() as session:
        rel = session.scan(table, start, end)
        return sorted(session.con.execute(f"SELECT {', '.join(cols)} FROM ({rel})").fetchall(), key=repr)


def pg_rows(pg_url: str, table: str, drop: tuple[str, ...] = (), where: str = "true") -> list[tuple]:
    cols = [c for c in LAKE_TABLES[table].column_names if c not in drop]
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(f"SELECT {', '.join(cols)} FROM lake.{table} WHERE {where}").fetchall()
    return sorted((tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows), key=repr)


def s3_keys(s3, bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", ())]
    return sorted(keys)


def tick(resources: dict, instance, cursor: str | None = None):
    """One evaluation of the S3 drop sensor."""
    return s3_drop_sensor(build_sensor_context(instance=instance, resources=resources, cursor=cursor))


def same_lake_locally_and_in_postgres(data_dir: Path, start: datetime, end: datetime, pg_url: str) -> None:
    """The landing files under ``data_dir`` (events and ad spend) through the local lake (its
    warehouse views published), and the same cleaned, quarantined, ad-spend and data-quality rows
    (each day counted as ``data_quality_daily`` does) into Postgres ``lake.*``, as the S3 lake store
    loads them: dbt then builds the same marts on both targets."""
    from shopper_assets.contract.tables import (
        AD_SPEND,
        CLEANED_EVENTS,
        DATA_QUALITY,
        DATA_QUALITY_LOSSES,
        LAKE_TABLES,
        QUARANTINED_EVENTS,
    )
    from shopper_assets.contract.time_grid import days_in, hours_in
    from shopper_assets.ingestion.landing import LocalLandingZone
    from shopper_assets.lake.ad_spend_assets import load_ad_spend
    from shopper_assets.operations.data_quality import day_quality
    from shopper_assets.operations.data_quality_asset import write_days
    from shopper_assets.quality.checks import CheckThresholds
    from shopper_assets.storage.lake_store import LocalLakeStore
    from shopper_assets.storage.postgres_warehouse import WAREHOUSE_TABLES, ensure_tables, replace_hours

    store = LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"))
    landing = LocalLandingZone(data_dir=str(data_dir))
    with store.session() as s:
        ingest_raw(s, landing, start, end, LATE_HOURS)
        clean_window(s, start, end)
        load_ad_spend(s, landing, start, end)
        cleaned = s.con.sql(s.scan("cleaned_events", start, end, with_part=True)).to_arrow_table()
        quarantined = s.con.sql(s.scan("quarantined_events", start, end)).to_arrow_table()
        spend = s.con.sql(s.scan("ad_spend", start, end)).to_arrow_table()
        dq_tables = (DATA_QUALITY, DATA_QUALITY_LOSSES)
        days = [day_quality(s, d.date(), LATE_HOURS, CheckThresholds()) for d in days_in(start, end)]
        write_days(s, start, end, days, datetime(2026, 12, 1))
        quality = {t: s.con.sql(s.scan(t.name, start, end)).to_arrow_table() for t in dq_tables}
    store.publish_to_warehouse()
    with psycopg.connect(pg_url) as conn:
        ensure_tables(conn, [LAKE_TABLES[t] for t in WAREHOUSE_TABLES], "lake")  # as S3LakeStore does
        replace_hours(conn, CLEANED_EVENTS, hours_in(start, end), cleaned.to_batches(), "lake", with_part=True)
        replace_hours(conn, QUARANTINED_EVENTS, hours_in(start, end), quarantined.to_batches(), "lake")
        replace_hours(conn, AD_SPEND, days_in(start, end), spend.to_batches(), "lake")
        for table, rows in quality.items():
            replace_hours(conn, table, days_in(start, end), rows.to_batches(), "lake")
