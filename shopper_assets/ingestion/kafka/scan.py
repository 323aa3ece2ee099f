"""Turns consumed messages into landing lines and decides the hour each line lands in, vectorised.

Each message becomes one line (its bytes and a ``\\n``) in the hour folder of its event_time, read
exactly as the lake reads it (raw.with_event_time, evaluated by DuckDB in UTC, as raw.routing_sql
does), so the lander and raw_events agree on the hour. No message is parsed in Python on the hot
path, and none is dropped: what the cleaning step will quarantine is still landed.

* No readable event_time (not UTF-8, not JSON, no field, unparseable time): the hour of the
  message's Kafka timestamp; without one, the hour of the batch.
* An event_time outside the hours a lake run can take (before SHOPPER_START_DATE, or more than
  ``MAX_HOURS_AHEAD`` hours ahead of the clock, e.g. in 2099) is treated the same way, so no message
  waits for a partition that will not exist for years: in the folder of the Kafka timestamp (or of
  the batch) the cleaning step quarantines it as ``before_start_date`` or ``future_timestamp``. An
  event less far ahead keeps its hour, and waits in the sensor's cursor for that hour's partition.
* A raw newline byte would split a message into several lines. A message that parses as JSON is
  re-serialised compactly (its newlines were whitespace, or escaped inside strings); any other
  message has each ``\\n`` byte replaced by the two characters ``\\n``, which keeps it one line and
  still quarantined as not JSON. Only these rare messages take a Python path.

Work is done per consume() chunk on a worker thread (``ChunkScanner``) while the main thread
consumes the next chunk: the lines of a chunk are one ``b"\\n".join`` (so the file payloads are
slices of it, with no further copy), and DuckDB and numpy release the GIL.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from confluent_kafka import Message

from shopper_assets.contract.event_time import with_event_time
from shopper_assets.contract.events import MAX_EVENT_BYTES
from shopper_assets.partitions import MAX_HOURS_AHEAD, first_hour

HOUR_MS = 3_600_000
EPOCH = datetime(1970, 1, 1)
MAX_HOUR = 70_389_527  # 9999-12-31T23: the last hour a folder name (and datetime) can hold
#: Facts of each line (a message + "\n"): event hour, UTF-8, looks like a JSON object.
SCAN_SQL = f"""
    SELECT CAST(floor(epoch(event_ts) / 3600) AS BIGINT) AS hour,
           s IS NULL AS not_utf8,
           coalesce(CASE WHEN starts_with(s, '{{') AND ends_with(s, '}}' || chr(10)) THEN true
                         ELSE starts_with(ltrim(s), '{{') AND ends_with(rtrim(left(s, -1)), '}}')
                    END, false) AS object_like
    FROM ({with_event_time("SELECT try(decode(v)) AS s FROM lines", line="s")}) AS m
"""


@dataclass
class Chunk:
    """Lines of some consecutive messages, with where each lands and whether it is malformed:
    not UTF-8, no readable event_time, not an object, oversized, or newlines in text that is not
    JSON (a cheap pre-check for the report; the cleaning step has the final word)."""

    lines: pa.LargeBinaryArray  # each message's bytes + "\n"
    hours: np.ndarray  # epoch hour of the folder each line lands in
    malformed: np.ndarray
    repaired: int  # messages whose raw newlines were removed
    message_bytes: int

    def take(self, rows: np.ndarray) -> Chunk:
        lines = self.lines.take(pa.array(rows))
        size = int(pc.sum(pc.binary_length(lines)).as_py() or 0) - len(rows)
        return Chunk(lines, self.hours[rows], self.malformed[rows], self.repaired, size)

    @classmethod
    def concat(cls, chunks: list[Chunk]) -> Chunk:
        if len(chunks) == 1:
            return chunks[0]
        return cls(
            pa.concat_arrays([c.lines for c in chunks]) if chunks else pa.array([], pa.large_binary()),
            np.concatenate([c.hours for c in chunks]) if chunks else np.zeros(0, np.int64),
            np.concatenate([c.malformed for c in chunks]) if chunks else np.zeros(0, bool),
            sum(c.repaired for c in chunks),
            sum(c.message_bytes for c in chunks),
        )


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def lines_of(values: list[bytes | None]) -> pa.LargeBinaryArray:
    """Messages as newline-terminated lines over one joined buffer (a tombstone is an empty line)."""
    if None in values:
        values = [b"" if v is None else v for v in values]
    ends = np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)) + 1)
    offsets = np.concatenate(([0], ends))
    data = b"\n".join(values) + b"\n" if values else b""
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def landable_hours(batch_hour: int) -> tuple[int, int]:
    """(first, last) epoch hour a message may land in by its own time: the first partition's hour up to
    ``MAX_HOURS_AHEAD`` after the batch's (see module doc)."""
    return int((first_hour() - EPOCH).total_seconds()) // 3600, batch_hour + MAX_HOURS_AHEAD


def prepare(
    values: list[bytes | None],
    messages: list[Message],
    batch_hour: int,
    con: duckdb.DuckDBPyConnection,
    landable: tuple[int, int] | None = None,
) -> Chunk:
    """Lines, landing hours and malformed flags of some messages (see module doc); ``landable``: the
    (first, last) hour a message may land in by its event_time (``landable_hours``), None for any."""
    lines = lines_of(values)
    n = len(lines)
    con.register("lines", pa.table({"v": lines}))
    facts = con.sql(SCAN_SQL).to_arrow_table()
    con.unregister("lines")
    hour = pc.fill_null(facts["hour"], -1).to_numpy(zero_copy_only=False).astype(np.int64)
    not_utf8 = facts["not_utf8"].to_numpy(zero_copy_only=False)
    object_like = facts["object_like"].to_numpy(zero_copy_only=False)
    first, last = landable or (0, MAX_HOUR)
    readable = (hour >= first) & (hour <= min(last, MAX_HOUR)) & ~not_utf8
    unreadable = np.flatnonzero(~readable)
    if unreadable.size:  # rare on a healthy topic: Kafka timestamps read only for these
        ts = np.array([messages[int(i)].timestamp()[1] for i in unreadable], dtype=np.int64) // HOUR_MS
        hour[unreadable] = np.where((ts >= max(first, 0)) & (ts <= min(last, MAX_HOUR)), ts, batch_hour)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[: n + 1]
    lengths = np.diff(offsets) - 1
    message_bytes = int(lengths.sum())
    broken = np.zeros(n, dtype=bool)  # newlines escaped in text that is not JSON
    inner = _inner_newline_rows(lines, offsets)
    if inner.size:
        fixed = [_repair(values[int(i)] or b"") for i in inner]
        broken[inner] = [not was_json for _, was_json in fixed]
        lengths[inner] = [len(f) for f, _ in fixed]
        mask = np.zeros(n, dtype=bool)
        mask[inner] = True
        replacement = pa.array([f + b"\n" for f, _ in fixed], pa.large_binary())
        lines = pc.replace_with_mask(lines, pa.array(mask), replacement)
    malformed = ~readable | ~object_like | broken | (lengths > MAX_EVENT_BYTES)
    return Chunk(lines, hour, malformed, int(inner.size), message_bytes)


def _inner_newline_rows(lines: pa.LargeBinaryArray, offsets: np.ndarray) -> np.ndarray:
    """Rows with a newline byte besides their terminator."""
    data = np.frombuffer(lines.buffers()[2], dtype=np.uint8)[: offsets[-1]] if len(lines) else np.zeros(0, np.uint8)
    newline = data == 10
    newline[offsets[1:] - 1] = False
    hits = np.flatnonzero(newline)
    return np.unique(np.searchsorted(offsets, hits, side="right") - 1)


def _repair(value: bytes) -> tuple[bytes, bool]:
    """One line for a message with raw newlines (see module doc), and whether it was JSON."""
    try:
        obj = json.loads(value, parse_constant=_reject)
    except (ValueError, UnicodeDecodeError):
        return value.replace(b"\n", b"\\n"), False
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode(), True


def _reject(token: str):
    raise ValueError(f"{token} is not JSON")


class ChunkScanner:
    """Prepares each consumed chunk on a worker thread while the main thread consumes the next."""

    def __init__(self, batch_hour: int) -> None:
        self.batch_hour = batch_hour
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-scan")
        self._con: duckdb.DuckDBPyConnection | None = None
        self._chunks: list[Future] = []

    def submit(self, values: list[bytes | None], messages: list[Message]) -> None:
        if values:
            self._chunks.append(self._pool.submit(self._prepare, values, messages))

    def _prepare(self, values: list[bytes | None], messages: list[Message]) -> Chunk:
        if self._con is None:
            self._con = connect()
        return prepare(values, messages, self.batch_hour, self._con, landable_hours(self.batch_hour))

    def chunks(self) -> list[Chunk]:
        return [f.result() for f in self._chunks]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._con is not None:
            self._con.close()
