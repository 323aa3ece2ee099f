"""The ``serving`` resource: what a dbt step calls once its build succeeded.

* ``LocalServingStore`` publishes a new read-only version of the served marts from the DuckDB
  warehouse (see local.py), which is what every local reader opens.
* ``PostgresServingStore`` (prod) has nothing to copy: dbt-postgres commits each model in one
  transaction, so the read-only role sees a mart whole or not at all; it records the build as the
  published version (``serving.published``), which ``/health`` and the dashboard report.

Both also count the rows each built model has for each day of the run (or in all, for models that
have no date column), for the row counts on the dbt materializations (see dbt_publish.py), and
find the newest event the published marts include (the pipeline's event-to-mart latency). The
counts are read after the build, from the warehouse the build just wrote: the Dagster process has no
dbt adapter of its own (transform/resources.py), and during the build DuckDB's only writer is dbt.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from shopper_assets.serving.local import LocalServing, version_name
from shopper_assets.serving.marts import SERVED

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuiltModel:
    """A table a dbt build wrote: its relation, and the column that dates its rows (if any)."""

    name: str
    schema: str
    day_column: str | None = None


@dataclass(frozen=True)
class PublishRequest:
    built: tuple[BuiltModel, ...]
    days: tuple[date, ...] | None = None  # the run's day partitions; None: an unpartitioned run
    source: dict = field(default_factory=dict)  # run id, partition range: recorded with the version


@dataclass(frozen=True)
class PublishResult:
    version: str
    #: model -> {day: rows of that day}, or {None: rows of the table} for models without a day column
    counts: dict[str, dict[date | None, int]]
    #: event_time (naive UTC) of the newest event in the marts the build rebuilt (fct_events of its days)
    newest_event: datetime | None = None
    published_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))

    @property
    def event_to_published_seconds(self) -> float | None:
        """How long after the newest event the marts holding it were published."""
        return None if self.newest_event is None else (self.published_at - self.newest_event).total_seconds()


Run = Callable[[str, Sequence[Any]], list[tuple]]


def count_rows(run: Run, request: PublishRequest) -> dict[str, dict[date | None, int]]:
    """Rows per built model: per day of the request for models with a day column (and days),
    else the table's total. ``run`` executes SQL with ``?`` placeholders."""
    counts: dict[str, dict[date | None, int]] = {}
    for model in request.built:
        relation = f'{model.schema}."{model.name}"'
        if model.day_column and request.days:
            first, last = min(request.days), max(request.days)
            column = f'"{model.day_column}"'
            per_day = dict(
                run(
                    f"SELECT CAST({column} AS DATE), count(*) FROM {relation} "
                    f"WHERE {column} >= ? AND {column} < ? GROUP BY 1",
                    [first, last + timedelta(days=1)],
                )
            )
            counts[model.name] = {day: int(per_day.get(day, 0)) for day in request.days}
        else:
            counts[model.name] = {None: int(run(f"SELECT count(*) FROM {relation}", [])[0][0])}
    return counts


EVENT_GRAIN = BuiltModel("fct_events", "marts", "event_date")


def newest_event(run: Run, request: PublishRequest) -> datetime | None:
    """The newest event_time among the events of the build (fct_events of its days), when it built them."""
    if EVENT_GRAIN.name not in {m.name for m in request.built}:
        return None
    where, params = "", []
    if request.days:
        where, params = (
            "WHERE event_date >= ? AND event_date < ?",
            [min(request.days), max(request.days) + timedelta(days=1)],
        )
    newest = run(f"SELECT max(event_time) FROM {EVENT_GRAIN.schema}.{EVENT_GRAIN.name} {where}", params)[0][0]
    if isinstance(newest, datetime) and newest.tzinfo is not None:
        newest = newest.astimezone(UTC).replace(tzinfo=None)
    return newest


class ServingStore(ConfigurableResource):
    """Publishes what a successful dbt build wrote, for readers."""

    def publish(self, request: PublishRequest) -> PublishResult:
        raise NotImplementedError

    def note_unpublished(self, models: Sequence[str]) -> None:
        """A build failed after writing ``models``: make sure the next publish includes them."""

    @contextmanager
    def building(self) -> Iterator[None]:
        """Held for a dbt build and its publish: no lake load may change what the build reads meanwhile.
        Locally the one-slot ``duckdb`` pool already sees to that."""
        yield


class LocalServingStore(ServingStore):
    """Versions of the served marts under ``serving_dir``, exported from the DuckDB warehouse."""

    serving_dir: str
    duckdb_path: str
    keep_versions: int = Field(default=3, description="Versions kept readable besides the current one.")
    keep_seconds: float = Field(default=600, description="Versions younger than this stay readable.")

    @property
    def serving(self) -> LocalServing:
        return LocalServing(self.serving_dir, self.keep_versions, self.keep_seconds)

    def publish(self, request: PublishRequest) -> PublishResult:
        # read-only: dbt has exited, and nothing else may write the warehouse while this step holds the pool
        with duckdb.connect(self.duckdb_path, read_only=True) as con:

            def run(sql: str, params: Sequence[Any]) -> list[tuple]:
                return con.execute(sql, list(params)).fetchall()

            counts, newest = count_rows(run, request), newest_event(run, request)
            rebuilt = {m.name for m in request.built if m.schema == "marts"}
            version = self.serving.publish(con, SERVED, rebuilt, request.source)
        log.info("published serving version %s (exported %s)", version.name, ", ".join(version.source["exported"]))
        return PublishResult(version.name, counts, newest, version.published_at.astimezone(UTC).replace(tzinfo=None))

    def note_unpublished(self, models: Sequence[str]) -> None:
        self.serving.note_unpublished(models)


class PostgresServingStore(ServingStore):
    """Prod: records each successful build in ``serving.published`` (the marts are already visible)."""

    pg_url: str | None = Field(default=None, repr=False, description="libpq URI of the warehouse (secret)")
    keep_rows: int = 10_000

    def resolved_pg_url(self) -> str:
        url = self.pg_url.get_value() if isinstance(self.pg_url, EnvVar) else self.pg_url
        if not url:
            raise ValueError("PostgresServingStore needs SHOPPER_PG_URL")
        return url

    @contextmanager
    def building(self) -> Iterator[None]:
        """Prod runs dbt (pool ``dbt``) beside lake steps (pool ``lake``): lake loads wait for the build
        (storage/postgres_warehouse.py ``hold_for_build``)."""
        from shopper_assets.storage.postgres_warehouse import hold_for_build

        with hold_for_build(self.resolved_pg_url()):
            yield

    def publish(self, request: PublishRequest) -> PublishResult:
        from shopper_assets.serving.postgres import record_version
        from shopper_assets.storage.postgres_warehouse import connect

        with connect(self.resolved_pg_url()) as conn:

            def run(sql: str, params: Sequence[Any]) -> list[tuple]:
                return conn.execute(sql.replace("?", "%s"), list(params)).fetchall()

            counts, newest = count_rows(run, request), newest_event(run, request)
            conn.rollback()  # counting opened a transaction; recording the version takes its own
            name = version_name()
            record_version(conn, name, json.dumps(request.source, default=str), self.keep_rows)
        return PublishResult(name, counts, newest)
