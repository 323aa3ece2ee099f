"""S3LandingZone against a real S3 API (moto server): same behaviour as the local landing zone."""

from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from shopper_assets.ingestion.s3.landing_zone import S3LandingZone

HOUR = datetime(2026, 11, 20, 13)


def test_round_trip_and_layout(landing: S3LandingZone, s3, bucket: str):
    data = gzip.compress(b'{"a": 1}\n')
    name = landing.write_file(HOUR, "batch-1.jsonl.gz", data)
    assert name == "date=2026-11-20/hour=13/batch-1.jsonl.gz"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["landing/events/date=2026-11-20/hour=13/batch-1.jsonl.gz"]
    assert landing.list_files(HOUR) == [name]
    assert landing.read_bytes(name) == data
    assert landing.list_files(datetime(2026, 11, 20, 14)) == []


def test_same_name_replaces_and_listing_is_sorted_and_keeps_other_names(landing: S3LandingZone, s3, bucket: str):
    """Every file directly in the hour folder is listed, whatever its name: the raw step quarantines one
    that is not *.jsonl.gz or *.jsonl (unsupported_file) rather than skip it without a word."""
    landing.write_file(HOUR, "b.jsonl", b"old\n")
    landing.write_file(HOUR, "b.jsonl", b"new\n")
    landing.write_file(HOUR, "a.jsonl.gz", gzip.compress(b"x\n"))
    folder = "landing/events/date=2026-11-20/hour=13/"
    s3.put_object(Bucket=bucket, Key=folder + "notes.txt", Body=b"listed, quarantined by the raw step")
    s3.put_object(Bucket=bucket, Key=folder + "nested/c.jsonl", Body=b"ignored")
    s3.put_object(Bucket=bucket, Key="landing/events/date=2026-11-20/hour=130/d.jsonl", Body=b"ignored")
    assert landing.list_files(HOUR) == [
        "date=2026-11-20/hour=13/a.jsonl.gz",
        "date=2026-11-20/hour=13/b.jsonl",
        "date=2026-11-20/hour=13/notes.txt",
    ]
    assert landing.read_bytes("date=2026-11-20/hour=13/b.jsonl") == b"new\n"


@pytest.mark.parametrize("bad", ["x/y.jsonl", "file.csv", "file.jsonl.tmp"])
def test_rejects_bad_names(landing: S3LandingZone, bad: str):
    with pytest.raises(ValueError):
        landing.write_file(HOUR, bad, b"")


def test_many_files_page_through(landing: S3LandingZone):
    def put(i: int) -> None:
        key = f"landing/events/date=2026-11-20/hour=13/f{i:04d}.jsonl"
        landing.client.put_object(Bucket=landing.bucket, Key=key, Body=b"")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(1005)))  # more than one ListObjectsV2 page
    files = landing.list_files(HOUR)
    assert len(files) == 1005 and files == sorted(files)
