"""Single source of truth for the ad-spend source (CONTRACT.md "Ad spend").

Ad platforms report cost per day: a CSV with a header, UTF-8, one row per (date, campaign, ad).
The generator writes it, the ``ad_spend`` asset validates it into the lake, and dbt reads the lake
table through the source ``lake.ad_spend``; all three take the names and types from here.
"""

from __future__ import annotations

from enum import StrEnum

#: The CSV header, in order (CONTRACT.md).
CSV_COLUMNS: tuple[str, ...] = ("date", "campaign_id", "ad_id", "impressions", "clicks", "spend", "currency")
CSV_HEADER = ",".join(CSV_COLUMNS)

#: Landing layout: ``landing/ad_spend/date=YYYY-MM-DD/<name>.csv`` (locally under the data root,
#: in prod under the bucket); prod drops arrive under ``incoming/ad_spend/``.
LANDING_PREFIX = "landing/ad_spend"
INCOMING_PREFIX = "incoming/ad_spend/"

#: Spend is a decimal in currency units; more decimals than this are quarantined, never rounded.
SPEND_DECIMALS = 6
SPEND_SQL_TYPE = f"DECIMAL(18,{SPEND_DECIMALS})"

#: ``lake.ad_spend``: one valid row per (spend_date, campaign_id, ad_id), with its lineage.
AD_SPEND_COLUMNS: tuple[tuple[str, str], ...] = (
    ("spend_date", "DATE"),  # the CSV's ``date``; also the daily partition
    ("campaign_id", "VARCHAR"),
    ("ad_id", "VARCHAR"),
    ("impressions", "BIGINT"),  # as the ad platform reports them (the marts count ad events)
    ("clicks", "BIGINT"),
    ("spend", SPEND_SQL_TYPE),
    ("currency", "VARCHAR"),  # ISO 4217; USD when the field is empty
    ("_source_file", "VARCHAR"),
    ("_line_number", "BIGINT"),  # 1 = the header
)

#: ``lake.ad_spend_quarantine``: rows that did not make it, with the reason and the raw line.
AD_SPEND_QUARANTINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("spend_date", "DATE"),  # the partition (landing folder) the file was read for
    ("_source_file", "VARCHAR"),
    ("_line_number", "BIGINT"),
    ("reason", "VARCHAR"),
    ("detail", "VARCHAR"),
    ("line", "VARCHAR"),
)


class AdSpendQuarantineReason(StrEnum):
    """Why a landed ad-spend row did not reach ``lake.ad_spend``."""

    INVALID_UTF8 = "invalid_utf8"
    INVALID_HEADER = "invalid_header"  # the file's header lacks a contract column (every row of it)
    INVALID_CSV = "invalid_csv"  # wrong number of fields, broken quoting
    MISSING_REQUIRED_FIELD = "missing_required_field"  # empty date, campaign_id, ad_id, or a number
    INVALID_DATE = "invalid_date"  # not YYYY-MM-DD
    DATE_OUTSIDE_PARTITION = "date_outside_partition"  # a row dated another day than its folder
    INVALID_NUMBER = "invalid_number"  # impressions/clicks not integers, spend not a decimal
    NEGATIVE_VALUE = "negative_value"
    INVALID_VALUE = "invalid_value"  # currency not three letters, spend with too many decimals
    SUPERSEDED = "superseded"  # same (date, campaign, ad) reported again later: the later row wins
    UNREADABLE_FILE = "unreadable_file"  # not decodable at all (e.g. a broken gzip)
