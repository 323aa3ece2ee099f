"""Load generated events straight into ``lake.cleaned_events`` of a DuckDB file.

Tests and ``bench/bench_dbt.py`` use it to give dbt a realistic cleaned layer without running the
landing and lake assets: every event of :func:`shopper_assets.generator.simulate_events` becomes a
cleaned row, with the lineage columns filled the way the lake fills them (``event_hour`` =
``_landing_hour`` = the event's UTC hour, ``_source_file`` a label, ``_line_number`` the row number,
``_lake_part`` a new part name per insert).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa

from shopper_assets.contract.ad_spend import AD_SPEND_COLUMNS
from shopper_assets.contract.events import CLEANED_COLUMNS, EVENT_FIELDS
from shopper_assets.contract.tables import DATA_QUALITY, DATA_QUALITY_LOSSES, PART_COLUMN
from shopper_assets.generator import simulate_events
from shopper_assets.sql_text import literal

LAKE_SCHEMA = "lake"
CLEANED_TABLE = f"{LAKE_SCHEMA}.cleaned_events"


def create_cleaned_events(con: duckdb.DuckDBPyConnection, *, replace: bool = False) -> None:
    """Create ``lake.cleaned_events`` with exactly the contract's columns and types."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {LAKE_SCHEMA}")
    cols = ",\n  ".join(f"{name} {sql_type}" for name, sql_type in (*CLEANED_COLUMNS, (PART_COLUMN, "VARCHAR")))
    verb = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE IF NOT EXISTS"
    con.execute(f"{verb} {CLEANED_TABLE} (\n  {cols}\n)")


def create_ad_spend(con: duckdb.DuckDBPyConnection) -> None:
    """Create an empty ``lake.ad_spend`` with the contract's columns, and the empty data-quality
    tables: the dbt sources dbt needs even when no ad spend was landed and no day was scored."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {LAKE_SCHEMA}")
    cols = ",\n  ".join(f"{name} {sql_type}" for name, sql_type in AD_SPEND_COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {LAKE_SCHEMA}.ad_spend (\n  {cols}\n)")
    for table in (DATA_QUALITY, DATA_QUALITY_LOSSES):
        con.execute(table.ddl(LAKE_SCHEMA))


def _select_cleaned(view: str, source_file: str, first_line: int, part: str) -> str:
    """SELECT of the cleaned columns, typed, from a registered Arrow table of generated events, all
    as from one lake part file named ``part``."""
    exprs = []
    for field in EVENT_FIELDS:
        if field.name == "event_time":
            # Arrow timestamp with tz=UTC -> naive UTC TIMESTAMP, whatever the session time zone.
            exprs.append("CAST(timezone('UTC', event_time) AS TIMESTAMP) AS event_time")
        else:
            exprs.append(f"CAST({field.name} AS {field.sql_type}) AS {field.name}")
    hour = "date_trunc('hour', CAST(timezone('UTC', event_time) AS TIMESTAMP))"
    exprs += [
        f"{hour} AS event_hour",
        "CAST(NULL AS VARCHAR) AS extra_fields",
        f"{hour} AS _landing_hour",
        f"{literal(source_file)} AS _source_file",
        f"CAST({first_line} + row_number() OVER () AS BIGINT) AS _line_number",
    ]
    exprs.append(f"{literal(part)} AS {PART_COLUMN}")
    names = [n for n, _ in CLEANED_COLUMNS] + [PART_COLUMN]
    body = ",\n    ".join(exprs)
    return f"SELECT {', '.join(names)} FROM (SELECT\n    {body}\nFROM {view}) AS typed"


def insert_events(
    con: duckdb.DuckDBPyConnection, table: pa.Table, *, source_file: str = "test", first_line: int = 0
) -> int:
    """Append one Arrow table of generated events to ``lake.cleaned_events``; returns rows added."""
    con.register("_generated_events", table)
    try:
        # every insert is a new part, as a lake write is: dbt loads what it has not seen by part name
        part = f"part-{uuid.uuid4().hex[:12]}-0.parquet"
        select = _select_cleaned("_generated_events", source_file, first_line, part)
        con.execute(f"INSERT INTO {CLEANED_TABLE} {select}")
    finally:
        con.unregister("_generated_events")
    return table.num_rows


def load_events(db_path: str | Path, tables: Iterable[pa.Table], *, source_file: str = "test") -> int:
    """Create ``lake.cleaned_events`` in the DuckDB file (replacing it) and fill it; returns rows."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    total = 0
    with duckdb.connect(str(db_path)) as con:
        con.execute("SET TimeZone = 'UTC'")
        create_cleaned_events(con, replace=True)
        create_ad_spend(con)
        for table in tables:
            total += insert_events(con, table, source_file=source_file, first_line=total)
        con.execute("CHECKPOINT")
    return total


def load_generated(db_path: str | Path, config) -> int:
    """Simulate ``config`` (a :class:`shopper_assets.generator.GeneratorConfig`) into the file."""
    return load_events(db_path, simulate_events(config))
