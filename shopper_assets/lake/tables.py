"""Lake table layouts. Every table is partitioned by ``event_hour`` (the hourly Dagster partition)."""

from __future__ import annotations

from dataclasses import dataclass

from shopper_assets.contract.events import CLEANED_COLUMNS

PARTITION_COLUMN = "event_hour"


@dataclass(frozen=True)
class LakeTable:
    name: str
    columns: tuple[tuple[str, str], ...]
    description: str

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]

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

LAKE_TABLES = {t.name: t for t in (RAW_EVENTS, CLEANED_EVENTS, QUARANTINED_EVENTS)}
