"""The event contract of CONTRACT.md: one place that says what a shopper event is."""

from shopper_assets.contract.events import (
    ACCEPTED_VALUES,
    CLEANED_COLUMNS,
    EVENT_FIELDS,
    EVENT_TYPES,
    SCHEMA_VERSION,
    EventField,
    QuarantineReason,
    required_fields_for,
)

__all__ = [
    "ACCEPTED_VALUES",
    "CLEANED_COLUMNS",
    "EVENT_FIELDS",
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "EventField",
    "QuarantineReason",
    "required_fields_for",
]
