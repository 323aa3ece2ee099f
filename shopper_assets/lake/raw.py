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

from shopper_assets.contract.event_time import with_event_time
from shopper_assets.contract.time_grid import hours_in
from shopper_assets.ingestion.landing import LANDED_SUFFIXES, LandingZone
from shopper_assets.ingestion.lines import LINE_SCHEMA, decompress_recovering, lines_table
from shopper_assets.partitions import first_hour
from shopper_assets.storage.lake_store import sql_ts


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
    ``workers + 1`` files in memory. A file that cannot be read in full adds one line numbered 0
    carrying what went wrong, which the cleaning step quarantines: ``unreadable_file`` for a damaged
    gzip file (its lines before the damage are kept: see ``decompress_recovering``), ``unsupported_file``
    for a name that is not ``*.jsonl.gz`` or ``*.jsonl`` (not read).
    """
    jobs = list(files)

    def load(job: tuple[datetime, str]) -> LandedBatch:
        hour, name = job
        if not name.endswith(LANDED_SUFFIXES):
            wanted = " or ".join(f"*{s}" for s in LANDED_SUFFIXES)
            return LandedBatch(hour, name, _whole_file(name, f"{name} is not a landing file ({wanted}): not read"))
        text, damage = decompress_recovering(landing.read_bytes(name), name)
        lines = lines_table(name, text)
        if damage is not None:
            cut = bool(text) and not text.endswith(b"\n")
            lines = pa.concat_tables([_whole_file(name, damage.describe(name, lines.num_rows, cut)), lines])
        return LandedBatch(hour, name, lines)

    yield from _bounded_map(load, jobs, workers)


def _whole_file(name: str, problem: str) -> pa.Table:
    """The line numbered 0 that stands for the whole file and says what is wrong with it."""
    columns = {
        "source_file": pa.array([name]).dictionary_encode(),
        "line_number": [0],
        "line": [problem],
        "raw_bytes": [None],
    }
    return pa.table(columns, schema=LINE_SCHEMA)


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
    """raw_events rows for a relation of landed lines, each routed to its event hour (see module doc).

    Never to an hour before the first partition (SHOPPER_START_DATE): such a line stays in its folder's
    hour, where the cleaning step quarantines it as ``before_start_date``.
    """
    return f"""
        SELECT CASE WHEN hint <= landing_hour AND hint >= landing_hour - INTERVAL {int(late_hours)} HOUR
                         AND hint >= {sql_ts(first_hour())}
                    THEN hint ELSE landing_hour END AS event_hour,
               landing_hour, source_file, line_number, line, raw_bytes,
               CAST(now() AS TIMESTAMP) AS ingested_at
        FROM (
            SELECT *, CAST(date_trunc('hour', event_ts) AS TIMESTAMP) AS hint
            FROM ({with_event_time(f"SELECT * FROM {lines}")}) AS e
        ) AS b
    """
