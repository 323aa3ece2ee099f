"""Single source of truth for the shopper event schema.

The generator, the cleaning SQL, the asset checks and the dbt sources all read these definitions,
so a field added here flows through every stage. Field names, types and allowed values follow
../shared/CONTRACT.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

SCHEMA_VERSION = 1

#: Longest line (bytes) accepted as an event; anything larger is quarantined as ``oversized``.
MAX_EVENT_BYTES = 64 * 1024

EVENT_TYPES: tuple[str, ...] = (
    "page_view",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
    "ad_impression",
    "ad_click",
)

#: Funnel steps in order; the dbt funnel and the generator both follow it.
FUNNEL_STEPS: tuple[str, ...] = ("page_view", "product_view", "add_to_cart", "checkout", "purchase")

PAGES: tuple[str, ...] = ("home", "search", "category", "product", "cart", "checkout", "confirmation")
DEVICE_TYPES: tuple[str, ...] = ("mobile", "desktop", "tablet")
REFERRERS: tuple[str, ...] = ("direct", "search", "social", "email", "ads", "affiliate")
USER_TYPES: tuple[str, ...] = ("new", "returning")

ACCEPTED_VALUES: dict[str, tuple[str, ...]] = {
    "event_type": EVENT_TYPES,
    "page": PAGES,
    "device_type": DEVICE_TYPES,
    "referrer": REFERRERS,
    "user_type": USER_TYPES,
}

PRODUCT_EVENTS = frozenset({"product_view", "add_to_cart", "remove_from_cart", "purchase"})
LINE_EVENTS = frozenset({"add_to_cart", "remove_from_cart", "purchase"})
ORDER_EVENTS = frozenset({"checkout", "purchase"})
AD_EVENTS = frozenset({"ad_impression", "ad_click"})


@dataclass(frozen=True)
class EventField:
    """One field of the event JSON and of the cleaned table.

    ``json_type`` is the JSON type the line must carry ("string", "number", "integer");
    ``sql_type`` is the portable SQL type of the cleaned column (DuckDB and Postgres alike);
    ``required`` is a set of event types for which the field must be present and non-null
    (``ALL`` for every event).
    """

    name: str
    json_type: str
    sql_type: str
    required_for: frozenset[str]
    description: str


ALL = frozenset(EVENT_TYPES)
NONE: frozenset[str] = frozenset()

EVENT_FIELDS: tuple[EventField, ...] = (
    EventField("event_id", "string", "VARCHAR", ALL, "Unique per event; a repeat is a duplicate delivery."),
    EventField("event_type", "string", "VARCHAR", ALL, "One of EVENT_TYPES."),
    EventField("event_time", "string", "TIMESTAMP", ALL, "When it happened, stored as UTC."),
    EventField("user_id", "string", "VARCHAR", ALL, "Shopper id, stable across sessions."),
    EventField("session_id", "string", "VARCHAR", ALL, "Visit id (30-minute inactivity rule)."),
    EventField("page", "string", "VARCHAR", ALL, "Page the event happened on."),
    EventField("product_id", "string", "VARCHAR", PRODUCT_EVENTS, "Product of product, cart and order events."),
    EventField("category", "string", "VARCHAR", PRODUCT_EVENTS, "Product category."),
    EventField("brand", "string", "VARCHAR", NONE, "Product brand (may be unknown)."),
    EventField("price", "number", "DECIMAL(18,2)", PRODUCT_EVENTS, "Unit price, currency units, >= 0."),
    EventField("quantity", "integer", "INTEGER", LINE_EVENTS, "Units on a cart or order line, >= 1."),
    EventField("order_id", "string", "VARCHAR", ORDER_EVENTS, "Order of checkout and purchase events."),
    EventField("discount_code", "string", "VARCHAR", NONE, "Discount code applied to the order line."),
    EventField("discount_amount", "number", "DECIMAL(18,2)", NONE, "Discount on the order line, currency units."),
    EventField("currency", "string", "VARCHAR", NONE, "ISO 4217 code; USD when absent."),
    EventField("device_type", "string", "VARCHAR", ALL, "mobile, desktop or tablet."),
    EventField("browser", "string", "VARCHAR", NONE, "Browser family."),
    EventField("country", "string", "VARCHAR", NONE, "ISO 3166 alpha-2 country."),
    EventField("referrer", "string", "VARCHAR", ALL, "How the session arrived."),
    EventField("user_type", "string", "VARCHAR", ALL, "new or returning."),
    EventField("campaign_id", "string", "VARCHAR", AD_EVENTS, "Campaign of ad events and campaign sessions."),
    EventField("ad_id", "string", "VARCHAR", AD_EVENTS, "Ad of ad events and campaign sessions."),
    EventField("schema_version", "integer", "INTEGER", NONE, "Contract version; 1 when absent."),
)

FIELDS_BY_NAME = {f.name: f for f in EVENT_FIELDS}
DEFAULT_CURRENCY = "USD"


def required_fields_for(event_type: str) -> tuple[str, ...]:
    """Fields that must be present and non-null on an event of this type."""
    return tuple(f.name for f in EVENT_FIELDS if event_type in f.required_for)


class QuarantineReason(StrEnum):
    """Why a landed line did not reach cleaned_events (duplicates are counted, not quarantined)."""

    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"  # not JSON, or JSON that is not an object
    MISSING_REQUIRED_FIELD = "missing_required_field"
    INVALID_TYPE = "invalid_type"  # present with the wrong JSON type
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    INVALID_VALUE = "invalid_value"  # outside the accepted values of page, device_type, ...
    INVALID_TIMESTAMP = "invalid_timestamp"
    NEGATIVE_PRICE = "negative_price"
    INVALID_QUANTITY = "invalid_quantity"
    FUTURE_TIMESTAMP = "future_timestamp"  # event_time after the hour it was delivered in
    LATE_BEYOND_LOOKBACK = "late_beyond_lookback"  # delivered later than the late-arrival window
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    OVERSIZED = "oversized"
    BEFORE_START_DATE = "before_start_date"  # event_time before the first partition (SHOPPER_START_DATE)
    UNREADABLE_FILE = "unreadable_file"  # a landed file that cannot be decompressed (in whole or in part)
    UNSUPPORTED_FILE = "unsupported_file"  # a file in a landing folder not named *.jsonl.gz or *.jsonl


#: Lineage columns carried by cleaned_events, so every row can be traced to its landing line.
LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_hour", "TIMESTAMP"),  # the hourly partition: date_trunc('hour', event_time)
    ("extra_fields", "VARCHAR"),  # unknown fields of the line, kept as a JSON object text
    ("_landing_hour", "TIMESTAMP"),
    ("_source_file", "VARCHAR"),
    ("_line_number", "BIGINT"),
)

#: Column names and SQL types of cleaned_events, in order.
CLEANED_COLUMNS: tuple[tuple[str, str], ...] = tuple((f.name, f.sql_type) for f in EVENT_FIELDS) + LINEAGE_COLUMNS
