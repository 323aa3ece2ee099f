"""Lake table layouts. Event tables are partitioned by ``event_hour`` (the hourly Dagster partition),
the ad-spend tables by ``spend_date`` and the data-quality tables by ``event_date`` (daily)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shopper_assets.contract.ad_spend import AD_SPEND_COLUMNS, AD_SPEND_QUARANTINE_COLUMNS
from shopper_assets.contract.events import CLEANED_COLUMNS
from shopper_assets.contract.time_grid import days_in, hours_in

PARTITION_COLUMN = "event_hour"
#: Added by the warehouse to every lake table it reads: the name of the lake part file a row came from
#: (part names are never reused), so dbt can load what the lake added since its last run.
PART_COLUMN = "_lake_part"


@dataclass(frozen=True)
class LakeTable:
    name: str
    columns: tuple[tuple[str, str], ...]
    description: str
    partition_column: str = PARTITION_COLUMN
    daily: bool = False  # one partition per day (``date=D``) instead of per hour (``date=D/hour=H``)

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]

    def folder(self, start: datetime) -> str:
        """Relative folder of the partition starting at ``start`` (below the table's folder)."""
        return f"date={start:%Y-%m-%d}" if self.daily else f"date={start:%Y-%m-%d}/hour={start:%H}"

    def partitions_in(self, start: datetime, end: datetime) -> list[datetime]:
        """Start of every partition in [start, end)."""
        return days_in(start, end) if self.daily else hours_in(start, end)

    def ddl(self, schema: str = "lake") -> str:
        cols = ",\n  ".join(f"{name} {sql_type}" for name, sql_type in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {schema}.{self.name} (\n  {cols}\n)"


RAW_EVENTS = LakeTable(
    "raw_events",
    (
        ("event_hour", "TIMESTAMP"),  # hour the line is routed to (its event_time hour when readable)
        ("landing_hour", "TIMESTAMP"),  # hour folder it was delivered in
        ("source_file", "VARCHAR"),
        ("line_number", "BIGINT"),
        ("line", "VARCHAR"),
        ("raw_bytes", "BLOB"),  # exact bytes, only for lines that are not valid UTF-8
        ("ingested_at", "TIMESTAMP"),
    ),
    "Every landed line as delivered, with its file and line number.",
)

CLEANED_EVENTS = LakeTable("cleaned_events", CLEANED_COLUMNS, "Typed, valid, deduplicated events.")

QUARANTINED_EVENTS = LakeTable(
    "quarantined_events",
    (
        ("event_hour", "TIMESTAMP"),
        ("landing_hour", "TIMESTAMP"),
        ("source_file", "VARCHAR"),
        ("line_number", "BIGINT"),
        ("event_id", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("detail", "VARCHAR"),
        ("line", "VARCHAR"),
        ("raw_bytes", "BLOB"),
        ("quarantined_at", "TIMESTAMP"),
    ),
    "Landed lines removed for a reason other than duplication, with the reason.",
)

AD_SPEND = LakeTable(
    "ad_spend",
    AD_SPEND_COLUMNS,
    "Valid ad-spend rows, one per (spend_date, campaign_id, ad_id), with their file and line.",
    partition_column="spend_date",
    daily=True,
)

AD_SPEND_QUARANTINE = LakeTable(
    "ad_spend_quarantine",
    AD_SPEND_QUARANTINE_COLUMNS,
    "Landed ad-spend lines that did not make it, with the reason, a detail and the line.",
    partition_column="spend_date",
    daily=True,
)

DATA_QUALITY = LakeTable(
    "data_quality_daily",
    (
        ("event_date", "DATE"),
        ("landed_lines", "BIGINT"),  # raw_events rows of the day's hours
        ("clean_events", "BIGINT"),
        ("quarantined_lines", "BIGINT"),
        ("duplicate_lines", "BIGINT"),
        ("late_events", "BIGINT"),  # clean events delivered in a later hour folder than their event_time's
        ("checks_passed", "INTEGER"),
        ("checks_warned", "INTEGER"),
        ("checks_failed", "INTEGER"),
        ("failed_checks", "VARCHAR"),  # comma-separated check names; '' when none failed
        ("computed_at", "TIMESTAMP"),
    ),
    "The day's data quality: landed lines, clean events, losses, late arrivals and the lake checks' verdict.",
    partition_column="event_date",
    daily=True,
)

DATA_QUALITY_LOSSES = LakeTable(
    "data_quality_losses_daily",
    (("event_date", "DATE"), ("reason", "VARCHAR"), ("lines", "BIGINT")),
    "Landed lines of the day that did not become clean events, per reason (quarantine reasons and 'duplicate').",
    partition_column="event_date",
    daily=True,
)

LAKE_TABLES = {
    t.name: t
    for t in (
        RAW_EVENTS,
        CLEANED_EVENTS,
        QUARANTINED_EVENTS,
        AD_SPEND,
        AD_SPEND_QUARANTINE,
        DATA_QUALITY,
        DATA_QUALITY_LOSSES,
    )
}
