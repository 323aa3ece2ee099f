"""The alert sensor: watches runs, blocking checks, freshness and the Kafka consumer, and tells the
operators' destinations once per incident (``incidents.py`` says what an incident is).

Each tick (every ``INTERVAL_SECONDS``, in the daemon) it reads, from where the last tick stopped:

* the runs that ended since (Dagster's run status events, in storage order). A failed run opens a
  ``check_failed`` incident per asset whose blocking checks failed in it (a failed blocking check
  fails its run, so that is the one alert for it), else a ``run_failed`` one; a successful run
  clears the incidents it covers;
* the freshness state the daemon keeps for every asset with a policy (``freshness.py``): a group
  with assets in ``FAIL`` is one ``stale`` incident;
* the Kafka consumer's latest health record (``automation/kafka_sensor.py``).

Alerts go to ``AlertDestinations``; one that a destination did not take is retried on the next
ticks (for ``RETRY_FOR``), so an outage of the receiver delays alerts instead of losing them. The
open incidents live in the cursor. Watching starts ``FIRST_LOOKBACK`` before the sensor's first
tick, so a run that failed just before the daemon started is reported too.

Two instance methods used here are not marked public in Dagster 1.13: ``get_records_for_run``
(a run's check results and step failures; the project's other sensors use it too) and
``get_freshness_state_records`` (the daemon's verdict, which the UI shows: recomputing it here
could disagree with the UI). ``tests/operations`` runs both against a real instance and daemon.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import quote

from dagster import (
    AssetCheckSeverity,
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DefaultSensorStatus,
    RunStatusChangeRecordsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from shopper_assets.automation.kafka_sensor import LANDING_EVENTS
from shopper_assets.automation.lake_runs import partition_key_range
from shopper_assets.operations.destinations import AlertDestinations
from shopper_assets.operations.incidents import (
    CHECK_FAILED,
    RUN_FAILED,
    Alert,
    FinishedRun,
    Incident,
    IncidentBook,
)

SENSOR_NAME = "alert_sensor"
INTERVAL_SECONDS = 10
FIRST_LOOKBACK = timedelta(minutes=10)
RETRY_FOR = timedelta(hours=1)  # an alert no destination took for this long is dropped (and logged)
RUN_EVENTS_PER_TICK = 200  # per status; a backlog is worked through over several ticks
STALE_STATE = "FAIL"  # FreshnessState.FAIL (a str enum Dagster does not export)
SEND_BUDGET_SECONDS = 30.0  # a tick stops sending after this (Dagster times a sensor tick out at 60 s)


def asset_label(key: AssetKey) -> str:
    return key.to_user_string()


@dataclass
class Pending:
    """An alert some destinations still have to take."""

    alert: Alert
    to: list[str]
    since: float = field(default_factory=time.time)
    attempts: int = 0

    def to_json(self) -> dict:
        return {"alert": self.alert.payload(), "to": self.to, "since": self.since, "attempts": self.attempts}

    @classmethod
    def from_json(cls, body: dict) -> Pending:
        return cls(Alert.from_payload(body["alert"]), body["to"], body["since"], body["attempts"])


@dataclass
class WatchState:
    """The sensor's cursor: where it stopped reading, the open incidents, the alerts not delivered yet."""

    run_events_after: int | None = None  # storage id of the last run status event read
    since: float | None = None  # before any run event was read: the first tick's time minus the lookback
    kafka_after: int | None = None  # storage id of the last Kafka health record read
    book: IncidentBook = field(default_factory=IncidentBook)
    outbox: list[Pending] = field(default_factory=list)

    @classmethod
    def load(cls, cursor: str | None) -> WatchState:
        if not cursor:
            return cls(since=time.time() - FIRST_LOOKBACK.total_seconds())
        body = json.loads(cursor)
        return cls(
            run_events_after=body.get("run_events_after"),
            since=body.get("since"),
            kafka_after=body.get("kafka_after"),
            book=IncidentBook({i["key"]: Incident.from_json(i) for i in body.get("open", [])}),
            outbox=[Pending.from_json(p) for p in body.get("outbox", [])],
        )

    def dump(self) -> str:
        return json.dumps(
            {
                "run_events_after": self.run_events_after,
                "since": self.since,
                "kafka_after": self.kafka_after,
                "open": [i.to_json() for i in self.book.open.values()],
                "outbox": [p.to_json() for p in self.outbox],
            }
        )


class Links:
    """Links into the Dagster UI for the alerts."""

    def __init__(self, ui_url: str):
        self.ui_url = ui_url.rstrip("/")

    def run(self, run_id: str) -> str:
        return f"{self.ui_url}/runs/{run_id}"

    def asset(self, key: str) -> str:
        return f"{self.ui_url}/assets/{quote(key)}"


# -- runs ------------------------------------------------------------------------------------------
def ended_runs(instance: DagsterInstance, state: WatchState) -> list[tuple[str, bool]]:
    """(run id, succeeded) of the runs that ended since the last tick, in the order they ended."""
    records, bound = [], None
    for status in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
        if state.run_events_after is not None:
            records_filter = RunStatusChangeRecordsFilter(status, after_storage_id=state.run_events_after)
        else:
            records_filter = RunStatusChangeRecordsFilter(status, after_timestamp=state.since)
        found = instance.fetch_run_status_changes(records_filter, limit=RUN_EVENTS_PER_TICK, ascending=True).records
        if len(found) == RUN_EVENTS_PER_TICK:  # more to read: stop where this status' page ends
            bound = min(bound or found[-1].storage_id, found[-1].storage_id)
        records += found
    records = sorted((r for r in records if bound is None or r.storage_id <= bound), key=lambda r: r.storage_id)
    if records:
        state.run_events_after = records[-1].storage_id
    return [(r.run_id, r.event_log_entry.dagster_event_type == DagsterEventType.RUN_SUCCESS) for r in records]


def _window(run: DagsterRun) -> tuple[str, str] | None:
    return partition_key_range(run)


def _checks(instance: DagsterInstance, run_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """("asset:check" of the blocking checks that failed, "asset:check" of those that passed) in a run."""
    failed, passed = set(), set()
    for record in instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records:
        evaluation = record.event_log_entry.asset_check_evaluation
        if evaluation is None:
            continue
        name = f"{asset_label(evaluation.asset_key)}:{evaluation.check_name}"
        if evaluation.passed:
            passed.add(name)
        elif evaluation.severity == AssetCheckSeverity.ERROR and evaluation.blocking:
            failed.add(name)
    return tuple(sorted(failed)), tuple(sorted(passed))


def _assets(instance: DagsterInstance, run: DagsterRun) -> tuple[str, ...]:
    """The assets a run set out to materialize: its asset selection, else (a run of a job, or of
    ``materialize()``) the materializations it planned."""
    keys = set(run.asset_selection or ())
    if not keys:
        planned = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
        keys = {r.event_log_entry.dagster_event.asset_key for r in planned.records if r.event_log_entry.dagster_event}
    return tuple(sorted(asset_label(k) for k in keys if k is not None))


def _error(instance: DagsterInstance, run_id: str) -> str:
    """The first step failure of a run (step, and the error that caused it), else the run's own message."""
    for record in instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_FAILURE, limit=1).records:
        event = record.event_log_entry.dagster_event
        error = event.step_failure_data.error if event else None
        while error is not None and error.cause is not None:  # Dagster's wrapper -> what the code raised
            error = error.cause
        if error is not None:
            return f"{event.step_key}: {error.message.strip()}"
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE, limit=1).records
    return records[0].event_log_entry.message if records else ""


def finished_run(instance: DagsterInstance, run_id: str, succeeded: bool, links: Links) -> FinishedRun | None:
    run = instance.get_run_by_id(run_id)
    if run is None:  # deleted meanwhile
        return None
    assets = _assets(instance, run)
    failed, passed = _checks(instance, run_id)
    return FinishedRun(
        run_id=run_id,
        success=succeeded,
        assets=assets or (run.job_name,),
        window=_window(run),
        url=links.run(run_id),
        failed_checks=failed,
        passed_checks=passed,
        error="" if succeeded else _error(instance, run_id),
    )


def watch_runs(instance: DagsterInstance, state: WatchState, links: Links) -> list[Alert]:
    alerts = []
    for run_id, succeeded in ended_runs(instance, state):
        runs_open = any(i.kind in (RUN_FAILED, CHECK_FAILED) for i in state.book.open.values())
        if succeeded and not runs_open:
            continue  # the common case under a stream: nothing to clear, nothing to read
        run = finished_run(instance, run_id, succeeded, links)
        if run is not None:
            alerts += state.book.run_finished(run)
    return alerts


# -- freshness -------------------------------------------------------------------------------------
def stale_by_group(instance: DagsterInstance, watched: Mapping[AssetKey, str]) -> dict[str, list[str]]:
    """Group -> its assets whose freshness state is FAIL (every watched group is a key)."""
    states = instance.get_freshness_state_records(list(watched))
    stale: dict[str, list[str]] = {group: [] for group in watched.values()}
    for key, group in watched.items():
        record = states.get(key)
        if record is not None and record.freshness_state == STALE_STATE:
            stale[group].append(asset_label(key))
    return stale


# -- Kafka -----------------------------------------------------------------------------------------
def kafka_health(instance: DagsterInstance, state: WatchState) -> dict | None:
    """The newest health record of the Kafka consumer since the last tick, as plain values."""
    records = instance.fetch_observations(
        AssetRecordsFilter(asset_key=LANDING_EVENTS, after_storage_id=state.kafka_after), limit=1
    ).records
    if not records or records[0].asset_observation is None:
        return None
    state.kafka_after = records[0].storage_id
    return {k: getattr(v, "value", v) for k, v in records[0].asset_observation.metadata.items()}


# -- delivery --------------------------------------------------------------------------------------
def deliver(context: SensorEvaluationContext, destinations: AlertDestinations, state: WatchState, fired: list[Alert]):
    """Send the new alerts and retry the pending ones; keep what a destination did not take."""
    for alert in fired:
        context.log.info(f"Alert {alert.title}: {alert.message}")
    names = destinations.names
    if not names:
        if fired:
            context.log.warning("No alert destination is configured (see README, Operations): alerts are only logged")
        state.outbox = []
        return
    queue = state.outbox + [Pending(alert, list(names)) for alert in fired]
    started, kept = time.monotonic(), []
    for pending in queue:
        if time.monotonic() - started > SEND_BUDGET_SECONDS:
            kept.append(pending)  # next tick
            continue
        errors = destinations.send(pending.alert, pending.to)
        pending.attempts += 1
        for name, error in errors.items():
            context.log.warning(
                f"Alert {pending.alert.title} not delivered to {name} (attempt {pending.attempts}): {error}"
            )
        if not errors:
            continue
        if time.time() - pending.since > RETRY_FOR.total_seconds():
            context.log.error(f"Giving up on alert {pending.alert.title} for {', '.join(errors)} after {RETRY_FOR}")
            continue
        pending.to = list(errors)
        kept.append(pending)
    state.outbox = kept


def build_alert_sensor(watched: Mapping[AssetKey, str], ui_url: str) -> SensorDefinition:
    """The alert sensor for these assets with freshness policies (key -> group) and this UI address."""
    links = Links(ui_url)

    @sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description=(
            "Alerts once per incident (failed run, failed blocking check, stale asset, Kafka unreachable or "
            "behind) to the configured webhook, Slack and e-mail, and once more when it is resolved."
        ),
    )
    def alert_sensor(context: SensorEvaluationContext, alerts: AlertDestinations) -> SensorResult:
        state = WatchState.load(context.cursor)
        instance = context.instance
        fired = watch_runs(instance, state, links)
        fired += state.book.freshness(stale_by_group(instance, watched), links.asset)
        health = kafka_health(instance, state)
        if health is not None:
            fired += state.book.kafka(health, links.asset(asset_label(LANDING_EVENTS)))
        deliver(context, alerts, state, fired)
        opened = len(state.book.open)
        summary = f"{opened} open incident{'s' if opened != 1 else ''}" + (
            f", {len(state.outbox)} alerts waiting to be delivered" if state.outbox else ""
        )
        if fired:
            context.log.info(f"Sent {len(fired)} alert{'s' if len(fired) > 1 else ''}; {summary}")
            return SensorResult(cursor=state.dump())
        return SensorResult(cursor=state.dump(), skip_reason=f"Nothing new; {summary}")

    return alert_sensor
