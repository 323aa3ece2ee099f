"""Ad spend in prod: drops under incoming/ad_spend/ on S3 (moto server) → landing day files → the
``ad_spend`` asset → Postgres (embedded), equal to the local result; re-runs idempotent; the REES46
and JSONL drops beside it unaffected; the sensor requests runs for the right days."""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
from dagster import AssetKey, SensorResult, materialize

from shopper_assets.contract.ad_spend import CSV_HEADER
from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.ingestion.s3.ad_spend_drops import ad_spend_landing_name, split_by_day
from shopper_assets.ingestion.s3.drops import process_incoming
from shopper_assets.ingestion.s3.landing_zone import S3LandingZone
from shopper_assets.storage import postgres_warehouse as pg
from shopper_assets.storage.lake_store import LocalLakeStore
from shopper_assets.storage.s3_lake import S3LakeStore
from tests.built import ad_spend, lake_step, landing_ad_spend, landing_events
from tests.lake.events import event
from tests.prod.helpers import lake_rows, pg_rows, s3_keys, tick
from tests.prod.test_s3_sensor import REES46_CSV

D20, D21 = date(2026, 11, 20), date(2026, 11, 21)
START, END = datetime(2026, 11, 20), datetime(2026, 11, 22)
KEY = "incoming/ad_spend/2026-11-22T06-00-00-platform-x.csv"
# One export spanning two days (rows interleaved), with a repeat, a bad number, a blank line and a row
# whose date cannot be read (it goes to the day the object was dropped, where it is quarantined).
EXPORT = "\r\n".join(
    [
        "\ufeff" + CSV_HEADER,
        "2026-11-21,c-1,ad-1,900,9,10.25,",
        "2026-11-20,c-1,ad-1,1000,10,12.50,USD",
        "2026-11-20,c-2,ad-7,40,1,0.75,eur",
        "",
        "2026-11-21,c-1,ad-1,950,9,10.50,",
        "2026-11-20,c-3,ad-9,x,1,1,USD",
        "20/11/2026,c-4,ad-1,1,1,1,USD",
        "",
    ]
).encode()


def dropped_day() -> date:
    """The day moto stamps as the LastModified of an object put now (the fallback day of a bad date)."""
    return datetime.now(UTC).date()


def execute(resources, instance, request) -> None:
    result = materialize(
        [landing_events, lake_step, landing_ad_spend, ad_spend],
        resources=resources,
        instance=instance,
        selection=request.asset_selection,
        tags=request.tags,
        run_config={"ops": {"lake_step": {"config": {"max_quarantine_ratio": 0.5}}}}
        if AssetKey("raw_events") in request.asset_selection
        else None,
    )
    assert result.success


def ranges(result: SensorResult, asset: str) -> list[tuple[str, str]]:
    return [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in result.run_requests
        if AssetKey(asset) in r.asset_selection
    ]


def local_result(landing: S3LandingZone, tmp_path: Path, days: list[date]) -> LocalLakeStore:
    """The same landing files, copied to a local landing zone and run through the local store."""
    local = tmp_path / "local"
    zone = LocalLandingZone(data_dir=str(local))
    for day in days:
        for name in landing.ad_spend_versions(day):
            zone.write_ad_spend(day, name.split("/", 1)[1], landing.read_ad_spend(name))
    store = LocalLakeStore(data_dir=str(local), duckdb_path=str(local / "w.duckdb"))
    first, last = min(days), max(days)
    tags = {"dagster/asset_partition_range_start": f"{first}", "dagster/asset_partition_range_end": f"{last}"}
    assert materialize([landing_ad_spend, ad_spend], resources={"landing": zone, "lake": store}, tags=tags).success
    return store


def test_a_drop_spanning_two_days_reaches_postgres_like_the_local_run(prod, s3, bucket, pg_url, tmp_path):
    resources, instance = prod
    s3.put_object(Bucket=bucket, Key=KEY, Body=EXPORT)
    first = tick(resources, instance)
    assert isinstance(first, SensorResult)
    today = dropped_day()
    assert ranges(first, "ad_spend") == [(f"{D20}", f"{D21}"), (f"{today}", f"{today}")]
    assert ranges(first, "raw_events") == []  # no event hours from an ad-spend drop
    assert {e.partition for e in first.asset_events} == {f"{D20}", f"{D21}", f"{today}"}
    assert {e.asset_key for e in first.asset_events} == {AssetKey("landing_ad_spend")}
    assert json.loads(first.cursor) == {"after_key": KEY, "pending_hours": [], "pending_days": []}

    # Each day folder holds the header and that day's rows, in order, with their exact bytes.
    landing: S3LandingZone = resources["landing"]
    name = ad_spend_landing_name(KEY, "incoming/ad_spend/")
    assert name == "s3drop-2026-11-22T06-00-00-platform-x-" + name.rsplit("-", 1)[1]
    assert s3_keys(s3, bucket, "landing/") == sorted(f"landing/ad_spend/date={d}/{name}" for d in (D20, D21, today))
    header = b"\xef\xbb\xbf" + CSV_HEADER.encode() + b"\n"
    assert landing.read_ad_spend(f"date={D20}/{name}") == header + (
        b"2026-11-20,c-1,ad-1,1000,10,12.50,USD\n2026-11-20,c-2,ad-7,40,1,0.75,eur\n2026-11-20,c-3,ad-9,x,1,1,USD\n"
    )
    assert landing.read_ad_spend(f"date={D21}/{name}") == header + (
        b"2026-11-21,c-1,ad-1,900,9,10.25,\n2026-11-21,c-1,ad-1,950,9,10.50,\n"
    )
    assert landing.read_ad_spend(f"date={today}/{name}") == header + b"20/11/2026,c-4,ad-1,1,1,1,USD\n"

    for request in first.run_requests:
        execute(resources, instance, request)
    expected = [
        (D20, "c-1", "ad-1", 1000, 10, Decimal("12.500000"), "USD"),
        (D20, "c-2", "ad-7", 40, 1, Decimal("0.750000"), "EUR"),
        (D21, "c-1", "ad-1", 950, 9, Decimal("10.500000"), "USD"),
    ]
    assert [r[:7] for r in pg_rows(pg_url, "ad_spend")] == expected
    reasons = {(r[0], r[3]) for r in pg_rows(pg_url, "ad_spend_quarantine")}
    assert reasons == {(D20, "invalid_number"), (D21, "superseded"), (today, "invalid_date")}

    # Postgres holds exactly what the local (DuckDB) run computes from the same landing files.
    store = local_result(landing, tmp_path, [D20, D21, today])
    for table in ("ad_spend", "ad_spend_quarantine"):
        local_rows = lake_rows(store, table, START, END) + lake_rows(
            store,
            table,
            datetime(today.year, today.month, today.day),
            datetime(today.year, today.month, today.day) + timedelta(days=1),
        )
        assert pg_rows(pg_url, table) == sorted(local_rows, key=repr), table

    # Re-running is idempotent: the same rows in Postgres, the same objects in the S3 lake.
    lake_objects = s3_keys(s3, bucket, "lake/ad_spend")
    day_partition = r"lake/ad_spend(_quarantine)?/date=\d{4}-\d\d-\d\d/(part-[^/]+\.parquet|_parts\.json)"
    assert lake_objects and all(re.fullmatch(day_partition, k) for k in lake_objects), lake_objects
    for request in first.run_requests:
        execute(resources, instance, request)
    assert [r[:7] for r in pg_rows(pg_url, "ad_spend")] == expected
    assert len(pg_rows(pg_url, "ad_spend_quarantine")) == 3
    assert len(s3_keys(s3, bucket, "lake/ad_spend")) == len(lake_objects)

    # A day whose files are gone becomes empty, in the lake and in Postgres.
    s3.delete_object(Bucket=bucket, Key=f"landing/ad_spend/date={D21}/{name}")
    materialize([landing_ad_spend, ad_spend], resources=resources, instance=instance, partition_key=f"{D21}")
    assert [r[0] for r in pg_rows(pg_url, "ad_spend")] == [D20, D20]
    assert D21 not in {r[0] for r in pg_rows(pg_url, "ad_spend_quarantine")}
    assert not [k for k in s3_keys(s3, bucket, f"lake/ad_spend/date={D21}/") if k.endswith(".parquet")]
    s3.put_object(Bucket=bucket, Key=f"landing/ad_spend/date={D21}/{name}", Body=header)  # back, header only

    # The same object handled again (cursor replayed) rewrites the same landing files, nothing more.
    landed = s3_keys(s3, bucket, "landing/")
    replay = tick(resources, instance)
    assert ranges(replay, "ad_spend") == ranges(first, "ad_spend") and s3_keys(s3, bucket, "landing/") == landed


def test_a_corrected_export_under_a_later_key_supersedes_the_first(prod, s3, bucket, pg_url):
    resources, instance = prod
    s3.put_object(Bucket=bucket, Key="incoming/ad_spend/2026-11-21T06-00-00-x.csv", Body=EXPORT)
    corrected = (CSV_HEADER + "\n2026-11-20,c-1,ad-1,1000,10,13.00,USD\n").encode()
    s3.put_object(Bucket=bucket, Key="incoming/ad_spend/2026-11-22T06-00-00-x.csv.gz", Body=gzip.compress(corrected))
    result = tick(resources, instance)
    for request in result.run_requests:
        execute(resources, instance, request)
    with psycopg.connect(pg_url) as conn:
        spend = conn.execute("SELECT spend FROM lake.ad_spend WHERE campaign_id = 'c-1' AND spend_date = %s", (D20,))
        assert spend.fetchall() == [(Decimal("13.000000"),)]
        detail = conn.execute(
            "SELECT detail FROM lake.ad_spend_quarantine WHERE reason = 'superseded' AND spend_date = %s", (D20,)
        )
        assert detail.fetchone()[0].startswith(f"superseded by date={D20}/s3drop-2026-11-22T06-00-00-x-")


def test_events_and_rees46_drops_beside_it_behave_as_before(prod, s3, bucket, pg_url):
    resources, instance = prod
    hour = datetime(2026, 11, 20, 10)
    events = b"".join(json.dumps(event("page_view", at=hour)).encode() + b"\n" for _ in range(3))
    s3.put_object(Bucket=bucket, Key="incoming/2026-11-21T08-00-00-events.jsonl", Body=events)
    s3.put_object(Bucket=bucket, Key="incoming/2026-11-21T08-00-01-rees46.csv", Body=REES46_CSV.encode())
    s3.put_object(Bucket=bucket, Key="incoming/ad_spend/2026-11-21T08-00-02-spend.csv.gz", Body=gzip.compress(EXPORT))
    s3.put_object(Bucket=bucket, Key="incoming/ad_spend/2026-11-21T08-00-03-notes.jsonl", Body=b"{}\n")

    report = process_incoming(s3, bucket, resources["landing"], None, 10)
    assert report.hours == [hour] and report.lines == 3 + 5  # the event lines, as before
    assert report.ad_spend_days == sorted({D20, D21, dropped_day()}) and report.ad_spend_rows == 6
    assert report.errors == [
        "incoming/ad_spend/2026-11-21T08-00-03-notes.jsonl: unsupported file type (expected .csv or .csv.gz "
        "for ad spend); skipped"
    ]
    assert {k.split("/")[1] for k in s3_keys(s3, bucket, "landing/")} == {"events", "ad_spend"}
    event_files = s3_keys(s3, bucket, "landing/events/")
    assert all(k.endswith(".jsonl.gz") for k in event_files) and len(event_files) == 2  # one per dropped object

    result = tick(resources, instance)
    assert ranges(result, "raw_events") == [("2026-11-20-10:00", "2026-11-20-10:00")]
    assert ranges(result, "ad_spend")[0] == (f"{D20}", f"{D21}")
    for request in result.run_requests:
        execute(resources, instance, request)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM lake.cleaned_events").fetchone() == (3 + 4,)
        assert conn.execute("SELECT count(*) FROM lake.ad_spend").fetchone() == (3,)


def test_sensor_requests_a_run_per_contiguous_range_and_keeps_future_days(prod, s3, bucket):
    resources, instance = prod
    rows = ["2026-11-20,c,a,1,1,1,", "2026-11-21,c,a,1,1,1,", "2026-11-25,c,a,1,1,1,", "2099-01-01,c,a,1,1,1,"]
    s3.put_object(Bucket=bucket, Key="incoming/ad_spend/a.csv", Body=(CSV_HEADER + "\n" + "\n".join(rows)).encode())
    first = tick(resources, instance)
    assert ranges(first, "ad_spend") == [("2026-11-20", "2026-11-21"), ("2026-11-25", "2026-11-25")]
    assert all(r.asset_selection == [AssetKey("ad_spend")] for r in first.run_requests)
    assert json.loads(first.cursor)["pending_days"] == ["2099-01-01"]  # no partition yet: kept for later
    later = tick(resources, instance, first.cursor)  # nothing new: still waiting, nothing requested
    assert not isinstance(later, SensorResult) or later.run_requests == []


def test_s3_landing_lists_reads_and_replaces_ad_spend_files(landing: S3LandingZone, s3, bucket):
    name = landing.write_ad_spend(D20, "spend.csv", b"a")
    landing.write_ad_spend(D20, "more.csv.gz", gzip.compress(b"b"))
    s3.put_object(Bucket=bucket, Key=f"landing/ad_spend/date={D20}/notes.txt", Body=b"ignored")
    s3.put_object(Bucket=bucket, Key=f"landing/ad_spend/date={D20}/deeper/x.csv", Body=b"ignored")
    versions = landing.ad_spend_versions(D20)
    assert name == f"date={D20}/spend.csv" and sorted(versions) == [f"date={D20}/more.csv.gz", name]
    landing.write_ad_spend(D20, "spend.csv", b"a corrected")
    assert landing.read_ad_spend(name) == b"a corrected" and landing.ad_spend_versions(D20)[name] != versions[name]
    assert landing.ad_spend_versions(D21) == {} and landing.file_versions(START) == {}


def test_warehouse_tables_exist_empty_and_typed_without_any_ad_spend(make_store, pg_url):
    store: S3LakeStore = make_store()
    store.publish_to_warehouse()  # what every lake run does, events only (a REES46 import)
    with psycopg.connect(pg_url) as conn:
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'lake' AND table_name = 'ad_spend'"
            ).fetchall()
        )
        counts = [conn.execute(f"SELECT count(*) FROM lake.{t}").fetchone()[0] for t in pg.WAREHOUSE_TABLES]
    assert types == {
        "spend_date": "date",
        "campaign_id": "text",
        "ad_id": "text",
        "impressions": "bigint",
        "clicks": "bigint",
        "spend": "numeric",
        "currency": "text",
        "_source_file": "text",
        "_line_number": "bigint",
        "_lake_part": "text",  # the lake part file of each row
    }
    assert counts == [0] * len(pg.WAREHOUSE_TABLES)  # the data-quality tables too


def test_split_by_day_keeps_bytes_and_sends_unreadable_dates_to_the_fallback():
    text = (
        b"campaign_id,ad_id,Date,impressions,clicks,spend,currency\r\n"
        b'c,a,"2026-11-21",1,1,1,\r\n'
        b"c,\xff,2026-11-20,1,1,1,\r\n"  # not UTF-8, yet its date is readable
        b'c,"broken,2026-11-20,1,1,1,\r\n'
        b"c,a\r\n"
        b"c,a,2026-11-31,1,1,1,\r\n"
    )
    with duckdb.connect() as con:
        days = split_by_day(con, "k.csv", text, fallback=date(2026, 12, 1))
        assert split_by_day(con, "k.csv", b"campaign_id,date\n", date(2026, 12, 1)) == []  # header only
        no_date_column = split_by_day(con, "k.csv", b"a,b\n2026-11-20,1\n", date(2026, 12, 1))
    header = b"campaign_id,ad_id,Date,impressions,clicks,spend,currency\n"
    assert days == [
        (date(2026, 11, 20), header + b"c,\xff,2026-11-20,1,1,1,\n"),
        (date(2026, 11, 21), header + b'c,a,"2026-11-21",1,1,1,\n'),
        (date(2026, 12, 1), header + b'c,"broken,2026-11-20,1,1,1,\nc,a\nc,a,2026-11-31,1,1,1,\n'),
    ]
    assert no_date_column == [(date(2026, 12, 1), b"a,b\n2026-11-20,1\n")]
