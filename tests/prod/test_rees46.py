"""REES46 CSV import end to end: S3 drop → landing → raw → cleaned/quarantined → Postgres."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg

from shopper_assets.ingestion.rees46 import HEADER, convert_csv
from shopper_assets.ingestion.s3.drops import process_incoming
from tests.prod.helpers import run_pipeline, s3_keys

H0 = datetime(2019, 10, 1, 0)
END = H0 + timedelta(hours=2)
S1, S2, S3, S4 = (f"{i}aaaaaaa-8bb3-4e00-8c23-a032dfed738c" for i in range(1, 5))
BIG_ID = "2053013555631882655"  # > 2**53: a float would turn it into ...752
HEATER = "3900821,2053013552326770905,appliances.environment.water_heater,AQUA,33.20,554748717"

ROWS = [
    f"2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,{S1}",
    f"2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,{S1}",  # same again
    f"2019-10-01 00:00:05 UTC,view,{HEATER},{S2}",
    f"2019-10-01 00:01:00 UTC,cart,{HEATER},{S2}",
    f"2019-10-01 00:02:00 UTC,purchase,{HEATER},{S2}",
    f"2019-10-01 00:30:00 UTC,purchase,1004767,{BIG_ID},electronics.smartphone,,254.82,512345678,{S3}",  # no cart
    f"2019-10-01 00:31:00 UTC,purchase,1005115,{BIG_ID},electronics.smartphone,Apple,949.99,512345678,{S3}",
    f"2019-10-01 01:10:00 UTC,remove_from_cart,5809910,1602943681873052386,,grattol,5.24,595414620,{S4}",
    f"2019-10-01 01:15:00 UTC,view,5809911,,,,0.00,595414620,{S4}",
    "",  # blank line: skipped
    f"2019-13-45 99:00:00 UTC,view,1,2,,,1.00,3,{S4}",  # invalid_timestamp
    f"2019-10-01 01:20:00 UTC,wishlist,1,2,,,1.00,3,{S4}",  # unknown_event_type
    f"2019-10-01 01:21:00 UTC,view,1,2,,,N/A,3,{S4}",  # invalid_type (price)
    "2019-10-01 01:22:00 UTC,view,1,2",  # wrong column count: invalid_json
    "2019-10-01 01:23:00 UTC,purchase,1,2,,,10.00,,",  # no user, no session: missing_required_field
    f"2019-10-01 01:24:00 UTC,view,1,2,,,1.234,3,{S4}",  # invalid_value (3 decimals)
]
CSV = ("\ufeff" + HEADER + "\r\n" + "\n".join(ROWS) + "\n").encode()
EXPECTED_QUARANTINE = {
    "invalid_timestamp": 1,
    "unknown_event_type": 1,
    "invalid_type": 1,
    "invalid_json": 1,
    "missing_required_field": 1,
    "invalid_value": 1,
}


def order_of(session: str) -> str:
    return "rees46-" + hashlib.md5(session.encode()).hexdigest()


def test_conversion_keeps_ids_exact_and_is_deterministic():
    batch = convert_csv(CSV)
    assert batch.rows == 15 and batch.skipped == 2 and batch.bad_rows == 4
    assert convert_csv(CSV).lines.equals(batch.lines)
    events = [json.loads(x) for x in batch.lines.to_pylist() if x.startswith(b"{")]
    assert events[0]["event_id"] != events[1]["event_id"]  # identical rows in one file stay two events
    assert [e["user_type"] for e in events[:2]] == ["new", "returning"]
    big = events[5]
    assert big["category_id"] == BIG_ID and big["brand"] is None and big["category"] == "electronics.smartphone"
    assert big["order_id"] == order_of(S3) and big["quantity"] == 1 and big["page"] == "confirmation"
    assert events[0]["category"] == "unknown" and events[2]["brand"] == "aqua"
    assert events[2]["event_time"] == "2019-10-01T00:00:05Z" and events[2]["price"] == 33.2
    assert events[8]["category_id"] is None and events[7]["page"] == "cart"


def test_rees46_drop_to_warehouse(s3, bucket, landing, make_store, pg_url, monkeypatch):
    monkeypatch.setenv("SHOPPER_START_DATE", "2019-10-01")  # historical data needs it (README)
    s3.put_object(Bucket=bucket, Key="incoming/rees46/2019-Oct-sample.csv.gz", Body=gzip.compress(CSV))
    report = process_incoming(s3, bucket, landing, None, 10)
    assert report.errors == [] and report.lines == 15 and report.bad_rows == 4
    assert report.hours == [H0, H0 + timedelta(hours=1)]
    files = s3_keys(s3, bucket, "landing/")
    assert process_incoming(s3, bucket, landing, None, 10).files == report.files  # same object again
    assert s3_keys(s3, bucket, "landing/") == files

    store = make_store()
    _, stats = run_pipeline(store, landing, H0, END)
    assert stats.cleaned_rows == 9 and stats.duplicates_dropped == 0
    assert stats.quarantined_by_reason == EXPECTED_QUARANTINE

    with psycopg.connect(pg_url) as conn:
        events = conn.execute(
            "SELECT event_type, category, brand, price, quantity, order_id, user_type, page, "
            "extra_fields::json->>'category_id', session_id FROM lake.cleaned_events ORDER BY event_time, _line_number"
        ).fetchall()
        orders = conn.execute(
            "SELECT order_id, count(*), sum(price * quantity) FROM lake.cleaned_events "
            "WHERE event_type = 'purchase' GROUP BY 1 ORDER BY 1"
        ).fetchall()
        details = dict(conn.execute("SELECT reason, detail FROM lake.quarantined_events").fetchall())
    assert [e[0] for e in events] == [
        "product_view",
        "product_view",
        "product_view",
        "add_to_cart",
        "purchase",
        "purchase",
        "purchase",
        "remove_from_cart",
        "product_view",
    ]
    assert events[0][1:3] == ("unknown", "shiseido") and events[5][2] is None and events[6][2] == "apple"
    assert [e[8] for e in events][5:7] == [BIG_ID, BIG_ID]  # exact 19-digit id
    assert events[8][1] == "unknown" and events[8][8] is None
    assert orders == sorted([(order_of(S2), 1, Decimal("33.20")), (order_of(S3), 2, Decimal("1204.81"))])
    assert details["unknown_event_type"] == "wishlist" and details["invalid_type"] == "price"
    assert details["invalid_timestamp"].startswith("2019-13-45") and details["missing_required_field"] == "user_id"

    # The same file dropped again under another (later-sorting) key: its events are duplicates, dropped by
    # the cleaning step; its bad lines are quarantined once per landed copy (quarantine is per delivered line).
    s3.put_object(Bucket=bucket, Key="incoming/rees46/2019-Oct-sample2.csv", Body=CSV)
    again = process_incoming(s3, bucket, landing, report.last_key, 10)
    assert again.keys == ["incoming/rees46/2019-Oct-sample2.csv"]
    _, stats = run_pipeline(store, landing, H0, END)
    assert stats.cleaned_rows == 9 and stats.duplicates_dropped == 9
    assert stats.quarantined_by_reason == {k: 2 * v for k, v in EXPECTED_QUARANTINE.items()}
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT event_id) FROM lake.cleaned_events").fetchone() == (9, 9)
