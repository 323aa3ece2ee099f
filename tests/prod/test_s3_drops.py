"""S3 drops (incoming/ → landing zone): formats, routing by event hour, cursor, idempotence, bad files."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta

from isal import igzip

from shopper_assets.ingestion.s3.drops import landing_name, process_incoming
from shopper_assets.ingestion.s3.landing_zone import S3LandingZone
from tests.lake.events import event
from tests.prod.helpers import lake_rows, run_pipeline, s3_keys

H10, H11 = datetime(2026, 11, 20, 10), datetime(2026, 11, 20, 11)


def jsonl(*events: dict | str) -> bytes:
    return b"".join((e if isinstance(e, str) else json.dumps(e)).encode() + b"\n" for e in events)


def landed_lines(landing: S3LandingZone, hour: datetime) -> list[bytes]:
    out = []
    for name in landing.list_files(hour):
        out += igzip.decompress(landing.read_bytes(name)).splitlines()
    return out


def test_formats_routing_cursor_and_idempotence(s3, bucket, landing: S3LandingZone, make_store, pg_url):
    a = [event("page_view", at=H10 + timedelta(minutes=5)), event("page_view", at=H11 + timedelta(minutes=1))]
    b = [event("product_view", at=H11 + timedelta(minutes=30))]
    csv = (
        b"event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n"
        b"2026-11-20 10:59:59 UTC,view,1001,2053013555631882655,electronics.audio.headphone,Sony,49.90,7,sess-1\n"
    )
    s3.put_object(Bucket=bucket, Key="incoming/2026/a.jsonl", Body=jsonl(*a, "not json at all"))
    s3.put_object(Bucket=bucket, Key="incoming/2026/b.jsonl.gz", Body=gzip.compress(jsonl(*b)))
    s3.put_object(Bucket=bucket, Key="incoming/2026/c.csv", Body=csv)

    first = process_incoming(s3, bucket, landing, None, max_objects=2)
    assert first.keys == ["incoming/2026/a.jsonl", "incoming/2026/b.jsonl.gz"] and first.last_key == first.keys[-1]
    assert first.lines == 4 and first.errors == []
    second = process_incoming(s3, bucket, landing, first.last_key, max_objects=10)
    assert second.keys == ["incoming/2026/c.csv"] and second.last_key == "incoming/2026/c.csv"
    assert second.hours == [H10]
    assert process_incoming(s3, bucket, landing, second.last_key, 10).objects == 0  # nothing new

    # Each line sits in its event hour; the unroutable line goes to the file's earliest hour.
    h10, h11 = landed_lines(landing, H10), landed_lines(landing, H11)
    assert len(h10) == 3 and json.dumps(a[0]).encode() in h10 and b"not json at all" in h10
    assert any(json.loads(x).get("category_id") == "2053013555631882655" for x in h10 if x.startswith(b"{"))
    assert len(h11) == 2 and {json.loads(x)["event_id"] for x in h11} == {a[1]["event_id"], b[0]["event_id"]}
    assert first.hours == [H10, H11]

    # Re-processing everything (cursor reset) rewrites the same files: no duplicates anywhere.
    files = s3_keys(s3, bucket, "landing/")
    again = process_incoming(s3, bucket, landing, None, 10)
    assert again.objects == 3 and s3_keys(s3, bucket, "landing/") == files
    store = make_store()
    _, stats = run_pipeline(store, landing, H10, H11 + timedelta(hours=1))
    assert stats.cleaned_rows == 4 and stats.duplicates_dropped == 0
    assert stats.quarantined_by_reason == {"invalid_json": 1}
    rows = lake_rows(store, "cleaned_events", H10, H11 + timedelta(hours=1))
    assert sorted(r[1] for r in rows) == ["page_view", "page_view", "product_view", "product_view"]


def test_a_copy_under_another_key_lands_twice_but_cleans_once(s3, bucket, landing, make_store, pg_url):
    body = jsonl(event("page_view", at=H10))
    s3.put_object(Bucket=bucket, Key="incoming/x.jsonl", Body=body)
    s3.put_object(Bucket=bucket, Key="incoming/y.jsonl", Body=body)
    report = process_incoming(s3, bucket, landing, None, 10)
    assert len(report.files) == 2 and report.files[0] != report.files[1]
    _, stats = run_pipeline(make_store(), landing, H10, H11)
    assert stats.cleaned_rows == 1 and stats.duplicates_dropped == 1


def test_bad_files_do_not_block_the_cursor(s3, bucket, landing, make_store, pg_url):
    s3.put_object(Bucket=bucket, Key="incoming/1-corrupt.jsonl.gz", Body=b"\x1f\x8b\x08 definitely not gzip")
    s3.put_object(Bucket=bucket, Key="incoming/2-notes.txt", Body=b"hello")
    s3.put_object(Bucket=bucket, Key="incoming/3-folder/", Body=b"")
    s3.put_object(Bucket=bucket, Key="incoming/4-empty.jsonl", Body=b"")
    s3.put_object(Bucket=bucket, Key="incoming/5-big.csv", Body=b"x" * 2000)
    s3.put_object(Bucket=bucket, Key="incoming/6-good.jsonl", Body=jsonl(event("page_view", at=H10)))
    report = process_incoming(s3, bucket, landing, None, 10, max_object_bytes=1000)
    assert report.last_key == "incoming/6-good.jsonl"
    assert report.keys == [
        "incoming/1-corrupt.jsonl.gz",
        "incoming/2-notes.txt",
        "incoming/4-empty.jsonl",
        "incoming/5-big.csv",
        "incoming/6-good.jsonl",
    ]
    errors = "\n".join(report.errors)
    assert "1-corrupt.jsonl.gz" in errors and "not valid gzip" in errors
    assert "2-notes.txt: unsupported file type" in errors and "5-big.csv" in errors and "split it" in errors
    # The corrupt object was landed as is (in the hour it was dropped) and is quarantined from there.
    corrupt_hour = next(h for h in report.hours if h != H10)
    _, stats = run_pipeline(make_store(), landing, corrupt_hour, corrupt_hour + timedelta(hours=1))
    assert stats.quarantined_by_reason == {"unreadable_file": 1}


def test_landing_name_is_deterministic_and_safe():
    n1 = landing_name("incoming/dir/My File (1).csv.gz", b"abc")
    assert n1 == landing_name("incoming/dir/My File (1).csv.gz", b"abc")
    assert n1.startswith("s3drop-My_File_1_-") and n1.endswith(".jsonl.gz") and "/" not in n1
    assert landing_name("incoming/dir/My File (1).csv.gz", b"abd") != n1
    assert landing_name("incoming/other/My File (1).csv.gz", b"abc") != n1


def test_an_s3_failure_stops_before_the_object_so_it_is_retried(s3, bucket, s3_endpoint):
    s3.put_object(Bucket=bucket, Key="incoming/a.jsonl", Body=jsonl(event("page_view", at=H10)))
    broken = S3LandingZone(bucket=f"{bucket}-missing", endpoint_url=s3_endpoint)  # writes fail: no such bucket
    report = process_incoming(s3, bucket, broken, "incoming/0", 10)
    assert report.objects == 0 and report.last_key == "incoming/0"
    assert "incoming/a.jsonl: S3 error, will retry" in report.errors[0]
