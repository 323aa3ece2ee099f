"""Configuration and result types of the generator, kept apart so every module can import them."""

from __future__ import annotations

import datetime
import pathlib
from dataclasses import dataclass, field

from shopper_assets.contract.ad_spend import AdSpendQuarantineReason as AdSpendReason

#: Kinds of malformed lines the dirty-data mode injects, in the order they are dealt out.
MALFORMED_KINDS: tuple[str, ...] = (
    "not_json",
    "wrong_type",
    "missing_required",
    "unknown_event_type",
    "negative_price",
    "future_timestamp",
    "invalid_utf8",
)


#: Kinds of bad ad-spend rows the dirty-data mode injects (quarantine reasons of the ad-spend
#: source), in the order they are dealt out.
AD_SPEND_BAD_KINDS: tuple[str, ...] = tuple(
    str(r)
    for r in (
        AdSpendReason.INVALID_NUMBER,
        AdSpendReason.NEGATIVE_VALUE,
        AdSpendReason.INVALID_DATE,
        AdSpendReason.MISSING_REQUIRED_FIELD,
        AdSpendReason.INVALID_CSV,
        AdSpendReason.DATE_OUTSIDE_PARTITION,
        AdSpendReason.INVALID_VALUE,
        AdSpendReason.SUPERSEDED,
    )
)

MAX_EVENTS_PER_DAY = 900_000_000  # event ids carry a 9-digit number per day


@dataclass(frozen=True)
class DirtyDataConfig:
    """Knobs that make the landing zone look like a real feed; all off by default.

    Late events and duplicates stay inside the hours of the generated range, so a run never writes
    a folder outside the partitions it was asked for (events of the last hour cannot be late).
    ``ad_spend_bad_rate`` adds bad rows to the ad-spend CSVs, relative to their clean rows.
    """

    duplicate_rate: float = 0.0
    late_rate: float = 0.0
    late_max_hours: int = 3
    malformed_rate: float = 0.0
    ad_spend_bad_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("duplicate_rate", "late_rate", "malformed_rate", "ad_spend_bad_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.late_max_hours < 1:
            raise ValueError("late_max_hours must be >= 1")

    @property
    def enabled(self) -> bool:
        """Whether any event line is made dirty."""
        return self.duplicate_rate > 0 or self.late_rate > 0 or self.malformed_rate > 0


@dataclass(frozen=True)
class GeneratorConfig:
    """What to simulate. ``events_per_day`` is the weekly average: weekends get a few percent more."""

    start: datetime.date
    days: int = 1
    events_per_day: int = 100_000
    seed: int = 42
    dirty: DirtyDataConfig = field(default_factory=DirtyDataConfig)

    def __post_init__(self) -> None:
        if isinstance(self.start, datetime.datetime) or not isinstance(self.start, datetime.date):
            raise TypeError("start must be a datetime.date")
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if not 1 <= self.events_per_day <= MAX_EVENTS_PER_DAY:
            raise ValueError(f"events_per_day must be within [1, {MAX_EVENTS_PER_DAY:,}]")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")


@dataclass
class GenerateSummary:
    """What write_landing wrote; the dirty counts are exact, so tests and checks can reconcile them.
    ``files`` are the event files; the ad-spend CSVs are listed apart."""

    events: int
    lines: int
    files: list[pathlib.Path]
    duplicates: int
    late: int
    malformed: dict[str, int]
    seconds: float
    ad_spend_files: list[pathlib.Path] = field(default_factory=list)
    ad_spend_rows: int = 0  # clean (winning) rows: one per (date, campaign, ad) with ad events that day
    ad_spend_bad: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AD_SPEND_BAD_KINDS, 0))
