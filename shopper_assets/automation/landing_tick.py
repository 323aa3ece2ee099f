"""The skeleton both ingestion sensors share (``kafka_landing_sensor``, ``s3_drop_sensor``).

A tick lands something, then: the hours it landed plus those kept in the cursor by earlier ticks
are split into hours whose partition exists (ready) and hours still ahead of the clock (waiting, kept
in the cursor); hours before SHOPPER_START_DATE get a warning. Each ready hour this tick landed gets a
materialization of ``landing_events``; the ready hours get the lake runs that no waiting run covers
(``lake_runs.lake_runs_for``). Ad-spend days go the same way, with ``landing_ad_spend`` and
``ad_spend`` runs. The sensors keep only what is their own: how they land, their metadata, their
skip message and the rest of their cursor (offsets, the last key).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from dagster import AssetMaterialization, SensorEvaluationContext, SensorResult

from shopper_assets.automation.lake_runs import ad_spend_run_requests, day_key, lake_runs_for, location_partitions
from shopper_assets.contract.time_grid import hour_key


def read_cursor(context: SensorEvaluationContext) -> dict[str, Any]:
    """The sensor's JSON cursor; empty before its first tick."""
    return json.loads(context.cursor) if context.cursor else {}


def split_existing(hours: list[datetime], partitions_def) -> tuple[list[datetime], list[datetime], list[datetime]]:
    """(hours that are partitions, hours still ahead of the clock, hours before the first partition)
    of the hourly ``partitions_def``; with the daily partitions, the same for days (midnights)."""
    first = partitions_def.get_first_partition_window()
    last = partitions_def.get_last_partition_window()
    start = first.start.astimezone(UTC).replace(tzinfo=None) if first else datetime.max
    end = last.end.astimezone(UTC).replace(tzinfo=None) if last else datetime.min
    return (
        [h for h in hours if start <= h < end],
        [h for h in hours if h >= end],
        [h for h in hours if h < start],
    )


class LandedHours(NamedTuple):
    """The hours an ingestion sensor tick has to act on, and those it keeps for a later tick."""

    ready: list[datetime]  # partitions exist: request their lake runs now
    waiting: list[datetime]  # ahead of the clock: kept in the cursor until their partition exists


def landed_hours(context: SensorEvaluationContext, pending: Iterable[str], landed: Iterable[datetime]) -> LandedHours:
    """Hours landed by this tick plus those still waiting from earlier ticks (ISO strings in the cursor).

    Hours before SHOPPER_START_DATE cannot be materialized: they stay in the landing zone, with a
    warning that says how to process them.
    """
    hours = sorted({datetime.fromisoformat(h) for h in pending} | set(landed))
    ready, waiting, too_early = split_existing(hours, location_partitions(context).hourly)
    if too_early:
        _warn_too_early(context, f"{len(too_early)} landed hours", f"{too_early[0]:%Y-%m-%d %H}:00")
    return LandedHours(ready=ready, waiting=waiting)


class LandedDays(NamedTuple):
    """The ad-spend days a tick has to act on, and those it keeps for a later tick."""

    ready: list[date]
    waiting: list[date]


def landed_days(context: SensorEvaluationContext, pending: Iterable[str], landed: Iterable[date]) -> LandedDays:
    """Ad-spend days landed by this tick plus those still waiting (ISO dates in the cursor); see landed_hours."""
    starts = {datetime.fromisoformat(d) for d in pending} | {datetime(d.year, d.month, d.day) for d in landed}
    ready, waiting, too_early = split_existing(sorted(starts), location_partitions(context).daily)
    if too_early:
        _warn_too_early(context, f"{len(too_early)} landed ad-spend days", f"{too_early[0]:%Y-%m-%d}")
    return LandedDays(ready=[d.date() for d in ready], waiting=[d.date() for d in waiting])


def _warn_too_early(context: SensorEvaluationContext, what: str, first: str) -> None:
    context.log.warning(
        f"{what} are before SHOPPER_START_DATE ({first} first); "
        "they stay in the landing zone: set SHOPPER_START_DATE earlier to process them"
    )


NO_DAYS = LandedDays(ready=[], waiting=[])


@dataclass
class LandingTick:
    """One ingestion sensor tick after it landed: its previous cursor, and the hours (and ad-spend days,
    for a sensor that lands them) this tick landed, split with those the cursor kept."""

    context: SensorEvaluationContext
    cursor: dict[str, Any]  # the previous tick's
    landed: set[datetime]
    hours: LandedHours
    landed_days: set[date] | None = None  # None: the sensor lands no ad spend (no ``pending_days`` in its cursor)
    days: LandedDays = NO_DAYS

    @classmethod
    def after(
        cls, context: SensorEvaluationContext, hours: Iterable[datetime], days: Iterable[date] | None = None
    ) -> LandingTick:
        cursor = read_cursor(context)
        hours = set(hours)
        tick = cls(context, cursor, hours, landed_hours(context, cursor.get("pending_hours", []), hours))
        if days is not None:
            tick.landed_days = set(days)
            tick.days = landed_days(context, cursor.get("pending_days", []), tick.landed_days)
        return tick

    @property
    def ready(self) -> bool:
        """Whether a landed hour or day has its partition (so there are runs to request)."""
        return bool(self.hours.ready or self.days.ready)

    def result(
        self,
        reason: str,
        hour_metadata: Callable[[datetime], dict[str, Any]],
        day_metadata: Callable[[date], dict[str, Any]] | None = None,
        **cursor: Any,
    ) -> SensorResult:
        """Materializations of the ready partitions this tick landed, the runs of all ready ones, and the
        new cursor: ``cursor`` (the sensor's own fields) plus what still waits for its partition."""
        events = [
            AssetMaterialization(asset_key="landing_events", partition=hour_key(h), metadata=hour_metadata(h))
            for h in sorted(self.landed)
            if h in self.hours.ready
        ]
        runs = lake_runs_for(self.context, self.hours.ready, reason)
        cursor["pending_hours"] = [h.isoformat() for h in self.hours.waiting]
        if self.landed_days is not None:
            day_metadata = day_metadata or (lambda _: {})
            events += [
                AssetMaterialization(asset_key="landing_ad_spend", partition=day_key(d), metadata=day_metadata(d))
                for d in sorted(self.landed_days)
                if d in self.days.ready
            ]
            runs += ad_spend_run_requests(self.days.ready, reason)
            cursor["pending_days"] = [d.isoformat() for d in self.days.waiting]
        return SensorResult(run_requests=runs, asset_events=events, cursor=json.dumps(cursor))
