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

from shopper_assets.ingestion.landing import LANDED_SUFFIXES, LandingZone
from shopper_assets.ingestion.lines import LINE_SCHEMA, decompress_recovering, lines_table
from shopper_assets.partitions import first_hour, hours_in
from shopper_assets.storage.lake_store import sql_ts

EVENT_TIME_KEY = '"event_time":"'
#: ISO-8601 with an offset, as the contract requires: a date and a time, then Z or +hh:mm (+hhmm, +hh).
#: A date alone, a time without an offset or any other spelling is not a timestamp of the contract.
TIMESTAMP_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"  # date, time
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)"  # offset
)


def timestamp_sql(text: str) -> str:
    """SQL for a contract timestamp text as TIMESTAMPTZ; NULL for any other spelling or an impossible time.

    The one definition of a valid ``event_time``: routing (here, the Kafka lander, S3 drops) and the
    cleaning step all read it with this, so they agree on every line.
    """
    return f"CASE WHEN regexp_full_match({text}, '{TIMESTAMP_PATTERN}') THEN try_cast({text} AS TIMESTAMPTZ) END"


def _searched(line: str, pos: str) -> str:
    """The substring search at ``pos`` found the top-level key: the line starts an object and no ``{`` or
    ``[`` (a nested value that could hold the key) comes before it."""
    before = f"substr({line}, 2, {pos} - 2)"
    return f"{pos} > 0 AND starts_with({line}, '{{') AND strpos({before}, '{{') = 0 AND strpos({before}, '[') = 0"


def _found(line: str, pos: str) -> str:
    """The text after the key up to the next quote (the value, when it holds no escape)."""
    return f"split_part(substr({line}, {pos} + {len(EVENT_TIME_KEY)}, 64), '\"', 1)"


def _plain(value: str) -> str:
    """The value was read whole (shorter than the 64 characters looked at) and holds no escape."""
    return f"strlen({value}) < 63 AND strpos({value}, '\\') = 0"


def _parsed(line: str) -> str:
    return f"try(json_extract_string({line}, '$.event_time'))"


def with_event_time(relation: str, line: str = "line", column: str = "event_ts") -> str:
    """``relation`` with one more column: the TIMESTAMPTZ of each line's top-level ``event_time`` (NULL when
    it has none of the contract's form), as a JSON parser reads it.

    Most lines are the compact JSON the producers write, with ``event_time`` among the first keys; for
    them a substring search gives the value without parsing the line. The search is used only where it
    provably finds the top-level key (``_searched``: no nested value before it) and the value whole
    (``_plain``); any other line is parsed (of a repeated key the parser reads the first, as the cleaning
    step does, which quarantines such lines). Each piece is a column, computed once per line.
    """
    return f"""
        SELECT * EXCLUDE (_et_pos, _et_found, _et_text), {timestamp_sql("_et_text")} AS {column}
        FROM (
            SELECT *, CASE WHEN _et_found IS NOT NULL AND {_plain("_et_found")} THEN _et_found
                           ELSE {_parsed(line)} END AS _et_text
            FROM (
                SELECT *, CASE WHEN {_searched(line, "_et_pos")} THEN {_found(line, "_et_pos")} END AS _et_found
                FROM (SELECT *, strpos({line}, '{EVENT_TIME_KEY}') AS _et_pos FROM ({relation}) AS lines) AS p
            ) AS f
        ) AS t
    """


def event_time_text_sql(line: str) -> str:
    """The text ``with_event_time`` reads, as one expression (for a single value; the relation form is the
    fast one, since DuckDB computes a repeated sub-expression once per use)."""
    pos = f"strpos({line}, '{EVENT_TIME_KEY}')"
    found = _found(line, pos)
    return f"CASE WHEN {_searched(line, pos)} AND {_plain(found)} THEN {found} ELSE {_parsed(line)} END"


def event_time_sql(line: str) -> str:
    """SQL for the event_time of one text value (TIMESTAMPTZ, NULL if it has none of the contract's form)."""
    return timestamp_sql(event_time_text_sql(line))


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
