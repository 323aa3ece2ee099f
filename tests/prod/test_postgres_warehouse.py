"""The Postgres helpers: DDL from the lake tables, and a CSV COPY that keeps every awkward value."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from shopper_assets.contract.tables import LAKE_TABLES
from shopper_assets.storage import postgres_warehouse as pg

HOUR = datetime(2026, 11, 20, 13)
BLOB = "from_hex('FF000A22')"  # 0xFF, NUL, newline, quote
AWKWARD = ["", 'comma, "quotes"', "multi\nline\r\nCRLF", "back\\slash \\x00 \\.", "\\.", "ünïcödé ✓ 🛒", "nul\x00byte"]


def test_ensure_tables_types_index_and_idempotence(pg_url: str):
    with pg.connect(pg_url) as conn:
        for _ in range(2):
            pg.ensure_tables(conn, LAKE_TABLES.values())
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'lake' AND table_name = 'cleaned_events'"
            ).fetchall()
        )
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'lake'")}
        raw_types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'lake' AND table_name = 'raw_events'"
            ).fetchall()
        )
    assert types["event_id"] == "text" and types["event_time"] == "timestamp without time zone"
    assert types["price"] == "numeric" and types["quantity"] == "integer" and types["_line_number"] == "bigint"
    assert raw_types["raw_bytes"] == "bytea"
    assert {f"{t}_{spec.partition_column}_idx" for t, spec in LAKE_TABLES.items()} <= indexes


def test_ensure_tables_adds_new_contract_columns(pg_url: str):
    """New columns are added; the part column too, and then the table's rows are loaded again whole:
    its hours are dropped from the load ledger, since their rows do not say which part they came from."""
    spec = LAKE_TABLES["quarantined_events"]
    with pg.connect(pg_url) as conn:
        conn.execute("CREATE SCHEMA lake")
        conn.execute("CREATE TABLE lake.quarantined_events (event_hour timestamp, reason text)")
        conn.execute(f"CREATE TABLE lake.{pg.LOADED_PARTS} (table_name text, event_hour timestamp, part text)")
        conn.execute(
            f"INSERT INTO lake.{pg.LOADED_PARTS} VALUES ('quarantined_events', %s, 'p1'), ('ad_spend', %s, 'p2')",
            (HOUR, HOUR),
        )
        conn.commit()
        pg.ensure_tables(conn, [spec])
        cols = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'lake' "
                "AND table_name = 'quarantined_events' ORDER BY ordinal_position"
            )
        ]
        ledger = conn.execute(f"SELECT table_name FROM lake.{pg.LOADED_PARTS}").fetchall()
    assert set(cols) == {name for name, _ in pg.warehouse_columns(spec)} == {*spec.column_names, "_lake_part"}
    assert ledger == [("ad_spend",)]


def test_replace_hours_round_trips_awkward_values_and_replaces(pg_url: str):
    spec = LAKE_TABLES["quarantined_events"]
    values = ", ".join(
        f"(TIMESTAMP '{HOUR}', TIMESTAMP '{HOUR}', 'f', {i}, NULL, 'invalid_json', ?, ?, "
        f"{'NULL' if i % 2 else BLOB}, TIMESTAMP '2026-11-21 00:00:00.5')"
        for i in range(len(AWKWARD))
    )
    params = [p for s in AWKWARD for p in (s, s)]
    with duckdb.connect() as con:
        con.execute(f"CREATE TABLE t AS SELECT * FROM (VALUES {values}) AS v({', '.join(spec.column_names)})", params)
        batches = con.sql(pg.export_select(spec, "SELECT * FROM t")).to_arrow_table().to_batches(max_chunksize=3)
    with pg.connect(pg_url) as conn:
        assert pg.replace_hours(conn, spec, [HOUR], batches) == len(AWKWARD)
        assert pg.replace_hours(conn, spec, [HOUR], batches) == len(AWKWARD)  # replaced, not appended
        rows = conn.execute(
            "SELECT line_number, detail, line, raw_bytes, quarantined_at, event_id "
            "FROM lake.quarantined_events ORDER BY line_number"
        ).fetchall()
    assert len(rows) == len(AWKWARD)
    for (i, detail, line, raw, at, event_id), want in zip(rows, AWKWARD, strict=True):
        want = want.replace("\x00", "\ufffd")
        assert detail == want and line == want, i
        assert (raw is None) if i % 2 else bytes(raw) == b'\xff\x00\n"'
        assert at == datetime(2026, 11, 21, 0, 0, 0, 500000) and event_id is None


def test_replace_hours_with_no_rows_clears_only_those_hours(pg_url: str):
    spec = LAKE_TABLES["quarantined_events"]
    with pg.connect(pg_url) as conn:
        pg.ensure_tables(conn, [spec])
        for h in (12, 13):
            conn.execute(
                "INSERT INTO lake.quarantined_events (event_hour, reason) VALUES (%s, 'x')", (HOUR.replace(hour=h),)
            )
        conn.commit()
        assert pg.replace_hours(conn, spec, [HOUR], []) == 0
        left = conn.execute("SELECT event_hour FROM lake.quarantined_events").fetchall()
    assert left == [(HOUR.replace(hour=12),)]


def test_decimal_and_types_mapping():
    assert pg.pg_type("DECIMAL(18,2)") == "numeric(18,2)"
    assert pg.pg_type("VARCHAR") == "text" and pg.pg_type("BLOB") == "bytea"
    assert pg.pg_type("TIMESTAMP") == "timestamp" and pg.pg_type("BIGINT") == "bigint"
    with pytest.raises(ValueError):
        pg.pg_type("HUGEINT")
    assert Decimal("1.50") == Decimal("1.5")


def test_redact_hides_password_and_socket_query():
    assert pg.redact("postgresql://u:s3cret@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert "s3cret" not in pg.redact("postgresql://u:s3cret@/x?host=/tmp/sock")
    assert pg.redact(None) == "<unset>"


def test_failure_while_streaming_rolls_the_window_back(pg_url: str):
    spec = LAKE_TABLES["quarantined_events"]
    with pg.connect(pg_url) as conn:
        pg.ensure_tables(conn, [spec])
        conn.execute("INSERT INTO lake.quarantined_events (event_hour, reason) VALUES (%s, 'kept')", (HOUR,))
        conn.commit()

        def failing():
            yield from ()
            raise RuntimeError("source broke mid-stream")

        with pytest.raises(RuntimeError):
            pg.replace_hours(conn, spec, [HOUR], failing())
        assert conn.execute("SELECT reason FROM lake.quarantined_events").fetchall() == [("kept",)]


def test_sync_parts_appends_new_parts_and_replaces_hours_it_cannot_trust(pg_url: str):
    spec = LAKE_TABLES["quarantined_events"]
    rows_of = {"p1": 2, "p2": 3, "p3": 1}
    asked: list[list[str]] = []

    def batches_for(todo):
        asked.append([p for _, p in todo])
        hours = [h for h, p in todo for _ in range(rows_of[p])]
        parts = [p for _, p in todo for _ in range(rows_of[p])]
        empty = {c: [None] * len(hours) for c in spec.column_names[1:]}
        return [pa.table({"event_hour": hours, **empty, "_lake_part": parts}).to_batches()[0]]

    def count() -> int:
        return conn.execute("SELECT count(*) FROM lake.quarantined_events").fetchone()[0]

    with pg.connect(pg_url) as conn:
        pg.ensure_tables(conn, [spec])
        conn.execute(
            "INSERT INTO lake.quarantined_events (event_hour, reason) VALUES (%s, 'loaded untracked')", (HOUR,)
        )
        conn.commit()
        assert pg.sync_parts(conn, spec, {HOUR: ["p1"]}, batches_for) == (2, 1)  # untracked rows: replaced
        assert count() == 2
        assert pg.sync_parts(conn, spec, {HOUR: ["p1", "p2"]}, batches_for) == (3, 0)  # only the new part
        assert pg.sync_parts(conn, spec, {HOUR: ["p1", "p2"]}, batches_for) == (0, 0)  # nothing new
        assert count() == 5
        held = conn.execute("SELECT _lake_part, count(*) FROM lake.quarantined_events GROUP BY 1").fetchall()
        assert dict(held) == {"p1": 2, "p2": 3}  # every row says which part file it came from
        assert pg.sync_parts(conn, spec, {HOUR: ["p3"]}, batches_for) == (1, 1)  # parts gone: rebuilt whole
        assert count() == 1
    assert asked == [["p1"], ["p2"], ["p3"]]
