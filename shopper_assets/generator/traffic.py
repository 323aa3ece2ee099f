"""How many events start each hour: a diurnal curve in UTC (quiet at night, evening peak) and a weekday effect.

Weekends bring a few percent more traffic and a flatter daytime; ``events_per_day`` stays the
weekly average, so a 7-day range has about 7 x events_per_day events.
"""

from __future__ import annotations

import datetime

import numpy as np

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

WEEKDAY_CURVE = np.array(
    [0.55, 0.40, 0.30, 0.24, 0.22, 0.25, 0.35, 0.50, 0.65, 0.78, 0.88, 0.95,
     1.00, 1.02, 1.05, 1.08, 1.12, 1.22, 1.38, 1.55, 1.65, 1.58, 1.30, 0.85],
)  # fmt: skip
WEEKEND_CURVE = np.array(
    [0.65, 0.48, 0.35, 0.27, 0.24, 0.25, 0.30, 0.40, 0.55, 0.75, 0.95, 1.08,
     1.15, 1.18, 1.18, 1.15, 1.15, 1.22, 1.35, 1.48, 1.52, 1.45, 1.22, 0.88],
)  # fmt: skip
#: Monday .. Sunday, relative to the weekly average
WEEKDAY_FACTOR = np.array([0.96, 0.95, 0.96, 0.98, 1.00, 1.08, 1.07])
WEEKDAY_FACTOR = WEEKDAY_FACTOR / WEEKDAY_FACTOR.mean()


def epoch_ms(day: datetime.date) -> int:
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC).timestamp() * 1000)


def events_for_day(day: datetime.date, events_per_day: int) -> int:
    return max(1, round(events_per_day * float(WEEKDAY_FACTOR[day.weekday()])))


def hour_curve(day: datetime.date) -> np.ndarray:
    curve = WEEKEND_CURVE if day.weekday() >= 5 else WEEKDAY_CURVE
    return curve / curve.sum()


def events_per_hour(day: datetime.date, events_per_day: int) -> np.ndarray:
    """Events of the sessions starting in each hour of the day; sums exactly to the day's total."""
    total = events_for_day(day, events_per_day)
    share = hour_curve(day) * total
    counts = np.floor(share).astype(np.int64)
    rest = total - int(counts.sum())
    counts[np.argsort(counts - share, kind="stable")[:rest]] += 1  # largest remainders first
    return counts
