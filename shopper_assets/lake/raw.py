"""Reading landed files for a window and routing each line to the hour of its event_time.

An event belongs to the hour of its event_time, not to the folder it was delivered in. A line in
the folder of hour ``d`` whose event_time falls in ``[d - late_hours, d]`` is routed to its event
hour; anything else (no readable event_time, a time after ``d``, or older than the late-arrival
window) stays in ``d`` and the cleaning step quarantines it with a reason. So ``raw_events`` for
hour ``h`` reads the folders ``h .. h + late_hours``; nothing is dropped on the way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa

from shopper_assets.ingestion.landing import LandingZone
from shopper_assets.ingestion.lines import LINE_SCHEMA, decompress, lines_table
from shopper_assets.partitions import hours_in

EVENT_TIME_KEY = '"event_time":"'
EVENT_TIME_PATTERN = r'"event_time"\s*:\s*"([^"]{10,40})"'


def event_time_sql(line: str) -> str:
    """SQL for the event_time of a text line (TIMESTAMPTZ, NULL if unreadable), found without parsing JSON.

    A substring search finds the compact spelling; the regular expression runs only for other
    spellings. The cleaning step parses the line properly and checks the hour this routed it to.
    """
    at = f"strpos({line}, '{EVENT_TIME_KEY}')"
    text = (
        f"CASE WHEN {at} > 0 THEN split_part(substr({line}, {at} + {len(EVENT_TIME_KEY)}, 41), '\"', 1) "
        f"ELSE regexp_extract({line}, '{EVENT_TIME_PATTERN}', 1) END"
    )
    return f"try_cast(CASE WHEN strlen({text}) BETWEEN 10 AND 40 THEN {text} END AS TIMESTAMPTZ)"


@dataclass(frozen=True)
class LandedBatch:
    landing_hour: datetime
    name: str
    lines: pa.Table


def landing_hours_for(start: datetime, end: datetime, late_hours: int) -> list[datetime]:
    """Folders that may hold lines of [start, end): the window plus the late-arrival lookahead."""
    return hours_in(start, end + timedelta(hours=late_hours))


def read_landed(landing: LandingZone, files: Iterable[tuple[datetime, str]], workers: int = 2) -> Iterator[LandedBatch]:
    """The given landed files, as (landing hour, name), each as a table of lines, in the order given.

    Files are fetched and decompressed ``workers`` at a time (isal releases the GIL) with at most
    ``workers + 1`` files in memory. A file that cannot be decompressed becomes one line numbered 0
    carrying the error, which the cleaning step quarantines as ``unreadable_file``.
    """
    jobs = list(files)

    def load(job: tuple[datetime, str]) -> LandedBatch:
        hour, name = job
        try:
            text = decompress(landing.read_bytes(name), name)
        except ValueError as exc:
            return LandedBatch(hour, name, _unreadable(name, str(exc)))
        return LandedBatch(hour, name, lines_table(name, text))

    yield from _bounded_map(load, jobs, workers)


def _unreadable(name: str, error: str) -> pa.Table:
    return pa.table(
        {"source_file": pa.array([name]).dictionary_encode(), "line_number": [0], "line": [error], "raw_bytes": [None]},
        schema=LINE_SCHEMA,
    )


def _bounded_map(fn: Callable, items: list, workers: int) -> Iterator:
    """Ordered map over a thread pool that keeps only a few results in flight."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: list[Future] = []
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def landed_reader(batches: Iterator[LandedBatch]) -> pa.RecordBatchReader:
    """One stream of lines with their landing hour, consumed lazily by DuckDB (bounded memory)."""
    schema = LINE_SCHEMA.append(pa.field("landing_hour", pa.timestamp("us")))

    def record_batches() -> Iterator[pa.RecordBatch]:
        for batch in batches:
            hour = pa.array([batch.landing_hour] * batch.lines.num_rows, pa.timestamp("us"))
            yield from batch.lines.append_column(schema.field("landing_hour"), hour).cast(schema).to_batches()

    return pa.RecordBatchReader.from_batches(schema, record_batches())


def routing_sql(lines: str, late_hours: int) -> str:
    """raw_events rows for a relation of landed lines, each routed to its event hour (see module doc)."""
    hint = f"CAST(date_trunc('hour', {event_time_sql('line')}) AS TIMESTAMP)"
    return f"""
        SELECT CASE WHEN hint <= landing_hour AND hint >= landing_hour - INTERVAL {int(late_hours)} HOUR
                    THEN hint ELSE landing_hour END AS event_hour,
               landing_hour, source_file, line_number, line, raw_bytes,
               CAST(now() AS TIMESTAMP) AS ingested_at
        FROM (SELECT *, {hint} AS hint FROM {lines}) AS b
    """
