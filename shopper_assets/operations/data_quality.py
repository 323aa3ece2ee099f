"""The data-quality score of a day, counted on the lake: "DQ 99.7 %" as a number the platform computes.

For the UTC day D (the hours of D in the lake, i.e. events whose event_time falls in D):

* ``landed_lines``: rows of ``raw_events`` - every line delivered for D, as delivered;
* ``clean_events``: rows of ``cleaned_events``; ``dq_score`` = clean_events / landed_lines;
* the lines lost, per reason: each quarantine reason, and ``duplicate`` (landed - clean -
  quarantined: a second delivery of an event kept once). The blocking ``raw_reconciles`` check
  proves that identity line by line, so nothing lost goes uncounted;
* ``late_events``: clean events delivered in a later hour folder than their event_time's (Kafka
  lag, late files); lines too late for the lookback are the quarantine reason ``late_beyond_lookback``;
* the lake checks' verdict on the whole day: the checks ``lake_step`` runs on each run's window
  (``quality/checks.py``), run on the day, from the tallies its runs stored (passed, warned, failed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from dagster import AssetCheckSeverity

from shopper_assets.quality.checks import CheckThresholds, run_all
from shopper_assets.storage.lake_store import LakeSession

DUPLICATE = "duplicate"


@dataclass(frozen=True)
class DayQuality:
    day: date
    landed_lines: int
    clean_events: int
    quarantined_lines: int
    late_events: int
    lost_by_reason: dict[str, int] = field(default_factory=dict)  # quarantine reasons and "duplicate"
    checks_passed: int = 0
    checks_warned: int = 0
    failed_checks: tuple[str, ...] = ()

    @property
    def duplicate_lines(self) -> int:
        return self.landed_lines - self.clean_events - self.quarantined_lines

    @property
    def dq_score(self) -> float | None:
        """Share of the day's landed lines that became clean events (None: nothing landed)."""
        return self.clean_events / self.landed_lines if self.landed_lines else None

    @property
    def checks_failed(self) -> int:
        return len(self.failed_checks)

    def row(self, computed_at: datetime) -> dict:
        """The day's row of ``lake.data_quality``."""
        return {
            "event_date": self.day,
            "landed_lines": self.landed_lines,
            "clean_events": self.clean_events,
            "quarantined_lines": self.quarantined_lines,
            "duplicate_lines": self.duplicate_lines,
            "late_events": self.late_events,
            "checks_passed": self.checks_passed,
            "checks_warned": self.checks_warned,
            "checks_failed": self.checks_failed,
            "failed_checks": ",".join(self.failed_checks),
            "computed_at": computed_at,
        }

    def loss_rows(self) -> list[dict]:
        """The day's rows of ``lake.data_quality_losses`` (reasons with lines only)."""
        return [{"event_date": self.day, "reason": r, "lines": n} for r, n in sorted(self.lost_by_reason.items()) if n]


def day_quality(session: LakeSession, day: date, late_hours: int, thresholds: CheckThresholds) -> DayQuality:
    """Count the day on the lake, and run the lake checks on it (see the module doc)."""
    start = datetime(day.year, day.month, day.day)
    end = start + timedelta(days=1)
    landed = session.count("raw_events", start, end)
    clean, late = session.con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE _landing_hour > event_hour) "
        f"FROM ({session.scan('cleaned_events', start, end)})"
    ).fetchall()[0]
    reasons = dict(
        session.con.execute(
            f"SELECT reason, count(*) FROM ({session.scan('quarantined_events', start, end)}) GROUP BY reason"
        ).fetchall()
    )
    quarantined = sum(reasons.values())
    passed = warned = 0
    failed = []
    if landed:
        for result in run_all(session, start, end, thresholds, late_hours):
            if result.passed:
                passed += 1
            elif result.severity == AssetCheckSeverity.WARN:
                warned += 1
            else:
                failed.append(result.check_name)
    return DayQuality(
        day=day,
        landed_lines=landed,
        clean_events=int(clean),
        quarantined_lines=quarantined,
        late_events=int(late),
        lost_by_reason={**reasons, DUPLICATE: landed - int(clean) - quarantined},
        checks_passed=passed,
        checks_warned=warned,
        failed_checks=tuple(failed),
    )
