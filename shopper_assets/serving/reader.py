"""Readers of the published marts: one interface over the local serving copy and prod Postgres.

A reader hands out *snapshots*: everything read through one snapshot comes from one published
version (locally one catalog file; in Postgres one REPEATABLE READ, READ ONLY transaction), so a
page or an API response never mixes two builds. SQL is written once, with ``?`` placeholders, and
runs on both backends (DuckDB and Postgres speak the same SQL for what readers ask).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import duckdb

from shopper_assets.serving.local import LocalServing, Version
from shopper_assets.serving.marts import SCHEMA
from shopper_assets.settings import Settings

PG_VERSIONS = "serving.published"  # prod: one row per successful dbt build (see postgres.py)


class ReadError(RuntimeError):
    """The published marts could not be read (backend down, a version vanished)."""


def plain(value: Any) -> Any:
    """Numbers as Python numbers (DECIMAL money becomes float); everything else unchanged."""
    return float(value) if isinstance(value, Decimal) else value


@dataclass
class Snapshot:
    """One consistent view of the published marts."""

    backend: str
    version: str | None
    published_at: datetime | None
    marts: frozenset[str]
    _cursor: Any = field(repr=False, default=None)
    _paramstyle: str = field(repr=False, default="qmark")

    @property
    def age_seconds(self) -> float | None:
        return None if self.published_at is None else (datetime.now(UTC) - self.published_at).total_seconds()

    def has(self, mart: str) -> bool:
        return mart in self.marts

    def execute(self, sql: str, params: Sequence[Any] = ()):
        """Run ``sql`` (``?`` placeholders) and return the cursor (``description``, ``fetchall``)."""
        if self._cursor is None:
            raise ReadError("nothing is published yet")
        if self._paramstyle == "format":
            sql = sql.replace("%", "%%").replace("?", "%s")
        try:
            self._cursor.execute(sql, list(params))
        except (duckdb.Error, _pg_errors()) as exc:
            raise ReadError(str(exc).splitlines()[0]) from exc
        return self._cursor

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [{n: plain(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def _pg_errors() -> type[Exception]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return duckdb.Error
    return psycopg.Error


class LocalReader:
    """Snapshots of the current local version. Each version's catalog is opened once (read-only)
    and shared by the snapshots of that version; a version's connection closes once it is no
    longer current and no snapshot uses it."""

    backend = "duckdb"

    def __init__(self, serving: LocalServing):
        self.serving = serving
        self._lock = threading.Lock()
        self._open: dict[str, list] = {}  # version -> [connection, snapshots using it]

    def _acquire(self, version: Version) -> duckdb.DuckDBPyConnection:
        with self._lock:
            entry = self._open.get(version.name)
            if entry is None:
                try:
                    con = duckdb.connect(str(self.serving.catalog(version)), read_only=True)
                except duckdb.Error as exc:
                    raise ReadError(f"cannot open published version {version.name}: {exc}") from exc
                entry = self._open[version.name] = [con, 0]
            entry[1] += 1
            return entry[0]

    def _release(self, version: Version) -> None:
        with self._lock:
            entry = self._open[version.name]
            entry[1] -= 1
            newest = max(self._open)
            for name, (con, users) in list(self._open.items()):
                if users == 0 and name != newest:
                    con.close()
                    del self._open[name]

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        version = self.serving.current()
        if version is None:
            yield Snapshot(self.backend, None, None, frozenset())
            return
        con = self._acquire(version)
        try:
            with con.cursor() as cur:
                yield Snapshot(self.backend, version.name, version.published_at, frozenset(version.tables), cur)
        finally:
            self._release(version)

    def close(self) -> None:
        with self._lock:
            for con, _ in self._open.values():
                con.close()
            self._open.clear()


class PostgresReader:
    """Snapshots of prod Postgres: a small pool of connections (as the read-only role), each
    snapshot one REPEATABLE READ, READ ONLY transaction."""

    backend = "postgres"

    def __init__(self, url: str, pool_size: int = 8):
        self.url = url
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)

    def _connect(self):
        from shopper_assets.storage.postgres_warehouse import connect, redact

        try:
            return connect(self.url)
        except Exception as exc:
            raise ReadError(f"cannot connect to the warehouse at {redact(self.url)}: {type(exc).__name__}") from exc

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        import psycopg

        self._slots.acquire()
        conn = None
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._connect()
            healthy = True
            try:
                with conn.cursor() as cur:
                    cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (SCHEMA,))
                    marts = frozenset(r[0] for r in cur.fetchall())
                    version, published_at = _pg_version(cur)
                    yield Snapshot(self.backend, version, published_at, marts, cur, "format")
            except psycopg.Error as exc:
                healthy = False
                raise ReadError(str(exc).splitlines()[0]) from exc
            finally:
                try:
                    conn.rollback()
                except psycopg.Error:
                    healthy = False
                if healthy and not conn.closed:
                    self._idle.put(conn)
                else:
                    conn.close()
        finally:
            self._slots.release()

    def close(self) -> None:
        while not self._idle.empty():
            self._idle.get_nowait().close()


def _pg_version(cur) -> tuple[str | None, datetime | None]:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (PG_VERSIONS,))
    if not cur.fetchone()[0]:
        return None, None
    cur.execute(f"SELECT version, published_at FROM {PG_VERSIONS} ORDER BY published_at DESC LIMIT 1")
    row = cur.fetchone()
    return (row[0], row[1]) if row else (None, None)


Reader = LocalReader | PostgresReader


def open_reader(settings: Settings | None = None) -> Reader:
    """The reader of the deployment: the local serving copy, or Postgres (SHOPPER_PG_URL) in prod."""
    settings = settings or Settings.from_env()
    if settings.env == "prod":
        if not settings.pg_url:
            raise ValueError("SHOPPER_ENV=prod needs SHOPPER_PG_URL (the read-only role's URI for readers)")
        return PostgresReader(settings.pg_url)
    return LocalReader(LocalServing(settings.serving_dir))
