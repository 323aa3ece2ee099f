"""Prod serving on Postgres: the record of published builds, and the readers' role.

Readers (the API and the dashboard in docker-compose) connect as a read-only role
(``deploy/postgres-reader.sh`` creates it: SELECT on the ``marts`` and ``serving`` schemas, now and
for every table the pipelines' role creates later, and ``default_transaction_read_only``). dbt-postgres
writes each model in one transaction (a table is built aside and renamed in; an incremental model's
delete+insert and a ``window_table``'s delete and insert of its window are one transaction each), so a
reader sees a mart before the build or after it, never half of it.
"""

from __future__ import annotations

import psycopg

PUBLISHED_DDL = """
CREATE SCHEMA IF NOT EXISTS serving;
CREATE TABLE IF NOT EXISTS serving.published (
    version text PRIMARY KEY,
    published_at timestamptz NOT NULL DEFAULT now(),
    source jsonb
);
"""


def record_version(conn: psycopg.Connection, version: str, source_json: str, keep_rows: int) -> None:
    """Add a published build; keep the newest ``keep_rows`` records."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('serving.published'))")
        for statement in filter(str.strip, PUBLISHED_DDL.split(";")):
            conn.execute(statement)
        conn.execute("INSERT INTO serving.published (version, source) VALUES (%s, %s)", (version, source_json))
        conn.execute(
            """DELETE FROM serving.published WHERE version NOT IN (
                   SELECT version FROM serving.published ORDER BY published_at DESC LIMIT %s)""",
            (keep_rows,),
        )
