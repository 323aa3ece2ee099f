"""The Postgres warehouse of the prod deployment: ``lake.<table>`` tables that dbt-postgres reads.

Kept to three verbs — connect, ensure tables, replace a window — so the S3 lake store and anyone
else (a backfill script, a test) load the warehouse the same way. Rows arrive as Arrow batches
streamed from DuckDB over the lake's Parquet partitions, rendered to CSV by Arrow and sent with
``COPY``: one statement per window, no Python loop per row, no temporary file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql

from shopper_assets.contract.tables import PART_COLUMN, LakeTable

#: Tables of the lake that the warehouse holds (raw_events stays in the lake only).
WAREHOUSE_TABLES = (
    "cleaned_events",
    "quarantined_events",
    "ad_spend",
    "ad_spend_quarantine",
    "data_quality_daily",
    "data_quality_losses_daily",
)

_DDL_LOCK = 0x5305_0001  # pg_advisory_xact_lock key serialising DDL of concurrent runs
#: Lake loads take it shared (side by side), a dbt build exclusive (``hold_for_build``): a build reads
#: the lake tables from several models at different moments, so no load may commit in between (the
#: local ``duckdb`` pool gives that guarantee; prod runs lake and dbt steps in pools of their own).
_BUILD_LOCK = 0x5305_0002


@contextmanager
def hold_for_build(url: str) -> Iterator[None]:
    """Keep every lake load out of the warehouse while a dbt build runs (loads in progress commit first)."""
    with connect(url) as conn:
        conn.autocommit = True
        conn.execute("SELECT pg_advisory_lock(%s)", (_BUILD_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_BUILD_LOCK,))


def pg_type(sql_type: str) -> str:
    """Postgres type of a lake column type (the DuckDB names used in contract/tables.py)."""
    t = sql_type.strip().upper()
    if t == "VARCHAR":
        return "text"
    if t == "BLOB":
        return "bytea"
    if t in ("TIMESTAMP", "DATE", "BIGINT", "INTEGER"):
        return t.lower()
    if m := re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t):
        return f"numeric({m[1]},{m[2]})"
    raise ValueError(f"no Postgres type for lake column type {sql_type!r}")


def redact(url: str | None) -> str:
    """The URI without its password, for messages (never log the URI itself)."""
    if not url:
        return "<unset>"
    parts = urlsplit(url)
    if parts.password is None:
        return urlunsplit(parts._replace(query=""))
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}", query=""))


def connect(url: str) -> psycopg.Connection:
    """Open a connection from a libpq URI (``postgresql://user:pw@host:port/db`` or ``...?host=/dir``).

    libpq parses the URI, unix-socket directories included; a SQLAlchemy-style ``+driver`` suffix
    in the scheme is dropped. Errors never repeat the password (libpq does not include it).
    """
    url = re.sub(r"^(postgres(?:ql)?)\+\w+://", r"\1://", url)
    return psycopg.connect(url, connect_timeout=15, client_encoding="utf8", application_name="shopper_assets")


def ensure_tables(conn: psycopg.Connection, tables: Iterable[LakeTable], schema: str = "lake") -> None:
    """Create the schema, the tables and their partition-column index if missing; add new contract columns.

    Idempotent and safe when several runs start at once (an advisory lock serialises the DDL). DDL
    only runs for what the catalog lacks, so the usual call takes no table lock that would wait
    behind a long dbt read.
    """
    tables = list(tables)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
        existing: dict[str, set[str]] = {}
        for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s", (schema,)
        ):
            existing.setdefault(table, set()).add(column)
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,))}
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        for spec in tables:
            target = sql.Identifier(schema, spec.name)
            have = existing.get(spec.name)
            if have is None:
                cols = sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(pg_type(t)))
                    for name, t in warehouse_columns(spec)
                )
                conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(target, cols))
                have = {name for name, _ in warehouse_columns(spec)}
            for name, t in warehouse_columns(spec):
                if name not in have:
                    conn.execute(
                        sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                            target, sql.Identifier(name), sql.SQL(pg_type(t))
                        )
                    )
            if PART_COLUMN not in have and LOADED_PARTS in existing:
                # rows loaded before they carried their part: load their hours again, whole
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE table_name = %s").format(sql.Identifier(schema, LOADED_PARTS)),
                    (spec.name,),
                )
            index = f"{spec.name}_{spec.partition_column}_idx"
            if index not in indexes:
                conn.execute(
                    sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                        sql.Identifier(index), target, sql.Identifier(spec.partition_column)
                    )
                )


def replace_hours(
    conn: psycopg.Connection,
    spec: LakeTable,
    hours: list[datetime],
    batches: Iterable[pa.RecordBatch],
    schema: str = "lake",
    with_part: bool = False,
) -> int:
    """Replace the rows of ``hours`` (partition starts: hours, or days) in ``schema.<table>`` with
    ``batches`` (with ``with_part``, carrying each row's part file name last), in one transaction.

    DELETE of the hours and COPY of the rows commit together, so a reader sees the old window or
    the new one, and re-running a window never duplicates; an error anywhere (also while the
    batches are produced) rolls both back. Replacements of the same hours are serialised with
    advisory locks per hour (two concurrent runs of one window would otherwise both delete the old
    rows and both insert); runs of different hours load side by side. Batches carry the table's
    columns in order as rendered by ``export_select``; they are streamed as CSV (NULL unquoted,
    every string quoted), so Postgres parses one batch while the next is produced. Returns the rows
    copied.
    """
    ensure_tables(conn, [spec], schema)
    target = sql.Identifier(schema, spec.name)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (_BUILD_LOCK,))  # not during a dbt build
        lock_hours(cur, f"{schema}.{spec.name}", hours)
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(target, sql.Identifier(spec.partition_column)),
            (partition_values(spec, hours),),
        )
        return _copy_rows(cur, spec, schema, batches, with_part)


#: A window of more hours than this locks whole days: Postgres keeps advisory locks in its shared lock
#: table (max_locks_per_transaction x max_connections, 6,400 slots by default), which a year's backfill
#: locked by the hour (8,760) would overflow.
HOURLY_LOCKS_UP_TO = 48


def lock_hours(cur: psycopg.Cursor, table: str, hours: Iterable[datetime], session: bool = False) -> None:
    """Take the transaction's (or, with ``session``, the connection's) advisory locks on ``hours`` of
    ``table``, so that only runs of the same hours take turns: lake runs of different hours load the
    same table at once (prod runs them in parallel).

    Two levels: a window of up to ``HOURLY_LOCKS_UP_TO`` hours takes its days shared and its hours
    exclusive; a longer one takes its days exclusive. All in one order (days, then hours, each in time
    order), so runs with overlapping windows wait for each other instead of deadlocking. Keys are the
    two-int4 form (hash of table and level, hours since the epoch), apart from the bigint locks here.
    """
    hours = sorted(set(hours))
    days = sorted({h.replace(hour=0, minute=0, second=0, microsecond=0) for h in hours})
    by_day = len(hours) > HOURLY_LOCKS_UP_TO
    scope = "" if session else "_xact"
    locks = [(f"pg_advisory{scope}_lock{'' if by_day else '_shared'}", f"{table}/day", d) for d in days]
    locks += [] if by_day else [(f"pg_advisory{scope}_lock", f"{table}/hour", h) for h in hours]
    for function, key, start in locks:
        epoch_hour = int((start if start.tzinfo else start.replace(tzinfo=UTC)).timestamp() // 3600)
        cur.execute(f"SELECT {function}(hashtext(%s), %s)", (key, epoch_hour))


def partition_values(spec: LakeTable, starts: Iterable[datetime]) -> list:
    """Partition starts as values of the table's partition column (dates for daily tables)."""
    return [s.date() for s in starts] if spec.daily else list(starts)


def warehouse_columns(spec: LakeTable) -> tuple[tuple[str, str], ...]:
    """The columns of a lake table in the warehouse: the lake's, and the part file of each row."""
    return (*spec.columns, (PART_COLUMN, "VARCHAR"))


def _copy_rows(
    cur: psycopg.Cursor, spec: LakeTable, schema: str, batches: Iterable[pa.RecordBatch], with_part: bool = False
) -> int:
    """Stream Arrow batches into the table with one COPY (CSV: NULL unquoted, every string quoted).

    The batches carry the lake table's columns, and with ``with_part`` the part file name last."""
    target = sql.Identifier(schema, spec.name)
    names = [name for name, _ in (warehouse_columns(spec) if with_part else spec.columns)]
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in names)
    options = pa_csv.WriteOptions(include_header=False)
    with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(target, cols)) as copy:
        for batch in batches:
            if batch.num_rows:
                sink = pa.BufferOutputStream()
                pa_csv.write_csv(batch, sink, options)
                copy.write(sink.getvalue())
    return cur.rowcount


# per schema: (table, event_hour, part) of every lake part file loaded; event_hour is the partition's
# start (midnight for a daily table)
LOADED_PARTS = "_loaded_parts"


def sync_parts(
    conn: psycopg.Connection,
    spec: LakeTable,
    parts: dict[datetime, list[str]],
    batches_for: Callable[[list[tuple[datetime, str]]], Iterable[pa.RecordBatch]],
    schema: str = "lake",
) -> tuple[int, int]:
    """Make the hours of ``parts`` in ``schema.<table>`` hold exactly the rows of those lake part files.

    Postgres records which part files it holds (``_loaded_parts``, in the same transaction as the
    rows). An hour whose recorded parts are all still in the lake only gets the rows of its new
    parts: a micro-batch costs its own size, not its hour's. Any other hour (a part gone, or
    nothing recorded, e.g. rows loaded before parts were tracked) is replaced whole. Part names are
    never reused, so a part is loaded once. Runs of different hours sync side by side; runs of the
    same hour take turns (``lock_hours``). Returns (rows copied, hours replaced whole).
    """
    ensure_tables(conn, [spec], schema)
    ledger = sql.Identifier(schema, LOADED_PARTS)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (table_name text, event_hour timestamp, part text, "
                "PRIMARY KEY (table_name, event_hour, part))"
            ).format(ledger)
        )
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (_BUILD_LOCK,))  # not during a dbt build
        lock_hours(cur, f"{schema}.{spec.name}", parts)
        cur.execute(
            sql.SQL("SELECT event_hour, part FROM {} WHERE table_name = %s AND event_hour = ANY(%s)").format(ledger),
            (spec.name, list(parts)),
        )
        loaded: dict[datetime, set[str]] = {}
        for hour, part in cur.fetchall():
            loaded.setdefault(hour, set()).add(part)
        whole = [h for h, names in parts.items() if not loaded.get(h) or not loaded[h] <= set(names)]
        todo = [(h, p) for h, names in parts.items() for p in names if h in whole or p not in loaded[h]]
        if whole:
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE {} = ANY(%s)").format(
                    sql.Identifier(schema, spec.name), sql.Identifier(spec.partition_column)
                ),
                (partition_values(spec, whole),),
            )
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE table_name = %s AND event_hour = ANY(%s)").format(ledger),
                (spec.name, whole),
            )
        rows = _copy_rows(cur, spec, schema, batches_for(todo) if todo else [], with_part=True)
        if todo:
            cur.executemany(
                sql.SQL("INSERT INTO {} VALUES (%s, %s, %s)").format(ledger), [(spec.name, h, p) for h, p in todo]
            )
        return rows, len(whole)


def export_select(spec: LakeTable, relation: str, with_part: bool = False) -> str:
    """SELECT over a DuckDB relation of the table that renders values the way Postgres CSV reads them.

    BLOB becomes bytea hex text (``\\x...``); NUL characters, which Postgres text cannot hold,
    become U+FFFD (only possible in quarantined raw lines).
    """
    exprs = []
    for name, t in warehouse_columns(spec) if with_part else spec.columns:
        kind = t.strip().upper()
        if kind == "BLOB":
            exprs.append(f"CASE WHEN {name} IS NOT NULL THEN '\\x' || hex({name}) END AS {name}")
        elif kind == "VARCHAR":
            exprs.append(f"replace({name}, chr(0), chr(65533)) AS {name}")
        else:
            exprs.append(name)
    return f"SELECT {', '.join(exprs)} FROM ({relation}) AS pg_export"
