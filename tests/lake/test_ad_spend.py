"""Ad spend: the validation of a day's CSV files (every reason, reconciliation, repeats, encodings) and
the ``ad_spend`` asset through Dagster (lake tables, checks, metadata, warehouse views, re-runs)."""

from __future__ import annotations

import gzip
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dagster import AssetCheckSeverity, AssetKey, BackfillPolicy, asset, materialize

from shopper_assets.contract.ad_spend import (
    AD_SPEND_COLUMNS,
    AD_SPEND_QUARANTINE_COLUMNS,
    CSV_HEADER,
    AdSpendQuarantineReason,
)
from shopper_assets.contract.tables import PART_COLUMN
from shopper_assets.deployments import resources_for
from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.lake import ad_spend_assets
from shopper_assets.lake.ad_spend import REQUIRED, ValidatedDay, arrow_schema, validate_day
from shopper_assets.quality import ad_spend_checks
from shopper_assets.settings import Settings
from shopper_assets.storage.lake_store import LocalLakeStore
from tests.built import ad_spend, daily_partitions, landing_ad_spend

DAY = date(2026, 11, 20)
D = "date=2026-11-20"
START = datetime(2026, 11, 20)
END = START + timedelta(days=1)


def csv(*rows: str, header: str = CSV_HEADER, newline: str = "\n") -> bytes:
    return newline.join([header, *rows, ""]).encode()


def validate(files: dict[str, bytes], day: date = DAY) -> ValidatedDay:
    with duckdb.connect() as con:
        return validate_day(con, day, files)


def quarantined(v: ValidatedDay) -> list[tuple[str, int, str, str]]:
    return [(r["_source_file"], r["_line_number"], r["reason"], r["detail"]) for r in v.quarantine.to_pylist()]


def kept(v: ValidatedDay) -> list[tuple]:
    return [
        (r["campaign_id"], r["ad_id"], r["impressions"], r["clicks"], r["spend"], r["currency"], r["_line_number"])
        for r in v.rows.to_pylist()
    ]


# -- validation ----------------------------------------------------------------------------------

EVERY_REASON = {
    f"{D}/a.csv": csv(
        "2026-11-20,c-1,ad-1,1000,10,12.50,",  # 2: superseded by line 16
        "2026-11-20, c-1 ,ad-2,+500,5,3.250000000,eur",  # 3: kept (trimmed, +500, trailing zeros, EUR)
        "2026-11-20,c-1,,500,5,3.25,USD",  # 4
        "2026-11-20,c-1,ad-3,500,5",  # 5
        '2026-11-20,"c-1,ad-4,500,5,3.25,USD',  # 6
        "2026/11/20,c-1,ad-5,1,1,1,USD",  # 7
        "2026-11-21,c-1,ad-6,1,1,1,USD",  # 8
        "2026-11-20,c-1,ad-7,1.5,1,1,USD",  # 9
        "2026-11-20,c-1,ad-8,1,1,1e3,USD",  # 10
        "2026-11-20,c-1,ad-9,-1,1,1,USD",  # 11
        "2026-11-20,c-1,ad-10,1,1,-0.01,USD",  # 12
        "2026-11-20,c-1,ad-11,1,1,0.1234567,USD",  # 13
        "2026-11-20,c-1,ad-12,1,1,1,DOLLARS",  # 14
        "2026-11-20,c-1,ad-13,99999999999999999999,1,1,USD",  # 15
        "2026-11-20,c-1,ad-1,1000,10,12.75,",  # 16: kept, wins over line 2
        "2026-02-30,c-1,ad-14,1,1,1,USD",  # 17: not a real date
        '2026-11-20,"c-2,quoted",ad-1,7,0,.5,usd',  # 18: kept (a quoted comma, .5, usd)
        "2026-11-20,c-1,ad-15,1,1,1234567890123.5,USD",  # 19: spend beyond DECIMAL(18,6)
    ),
    f"{D}/b.csv": CSV_HEADER.encode() + b"\n2026-11-20,c-2,ad-1,1,1,\xff\xfe,USD\n",
    f"{D}/c.csv": csv("2026-11-20,c-3,ad-1,1,1,1", header="date,campaign_id,ad_id,impressions,clicks,spend"),
    f"{D}/d.csv.gz": b"not gzip at all",
    f"{D}/e.csv": b"",
    f"{D}/f.csv": csv(header="Date,Date,campaign_id,ad_id,impressions,clicks,spend,currency"),
}


def test_every_reason_with_its_detail_and_exact_counts():
    v = validate(EVERY_REASON)
    a = f"{D}/a.csv"
    gzip_error = next(q[3] for q in quarantined(v) if q[2] == "unreadable_file")  # the rest is zlib's message
    assert gzip_error.startswith(f"landing file {D}/d.csv.gz is not valid gzip: ")
    assert quarantined(v) == [
        (a, 2, "superseded", f"superseded by {a}:16"),
        (a, 4, "missing_required_field", "ad_id is empty"),
        (a, 5, "invalid_csv", "expected 7 fields as in the header, found 5"),
        (a, 6, "invalid_csv", "broken quoting"),
        (a, 7, "invalid_date", "date '2026/11/20' is not a YYYY-MM-DD date"),
        (a, 8, "date_outside_partition", "date 2026-11-21 is not the day of its folder, 2026-11-20"),
        (a, 9, "invalid_number", "impressions '1.5' is not an integer"),
        (a, 10, "invalid_number", "spend '1e3' is not a decimal"),
        (a, 11, "negative_value", "impressions -1 is negative"),
        (a, 12, "negative_value", "spend -0.01 is negative"),
        (a, 13, "invalid_value", "spend '0.1234567' has more than 6 decimals"),
        (a, 14, "invalid_value", "currency 'DOLLARS' is not a three-letter ISO 4217 code"),
        (a, 15, "invalid_value", "impressions '99999999999999999999' is out of range (64-bit integer)"),
        (a, 17, "invalid_date", "date '2026-02-30' is not a YYYY-MM-DD date"),
        (a, 19, "invalid_value", "spend '1234567890123.5' is out of range (more than 12 digits before the point)"),
        (f"{D}/b.csv", 2, "invalid_utf8", "line is not valid UTF-8"),
        (f"{D}/c.csv", 2, "invalid_header", "header lacks currency"),
        (f"{D}/d.csv.gz", 0, "unreadable_file", gzip_error),
        (f"{D}/e.csv", 0, "invalid_header", "empty file: no header line"),
        (f"{D}/f.csv", 0, "invalid_header", "header repeats date; no data lines"),
    ]
    assert {r.value for r in AdSpendQuarantineReason} == {q[2] for q in quarantined(v)}  # every reason occurs
    assert v.quarantined_by_reason == {
        "date_outside_partition": 1,
        "invalid_csv": 2,
        "invalid_date": 2,
        "invalid_header": 3,
        "invalid_number": 2,
        "invalid_utf8": 1,
        "invalid_value": 4,
        "missing_required_field": 1,
        "negative_value": 2,
        "superseded": 1,
        "unreadable_file": 1,
    }
    assert kept(v) == [
        ("c-1", "ad-2", 500, 5, Decimal("3.25"), "EUR", 3),
        ("c-1", "ad-1", 1000, 10, Decimal("12.75"), "USD", 16),
        ("c-2,quoted", "ad-1", 7, 0, Decimal("0.5"), "USD", 18),
    ]
    assert (v.files, v.lines, v.kept, v.quarantined, v.blank_lines) == (6, 23, 3, 20, 0)
    assert v.spend_total == pytest.approx(16.5)
    # the lines of the quarantine keep the raw text; invalid UTF-8 is escaped, file-level rows carry the header
    lines = {(r["_source_file"], r["_line_number"]): r["line"] for r in v.quarantine.to_pylist()}
    assert lines[(f"{D}/b.csv", 2)] == "2026-11-20,c-2,ad-1,1,1,\\xFF\\xFE,USD"
    assert lines[(f"{D}/f.csv", 0)] == "Date,Date,campaign_id,ad_id,impressions,clicks,spend,currency"
    assert lines[(f"{D}/d.csv.gz", 0)] is None


def test_types_are_those_the_contract_declares():
    v = validate(EVERY_REASON)
    assert v.rows.schema == arrow_schema(AD_SPEND_COLUMNS)
    assert v.quarantine.schema == arrow_schema(AD_SPEND_QUARANTINE_COLUMNS)
    assert str(v.rows.schema.field("spend").type) == "decimal128(18, 6)"
    assert {r["spend_date"] for r in v.rows.to_pylist()} | {r["spend_date"] for r in v.quarantine.to_pylist()} == {DAY}
    empty = validate({})
    assert empty.rows.num_rows == empty.quarantine.num_rows == empty.files == 0
    assert empty.rows.schema == v.rows.schema and empty.quarantine.schema == v.quarantine.schema


@pytest.mark.parametrize("column", REQUIRED)
def test_each_required_field_empty_is_named(column: str):
    values = {"date": "2026-11-20", "campaign_id": "c", "ad_id": "a", "impressions": "1", "clicks": "1", "spend": "1"}
    row = ",".join("" if c == column else values.get(c, "") for c in CSV_HEADER.split(","))
    v = validate({f"{D}/x.csv": csv(row)})
    assert quarantined(v) == [(f"{D}/x.csv", 2, "missing_required_field", f"{column} is empty")]


def test_every_line_reconciles_and_blank_lines_are_counted_apart():
    files = {
        **EVERY_REASON,
        f"{D}/g.csv": csv("", "2026-11-20,c-9,ad-1,1,1,1,USD", "   ", "2026-11-20,c-9,ad-2,1,1,1,USD", ""),
    }
    v = validate(files)
    assert v.by_file[f"{D}/g.csv"].blank_lines == 3 and v.by_file[f"{D}/g.csv"].lines == 2
    assert v.blank_lines == 3
    for name, counts in v.by_file.items():
        assert counts.lines == counts.kept + counts.quarantined, name
    placed = [(r["_source_file"], r["_line_number"]) for t in (v.rows, v.quarantine) for r in t.to_pylist()]
    assert len(placed) == len(set(placed)) == v.lines  # every line exactly once
    assert v.lines == v.kept + v.quarantined


def test_the_file_that_sorts_last_wins_then_the_last_line():
    files = {
        f"{D}/2-later.csv": csv("2026-11-20,c,a,2,2,2.00,", "2026-11-20,c,b,5,5,5,"),
        f"{D}/1-first.csv": csv("2026-11-20,c,a,1,1,1.00,", "2026-11-20,c,a,3,3,3.00,", "2026-11-20,c,c,9,9,9,"),
        f"{D}/3-broken.csv": csv("2026-11-20,c,a,x,1,1,"),  # an invalid row never supersedes a valid one
        f"{D}/4-other-day.csv": csv("2026-11-21,c,a,1,1,1,"),  # another date: its own key, quarantined anyway
    }
    v = validate(files)
    assert [(r["_source_file"], r["_line_number"], r["ad_id"], r["impressions"]) for r in v.rows.to_pylist()] == [
        (f"{D}/1-first.csv", 4, "c", 9),
        (f"{D}/2-later.csv", 2, "a", 2),
        (f"{D}/2-later.csv", 3, "b", 5),
    ]
    assert [q for q in quarantined(v) if q[2] == "superseded"] == [
        (f"{D}/1-first.csv", 2, "superseded", f"superseded by {D}/2-later.csv:2"),
        (f"{D}/1-first.csv", 3, "superseded", f"superseded by {D}/2-later.csv:2"),
    ]
    within = validate({f"{D}/x.csv": csv("2026-11-20,c,a,1,1,1,", "2026-11-20,c,a,2,2,2,")})
    assert kept(within) == [("c", "a", 2, 2, Decimal(2), "USD", 3)]
    assert quarantined(within) == [(f"{D}/x.csv", 2, "superseded", f"superseded by {D}/x.csv:3")]


def test_gzip_bom_and_crlf_read_like_plain_csv():
    rows = ("2026-11-20,c-1,ad-1,1000,10,12.50,", "2026-11-20,c-1,ad-2,500,5,3.25,EUR", "2026-11-20,c-1,,1,1,1,")
    plain = validate({f"{D}/x.csv": csv(*rows)})
    variants = {
        "gzip": {f"{D}/x.csv.gz": gzip.compress(csv(*rows))},
        "bom + crlf": {f"{D}/x.csv": b"\xef\xbb\xbf" + csv(*rows, newline="\r\n")},
        "gzip + bom + crlf, no final newline": {
            f"{D}/x.csv.gz": gzip.compress(b"\xef\xbb\xbf" + csv(*rows, newline="\r\n").rstrip(b"\r\n"))
        },
        "header in capitals, reordered, an extra column": {
            f"{D}/x.csv": csv(
                *(",".join([r.split(",")[6], "extra", *r.split(",")[:6]]) for r in rows),
                header="CURRENCY,extra,Date,Campaign_ID,ad_id,impressions,clicks,spend",
            )
        },
    }
    for label, files in variants.items():
        v = validate(files)
        assert kept(v) == kept(plain), label
        assert [q[1:] for q in quarantined(v)] == [q[1:] for q in quarantined(plain)], label
        assert v.by_file[next(iter(files))].lines == 3, label


# -- landing -------------------------------------------------------------------------------------


def test_local_landing_lists_reads_and_replaces_ad_spend_files(data_dir: Path):
    landing = LocalLandingZone(data_dir=str(data_dir))
    assert landing.ad_spend_versions(DAY) == {}
    name = landing.write_ad_spend(DAY, "spend.csv", csv("2026-11-20,c,a,1,1,1,"))
    landing.write_ad_spend(DAY, "more.csv.gz", gzip.compress(csv()))
    (data_dir / "landing" / "ad_spend" / D / "notes.txt").write_text("ignored")
    versions = landing.ad_spend_versions(DAY)
    assert name == f"{D}/spend.csv" and sorted(versions) == [f"{D}/more.csv.gz", f"{D}/spend.csv"]
    assert landing.read_ad_spend(name) == csv("2026-11-20,c,a,1,1,1,")
    landing.write_ad_spend(DAY, "spend.csv", csv("2026-11-20,c,a,2,2,2,"))  # replaced in one rename
    assert landing.ad_spend_versions(DAY)[name] != versions[name]
    assert sorted(p.name for p in (data_dir / "landing" / "ad_spend" / D).iterdir()) == [
        "more.csv.gz",
        "notes.txt",
        "spend.csv",
    ]  # no temporary file left
    assert landing.ad_spend_versions(DAY + timedelta(days=1)) == {} and landing.file_versions(START) == {}
    with pytest.raises(ValueError, match=r"\*\.csv or \*\.csv\.gz"):
        landing.write_ad_spend(DAY, "spend.jsonl", b"")


# -- the asset -----------------------------------------------------------------------------------


def test_the_asset_is_daily_single_run_in_the_duckdb_pool_and_in_the_code_location():
    from tests.built import defs

    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    spec, landed = specs[AssetKey("ad_spend")], specs[AssetKey("landing_ad_spend")]
    assert spec.group_name == "lake" and landed.group_name == "landing"
    assert spec.partitions_def == landed.partitions_def == daily_partitions
    assert [d.asset_key for d in spec.deps] == [AssetKey("landing_ad_spend")] and spec.description
    assert spec.kinds == {"duckdb", "parquet", "csv"}
    assert ad_spend.backfill_policy == BackfillPolicy.single_run() and ad_spend.op.pool == "duckdb"
    assert {c.name for c in ad_spend.check_specs} == {s.name for s in ad_spend_checks.AD_SPEND_CHECK_SPECS}
    assert {c.name for c in ad_spend.check_specs if c.blocking} == {"ad_spend_reconciles", "ad_spend_unique_key"}


def land(data_dir: Path, day: date, name: str, content: bytes) -> None:
    LocalLandingZone(data_dir=str(data_dir)).write_ad_spend(day, name, content)


def run(partition_key: str | None = None, tags: dict | None = None, assets=(), **kwargs):
    return materialize(
        [landing_ad_spend, ad_spend, *assets],
        partition_key=partition_key,
        tags=tags,
        resources=resources_for(Settings.from_env()),
        **kwargs,
    )


def warehouse(data_dir: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(data_dir / "shopper.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def day_metadata(result, key: str) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.materialization.partition == key]
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def test_asset_writes_the_day_checks_it_and_publishes_views(data_dir: Path):
    land(data_dir, DAY, "a.csv", EVERY_REASON[f"{D}/a.csv"])
    land(data_dir, DAY, "b.csv", EVERY_REASON[f"{D}/b.csv"])
    result = run("2026-11-20")
    assert result.success and len(result.get_step_success_events()) == 1

    meta = day_metadata(result, "2026-11-20")
    assert meta["dagster/row_count"] == 3 and meta["files"] == 2 and meta["lines"] == 19
    assert meta["quarantined_rows"] == 16 and meta["spend_total"] == pytest.approx(16.5)
    assert meta["quarantined_by_reason"]["superseded"] == 1 and "note" not in meta

    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert set(checks) == {s.name for s in ad_spend_checks.AD_SPEND_CHECK_SPECS}
    assert checks["ad_spend_reconciles"].passed and checks["ad_spend_unique_key"].passed
    warn = checks["ad_spend_quarantined_rows"]
    assert not warn.passed and warn.severity == AssetCheckSeverity.WARN
    assert warn.metadata["quarantined_rows"].value == 16
    landed = validate({name: EVERY_REASON[name] for name in (f"{D}/a.csv", f"{D}/b.csv")})
    assert warn.metadata["by_reason"].data == landed.quarantined_by_reason and len(landed.quarantined_by_reason) == 9

    assert warehouse(data_dir, "SELECT campaign_id, ad_id, spend, currency FROM lake.ad_spend ORDER BY 1, 2") == [
        ("c-1", "ad-1", Decimal("12.75"), "USD"),
        ("c-1", "ad-2", Decimal("3.25"), "EUR"),
        ("c-2,quoted", "ad-1", Decimal("0.5"), "USD"),
    ]
    assert warehouse(data_dir, "SELECT count(*) FROM lake.ad_spend_quarantine") == [(16,)]
    types = dict(warehouse(data_dir, "SELECT column_name, column_type FROM (DESCRIBE lake.ad_spend)"))
    assert types == {**dict(AD_SPEND_COLUMNS), PART_COLUMN: "VARCHAR"}  # and the part file of each row


def test_a_rerun_replaces_the_day_and_a_day_without_files_becomes_empty(data_dir: Path):
    land(data_dir, DAY, "a.csv", csv("2026-11-20,c,a,1,1,1.00,", "2026-11-20,c,b,1,1,x,"))
    first = run("2026-11-20")
    folder = data_dir / "lake" / "ad_spend" / D
    parts = sorted(p.name for p in folder.glob("*.parquet"))
    again = run("2026-11-20")
    assert again.success and len(sorted(folder.glob("*.parquet"))) == len(parts)  # replaced, nothing added
    assert warehouse(data_dir, "SELECT count(*) FROM lake.ad_spend") == [(1,)]
    assert warehouse(data_dir, "SELECT count(*) FROM lake.ad_spend_quarantine") == [(1,)]
    assert day_metadata(first, "2026-11-20") == day_metadata(again, "2026-11-20")

    land(data_dir, DAY, "a.csv", csv("2026-11-20,c,a,2,2,2.00,"))  # a corrected file replaces it
    run("2026-11-20")
    assert warehouse(data_dir, "SELECT impressions, spend FROM lake.ad_spend") == [(2, Decimal(2))]
    assert warehouse(data_dir, "SELECT count(*) FROM lake.ad_spend_quarantine") == [(0,)]

    (data_dir / "landing" / "ad_spend" / D / "a.csv").unlink()
    emptied = run("2026-11-20")
    meta = day_metadata(emptied, "2026-11-20")
    assert meta["dagster/row_count"] == 0 and meta["files"] == 0
    assert meta["note"] == "no files under landing/ad_spend/date=2026-11-20/: the day's ad spend is now empty"
    assert warehouse(data_dir, "SELECT count(*) FROM lake.ad_spend") == [(0,)]
    assert not list(folder.glob("*.parquet"))
    assert all(c.passed for c in emptied.get_asset_check_evaluations())


def test_a_range_of_days_is_one_run_with_metadata_per_day(data_dir: Path):
    land(data_dir, DAY, "a.csv", csv("2026-11-20,c,a,1,1,1.5,", "2026-11-20,c,b,1,1,2.5,"))
    land(data_dir, DAY + timedelta(days=2), "a.csv.gz", gzip.compress(csv("2026-11-22,c,a,1,1,4,", "bad")))
    result = run(
        tags={"dagster/asset_partition_range_start": "2026-11-20", "dagster/asset_partition_range_end": "2026-11-22"}
    )
    assert result.success and len(result.get_step_success_events()) == 1
    per_day = {
        key: (m["dagster/row_count"], m["spend_total"], m["files"], m["quarantined_rows"])
        for key in ("2026-11-20", "2026-11-21", "2026-11-22")
        for m in [day_metadata(result, key)]
    }
    assert per_day == {"2026-11-20": (2, 4.0, 1, 0), "2026-11-21": (0, 0.0, 0, 0), "2026-11-22": (1, 4.0, 1, 1)}
    assert "note" in day_metadata(result, "2026-11-21")
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["ad_spend_reconciles"].metadata["files"].value == 2
    assert checks["ad_spend_reconciles"].metadata["lines"].value == 4
    assert warehouse(data_dir, "SELECT spend_date, count(*) FROM lake.ad_spend GROUP BY 1 ORDER BY 1") == [
        (date(2026, 11, 20), 2),
        (date(2026, 11, 22), 1),
    ]
    assert warehouse(data_dir, "SELECT _source_file, reason FROM lake.ad_spend_quarantine") == [
        ("date=2026-11-22/a.csv.gz", "invalid_csv")
    ]


def test_the_views_exist_empty_and_typed_when_no_ad_spend_was_landed(data_dir: Path):
    store = LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"))
    store.publish_to_warehouse()  # what every lake run does at its end, events only (e.g. a REES46 import)
    assert warehouse(data_dir, "SELECT count(*) FROM lake.ad_spend") == [(0,)]
    assert warehouse(data_dir, "SELECT count(*) FROM lake.ad_spend_quarantine") == [(0,)]
    part = {PART_COLUMN: "VARCHAR"}  # the part file of each row, on every lake view
    assert dict(warehouse(data_dir, "SELECT column_name, column_type FROM (DESCRIBE lake.ad_spend)")) == {
        **dict(AD_SPEND_COLUMNS),
        **part,
    }
    assert dict(warehouse(data_dir, "SELECT column_name, column_type FROM (DESCRIBE lake.ad_spend_quarantine)")) == {
        **dict(AD_SPEND_QUARANTINE_COLUMNS),
        **part,
    }


@asset(deps=[ad_spend], partitions_def=daily_partitions, backfill_policy=BackfillPolicy.single_run())
def spend_mart() -> None:
    """Stands for the dbt models downstream of ad_spend."""


def test_a_failed_blocking_check_stops_downstream_in_the_same_run(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    land(data_dir, DAY, "a.csv", csv("2026-11-20,c,a,1,1,1,", "2026-11-20,c,b,1,1,1,"))
    assert {e.asset_key for e in run("2026-11-20", assets=[spend_mart]).get_asset_materialization_events()} == {
        AssetKey("ad_spend"),
        AssetKey("spend_mart"),
    }

    def losing_a_row(con, day, files):  # a validation bug: one valid row goes nowhere
        v = validate_day(con, day, files)
        return ValidatedDay(v.day, v.rows.slice(1), v.quarantine, v.by_file)

    monkeypatch.setattr(ad_spend_assets, "validate_day", losing_a_row)
    result = run("2026-11-20", assets=[spend_mart], raise_on_error=False)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["ad_spend_reconciles"].passed
    assert checks["ad_spend_reconciles"].metadata["not_reconciled"].data == [
        {"file": f"{D}/a.csv", "lines": 2, "kept": 1, "quarantined": 0, "twice": 0, "not_read": False}
    ]
    assert AssetKey("spend_mart") not in {e.asset_key for e in result.get_asset_materialization_events()}


def test_unique_key_and_reconciliation_fail_on_tampered_lake_data(data_dir: Path):
    land(data_dir, DAY, "a.csv", csv("2026-11-20,c,a,1,1,1,", "2026-11-20,c,b,x,1,1,"))
    run("2026-11-20")
    store = LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"))
    with store.session() as s:
        expected = {f"{D}/a.csv": 2}
        assert all(
            r.passed
            for r in ad_spend_checks.run_all(s, START, END, expected)
            if r.check_name != "ad_spend_quarantined_rows"
        )
        s.con.execute(f"CREATE TEMP TABLE rows AS {s.scan('ad_spend', START, END)}")
        s.replace_window("ad_spend", START, END, "SELECT * FROM rows UNION ALL SELECT * FROM rows")  # a row twice
        unique = ad_spend_checks.ad_spend_unique_key(s, START, END)
        assert not unique.passed and unique.metadata["repeated_keys"].value == 1
        reconciled = ad_spend_checks.ad_spend_reconciles(s, START, END, expected)
        assert not reconciled.passed and reconciled.metadata["lines_placed_twice"].value == 1
        not_read = ad_spend_checks.ad_spend_reconciles(s, START, END, {})  # rows of a file nobody read
        assert not not_read.passed and not_read.metadata["not_reconciled"].data[0]["not_read"] is True
        assert ad_spend_checks.ad_spend_quarantined_rows(s, START, END).metadata["by_reason"].data == {
            "invalid_number": 1
        }
