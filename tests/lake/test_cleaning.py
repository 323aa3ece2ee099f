"""Every kind of bad line ends in quarantine with the right reason, and nothing is lost."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from shopper_assets.contract.events import QuarantineReason as R
from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.lake.pipeline import clean_window, ingest_raw
from shopper_assets.quality import checks
from shopper_assets.storage.lake_store import LocalLakeStore
from tests.conftest import write_landing_file
from tests.lake.events import event

H10 = datetime(2026, 11, 20, 10)
LATE = 6


def run_lake(data_dir: Path, start: datetime, end: datetime):
    store = LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"))
    with store.session() as session:
        raw = ingest_raw(session, LocalLandingZone(data_dir=str(data_dir)), start, end, LATE)
        stats = clean_window(session, start, end)
        q = session.con.execute(
            f"SELECT line_number, reason, detail, event_id FROM ({session.scan('quarantined_events', start, end)}) "
            "ORDER BY source_file, line_number"
        ).fetchall()
        cleaned = (
            session.con.sql(f"SELECT * FROM ({session.scan('cleaned_events', start, end)}) ORDER BY event_time")
            .to_arrow_table()
            .to_pylist()
        )
        recon = checks.raw_reconciles(session, start, end)
    return raw, stats, q, cleaned, recon


BAD_LINES = [
    (b'{"event_id": "x1", "event_type": "page_view"', R.INVALID_JSON, "not JSON"),
    (b"just some text", R.INVALID_JSON, "not JSON"),
    (b"[1, 2, 3]", R.INVALID_JSON, "JSON value is not an object"),
    (b"", R.INVALID_JSON, "empty line"),
    (b'{"event_id": "x2", "note": "caf\xff\xfe"}', R.INVALID_UTF8, "line is not valid UTF-8"),
    (event(user_id=None), R.MISSING_REQUIRED_FIELD, "user_id"),
    (event("product_view", product_id=None), R.MISSING_REQUIRED_FIELD, "product_id"),
    (event("purchase", order_id=None), R.MISSING_REQUIRED_FIELD, "order_id"),
    (event("ad_click", campaign_id=None), R.MISSING_REQUIRED_FIELD, "campaign_id"),
    (event("add_to_cart", quantity="two"), R.INVALID_TYPE, "quantity"),
    (event("purchase", price="abc"), R.INVALID_TYPE, "price"),
    (event(user_id=123), R.INVALID_TYPE, "user_id"),
    (event("teleport"), R.UNKNOWN_EVENT_TYPE, "teleport"),
    (event("purchase", price=-3.5), R.NEGATIVE_PRICE, "-3.50"),
    (event("add_to_cart", quantity=0), R.INVALID_QUANTITY, "0"),
    (event(at=datetime(2099, 1, 1, 0, 0)), R.FUTURE_TIMESTAMP, None),
    (event(event_time="yesterday"), R.INVALID_TIMESTAMP, "yesterday"),
    (event(device_type="fridge"), R.INVALID_VALUE, "device_type"),
    (event(referrer="carrier-pigeon"), R.INVALID_VALUE, "referrer"),
    (event(schema_version=2), R.UNSUPPORTED_SCHEMA_VERSION, "schema_version 2"),
    (event("purchase", price=9.999), R.INVALID_VALUE, "price has more than 2 decimals"),
    (event(note="x" * 70_000), R.OVERSIZED, None),
    (event("add_to_cart", quantity=2.5), R.INVALID_TYPE, "quantity"),
    (event("add_to_cart", quantity=10**20), R.INVALID_VALUE, "quantity out of range"),
    (json.dumps(event("purchase", price=1.5)).replace("1.5", "1e400"), R.INVALID_VALUE, "price out of range"),
    (event(page={"name": "home"}), R.INVALID_TYPE, "page"),
]


def test_every_bad_line_is_quarantined_with_its_reason(data_dir: Path):
    good = [event(), event("purchase"), event("ad_impression")]
    lines = [*good[:1], *[line for line, _, _ in BAD_LINES], *good[1:]]
    write_landing_file(data_dir, H10, "mixed.jsonl.gz", lines)

    raw, stats, quarantined, cleaned, recon = run_lake(data_dir, H10, H10 + timedelta(hours=1))

    assert raw.rows == len(lines)
    assert stats.cleaned_rows == len(good)
    assert {r["event_id"] for r in cleaned} == {e["event_id"] for e in good}
    got = [(reason, detail) for _, reason, detail, _ in quarantined]
    want = [(str(reason), detail) for _, reason, detail in BAD_LINES]
    for (reason, detail), (want_reason, want_detail) in zip(got, want, strict=True):
        assert reason == want_reason
        if want_detail is not None:
            assert detail == want_detail
    assert [n for n, *_ in quarantined] == list(range(2, 2 + len(BAD_LINES)))  # line numbers kept
    assert stats.duplicates_dropped == 0
    assert recon.passed, recon.metadata


def test_cleaned_rows_are_typed_and_keep_unknown_fields(data_dir: Path):
    e = event("purchase", price=19.99, quantity=3, loyalty_tier="gold", currency=None)
    write_landing_file(data_dir, H10, "a.jsonl.gz", [e])
    _, _, quarantined, cleaned, _ = run_lake(data_dir, H10, H10 + timedelta(hours=1))
    assert quarantined == []
    (row,) = cleaned
    assert str(row["price"]) == "19.99" and row["quantity"] == 3
    assert row["currency"] == "USD" and row["schema_version"] == 1
    assert json.loads(row["extra_fields"]) == {"loyalty_tier": "gold"}
    assert row["event_time"] == datetime(2026, 11, 20, 10, 15)
    assert row["event_hour"] == H10
    assert row["_source_file"] == "date=2026-11-20/hour=10/a.jsonl.gz" and row["_line_number"] == 1


def test_escaped_strings_are_unescaped(data_dir: Path):
    e = event(user_id='u-"quoted"\\slash-caf\u00e9', brand="Caf\u00e9 \u2603")
    write_landing_file(data_dir, H10, "esc.jsonl.gz", [e])
    _, _, quarantined, cleaned, _ = run_lake(data_dir, H10, H10 + timedelta(hours=1))
    assert quarantined == []
    assert cleaned[0]["user_id"] == 'u-"quoted"\\slash-caf\u00e9'
    assert cleaned[0]["brand"] == "Caf\u00e9 \u2603"


def test_unreadable_file_is_quarantined_not_fatal(data_dir: Path):
    write_landing_file(data_dir, H10, "good.jsonl.gz", [event()])
    bad = data_dir / "landing/events/date=2026-11-20/hour=10/broken.jsonl.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00 this is not gzip")
    _, stats, quarantined, _, recon = run_lake(data_dir, H10, H10 + timedelta(hours=1))
    assert stats.cleaned_rows == 1
    assert [(n, r) for n, r, _, _ in quarantined] == [(0, "unreadable_file")]
    assert recon.passed


def test_offsets_other_than_z_are_converted_to_utc(data_dir: Path):
    e = event(event_time="2026-11-20T12:30:00+02:00")  # 10:30 UTC
    write_landing_file(data_dir, H10, "tz.jsonl.gz", [e])
    _, _, quarantined, cleaned, _ = run_lake(data_dir, H10, H10 + timedelta(hours=1))
    assert quarantined == []
    assert cleaned[0]["event_time"] == datetime(2026, 11, 20, 10, 30)


@pytest.mark.parametrize("crlf", [False, True])
def test_line_endings(data_dir: Path, crlf: bool):
    e1, e2 = event(), event()
    sep = b"\r\n" if crlf else b"\n"
    folder = data_dir / "landing/events/date=2026-11-20/hour=10"
    folder.mkdir(parents=True)
    import gzip

    (folder / "f.jsonl.gz").write_bytes(gzip.compress(json.dumps(e1).encode() + sep + json.dumps(e2).encode()))
    _, stats, quarantined, _, _ = run_lake(data_dir, H10, H10 + timedelta(hours=1))
    assert stats.cleaned_rows == 2 and quarantined == []
