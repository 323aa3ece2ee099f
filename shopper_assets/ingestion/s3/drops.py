"""Files dropped into ``s3://<bucket>/incoming/`` → the landing zone, one call per sensor tick.

``process_incoming`` walks the prefix in key order after a cursor (the last key handled), so a
sensor only keeps that key. Accepted: ``.jsonl``/``.jsonl.gz`` (contract events, kept byte for
byte) and ``.csv``/``.csv.gz`` (REES46, converted by ``rees46.convert_csv``), except under
``incoming/ad_spend/``: there ``.csv``/``.csv.gz`` objects are ad-spend reports, split by their
``date`` into ``landing/ad_spend/date=D/`` (see ``ad_spend_drops``). Each event line goes to
the landing folder of its event_time hour — read with the same pattern and cast as the raw
routing, so a routed line is never "late" or "from the future" for the cleaning step; a line
without a readable time goes to the file's earliest hour (or the object's LastModified hour), and
so does a line whose time no partition holds for years (before SHOPPER_START_DATE, or more than
``MAX_HOURS_AHEAD`` hours after the object was dropped): the cleaning step quarantines it there.

Idempotent: a landed file is named from the source key and a hash of its content
(``s3drop-<name>-<key hash>-<content hash>.jsonl.gz``), one per hour, so handling an object again
(a replayed cursor, a re-run) overwrites the same files. Bad content never blocks the cursor: a
corrupt gzip is landed as is (the raw step quarantines it as ``unreadable_file``), bad lines are
quarantined by the cleaning step, an unsupported extension or an oversized object is reported in
``errors`` and skipped. Only S3 failures (reading the object, writing landing files) stop the
batch before that object, with the error, so the next tick retries it.

The cursor is a key: objects written later under keys that sort before it are never seen, so
producers should use keys that sort in arrival order (e.g. ``incoming/2026/11/20/<time>-<name>``).
"""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

import duckdb
import numpy as np
import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError
from isal import igzip

from shopper_assets.contract.ad_spend import INCOMING_PREFIX as AD_SPEND_INCOMING_PREFIX
from shopper_assets.contract.event_time import with_event_time
from shopper_assets.ingestion.landing import LandingZone
from shopper_assets.ingestion.lines import decompress, join_groups, lines_table
from shopper_assets.ingestion.rees46 import convert_csv
from shopper_assets.ingestion.s3.ad_spend_drops import ad_spend_landing_name, split_by_day
from shopper_assets.partitions import MAX_HOURS_AHEAD, first_hour
from shopper_assets.storage.lake_store import sql_ts

INCOMING_PREFIX = "incoming/"
KINDS = {".jsonl.gz": "jsonl", ".jsonl": "jsonl", ".csv.gz": "csv", ".csv": "csv"}
MAX_OBJECT_BYTES = 1024**3  # objects are converted in memory: split bigger files before dropping them
COMPRESS_LEVEL = 1
EPOCH = datetime(1970, 1, 1)


@dataclass
class DropReport:
    """What one call did; ``last_key`` is the cursor to pass next time."""

    objects: int = 0  # objects handled (landed, or skipped with an error), the cursor moved past them
    keys: list[str] = field(default_factory=list)
    lines: int = 0  # lines landed
    bad_rows: int = 0  # malformed CSV rows among them (quarantined by the cleaning step)
    hours: list[datetime] = field(default_factory=list)  # landing hours written: partitions to materialize
    ad_spend_days: list[date] = field(default_factory=list)  # ad-spend landing days written: partitions too
    ad_spend_rows: int = 0  # ad-spend lines landed (header lines excluded)
    files: list[str] = field(default_factory=list)  # landing file names written
    last_key: str | None = None
    errors: list[str] = field(default_factory=list)


def kind_of(key: str) -> str | None:
    """``jsonl``, ``csv`` or None (unsupported) from the key's extension."""
    lower = key.lower()
    return next((kind for suffix, kind in KINDS.items() if lower.endswith(suffix)), None)


class Landed(NamedTuple):
    """What one object wrote: event landing hours and ad-spend landing days."""

    hours: set[datetime]
    days: set[date]


NOTHING = Landed(set(), set())


def landing_name(key: str, content: bytes) -> str:
    """Deterministic landing file name of one dropped object (same in every hour folder)."""
    base = re.sub(r"\.(jsonl|csv)(\.gz)?$", "", key.rsplit("/", 1)[-1], flags=re.IGNORECASE)
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", base)[:40] or "object"
    key_hash = hashlib.blake2b(key.encode(), digest_size=5).hexdigest()
    content_hash = hashlib.blake2b(content, digest_size=8).hexdigest()
    return f"s3drop-{base}-{key_hash}-{content_hash}.jsonl.gz"


def process_incoming(
    s3,
    bucket: str,
    landing: LandingZone,
    after_key: str | None = None,
    max_objects: int = 100,
    *,
    prefix: str = INCOMING_PREFIX,
    max_object_bytes: int = MAX_OBJECT_BYTES,
    workers: int = 4,
    ad_spend_prefix: str = AD_SPEND_INCOMING_PREFIX,
) -> DropReport:
    """Land up to ``max_objects`` objects of ``s3://bucket/<prefix>`` whose keys sort after ``after_key``.

    Objects under ``ad_spend_prefix`` (inside ``prefix``) are ad-spend CSV files.
    """
    report = DropReport(last_key=after_key)
    hours: set[datetime] = set()
    days: set[date] = set()
    with duckdb.connect() as con, ThreadPoolExecutor(max_workers=workers) as pool:
        con.execute("SET TimeZone = 'UTC'")
        for obj in _list_after(s3, bucket, prefix, after_key, max_objects):
            key = obj["Key"]
            try:
                landed = _process_object(s3, bucket, landing, obj, con, pool, max_object_bytes, report, ad_spend_prefix)
            except (ClientError, BotoCoreError, OSError) as exc:
                if _is_missing(exc):  # deleted since it was listed: nothing to land
                    report.errors.append(f"{key}: gone before it was read; skipped")
                else:
                    report.errors.append(f"{key}: S3 error, will retry from here next time: {exc}")
                    break
            else:
                hours.update(landed.hours)
                days.update(landed.days)
            report.objects += 1
            report.keys.append(key)
            report.last_key = key
    report.hours = sorted(hours)
    report.ad_spend_days = sorted(days)
    return report


def _list_after(s3, bucket: str, prefix: str, after_key: str | None, limit: int) -> list[dict]:
    """Up to ``limit`` objects after the cursor in key order (folder markers ending in / excluded)."""
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    if after_key:
        kwargs["StartAfter"] = after_key
    found: list[dict] = []
    for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
        for obj in page.get("Contents", ()):
            if not obj["Key"].endswith("/"):
                found.append(obj)
                if len(found) >= limit:
                    return found
    return found


def _is_missing(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404")


def _process_object(s3, bucket, landing, obj, con, pool, max_bytes, report, ad_spend_prefix) -> Landed:
    """Land one object; returns what it wrote. Content problems are reported, S3 errors raised."""
    key, size = obj["Key"], int(obj["Size"])
    kind = kind_of(key)
    ad_spend = key.startswith(ad_spend_prefix)
    if kind is None or (ad_spend and kind != "csv"):
        expected = ".csv or .csv.gz for ad spend" if ad_spend else ".jsonl, .jsonl.gz, .csv or .csv.gz"
        report.errors.append(f"{key}: unsupported file type (expected {expected}); skipped")
        return NOTHING
    if size > max_bytes:
        report.errors.append(f"{key}: {size:,} bytes is over the {max_bytes:,} byte limit; split it and drop again")
        return NOTHING
    content = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    fallback = _hour(obj["LastModified"])
    if ad_spend:
        return Landed(set(), _land_ad_spend(landing, key, content, fallback.date(), con, report, ad_spend_prefix))
    name = landing_name(key, content)
    try:
        text = decompress(content, key)
    except ValueError as exc:
        report.errors.append(f"{key}: {exc}; landed as is, quarantined as unreadable_file")
        report.files.append(landing.write_file(fallback, name, content))
        return Landed({fallback}, set())
    try:
        if kind == "csv":
            batch = convert_csv(text, key)
            lines, bad_rows = batch.lines, batch.bad_rows
        else:
            lines, bad_rows = _exact_bytes(con, lines_table(key, text)), 0
        groups = _route(con, lines, fallback)
    except (duckdb.Error, pa.ArrowException, MemoryError) as exc:  # content the converter cannot handle
        report.errors.append(f"{key}: could not be converted ({type(exc).__name__}: {exc}); skipped")
        return NOTHING
    report.bad_rows += bad_rows
    writes = [pool.submit(_write, landing, hour, name, payload) for hour, payload in groups]
    for future in writes:
        report.files.append(future.result())
    report.lines += len(lines)
    return Landed({hour for hour, _ in groups}, set())


def _land_ad_spend(landing, key: str, content: bytes, fallback: date, con, report, prefix: str) -> set[date]:
    """One ad-spend object into the day folders of its rows' dates; returns the days written."""
    name = ad_spend_landing_name(key, prefix)
    try:
        text = decompress(content, key)
    except ValueError as exc:
        report.errors.append(f"{key}: {exc}; landed as is, quarantined as unreadable_file")
        report.files.append(landing.write_ad_spend(fallback, f"{name}.gz", content))
        return {fallback}
    try:
        days = split_by_day(con, key, text, fallback)
    except (duckdb.Error, pa.ArrowException, MemoryError) as exc:
        report.errors.append(f"{key}: could not be split by day ({type(exc).__name__}: {exc}); skipped")
        return set()
    for day, payload in days:
        report.files.append(landing.write_ad_spend(day, name, payload))
        report.ad_spend_rows += payload.count(b"\n") - 1  # without the header line
    return {day for day, _ in days}


def _exact_bytes(con: duckdb.DuckDBPyConnection, table: pa.Table) -> pa.Array:
    """The delivered bytes of each line (invalid UTF-8 lines keep their exact bytes)."""
    con.register("_drop_lines", table)
    try:
        out = con.sql(
            "SELECT coalesce(raw_bytes, encode(line)) AS b FROM _drop_lines ORDER BY line_number"
        ).to_arrow_table()
    finally:
        con.unregister("_drop_lines")
    return out["b"].combine_chunks().cast(pa.large_binary())


def _route(con: duckdb.DuckDBPyConnection, lines: pa.Array, fallback: datetime) -> list[tuple[datetime, pa.Buffer]]:
    """Lines grouped by the hour of their event_time, each group as newline-terminated bytes (see module doc)."""
    if len(lines) == 0:
        return []
    con.register("_drop_out", pa.table({"b": lines, "n": np.arange(len(lines), dtype=np.int64)}))
    try:
        timed = with_event_time("SELECT *, try(decode(b)) AS s FROM _drop_out", line="s")
        landable = f"BETWEEN {sql_ts(first_hour())} AND {sql_ts(fallback + timedelta(hours=MAX_HOURS_AHEAD))}"
        out = con.sql(
            f"""WITH hinted AS (
                    SELECT n, b, CASE WHEN h {landable} THEN h END AS hour
                    FROM (SELECT n, b, CAST(date_trunc('hour', event_ts) AS TIMESTAMP) AS h FROM ({timed}))
                )
                SELECT coalesce(hour, min(hour) OVER (), {sql_ts(fallback)}) AS hour,
                       b || '\\x0A'::BLOB AS b
                FROM hinted ORDER BY 1, n"""
        ).to_arrow_table()
    finally:
        con.unregister("_drop_out")
    data = out["b"].combine_chunks().cast(pa.large_binary())
    hours = out["hour"].combine_chunks().cast(pa.int64()).to_numpy()
    return [(EPOCH + timedelta(microseconds=us), payload) for us, payload in join_groups(hours, data)]


def _write(landing: LandingZone, hour: datetime, name: str, payload: pa.Buffer) -> str:
    return landing.write_file(hour, name, igzip.compress(payload, compresslevel=COMPRESS_LEVEL))


def _hour(ts: datetime) -> datetime:
    """Naive UTC hour of an aware (or naive UTC) timestamp."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.replace(minute=0, second=0, microsecond=0)
