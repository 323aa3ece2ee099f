"""A dbt run waits behind every lake run, so the marts follow a stream without a gap.

Declarative automation requests a day's models once its hours *were* updated: after the lake run
has finished, at the next evaluation, and the dbt run then still has to be created and start its
process (4-11 s on a 2-core machine), while the ``duckdb`` pool sits idle or serves the next lake
step. ``marts_follow_sensor`` requests the day's dbt run as soon as a lake run of its hours is in
progress. The dbt run starts its process meanwhile and waits for the pool, where lake steps go first
(``LAKE_RUN_PRIORITY``), so its step starts right after the lake steps ahead of it and reads what
they wrote.

* At most one dbt run per day waits at a time (queued, or launched but not past the pool): it will
  read every lake step that finishes before it starts, however many there are.
* A dbt run whose step has started reads nothing newer, so a lake run still in progress gets a new
  one (once that step has rebuilt the models declarative automation watches, see
  ``days_to_follow``); that also repairs the rare order where a dbt step took a free pool before
  the lake step it was requested for.
* Every lake run is followed (the ingestion sensors', the UI's, backfills'). Declarative automation
  still covers an update that no tick saw in progress (this sensor stopped, say); its condition
  resets once the day's models are rebuilt after the update, so the two never build a day twice.

The dbt tests (asset checks) run in a followed build at least every ``TESTS_AT_LEAST_EVERY`` per
day, in every build after one whose tests did not pass (so failing tests keep gating the marts),
and in one last build once a day's stream pauses; the builds in between rebuild the models only.
A build with the tests holds the pool 40-60% longer (64 tests, and their check results
written to Dagster's event log); testing every 30-second micro-batch kept a stream's p99 above a
minute on 2 cores. Every other dbt run (declarative automation, the UI, backfills) runs them all.
The lake's row checks still judge every micro-batch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from shopper_assets.automation.jobs import daily_models, job_assets, marts_job, run_assets
from shopper_assets.automation.lake_runs import (
    IN_PROGRESS,
    PARTITION_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    contiguous_ranges,
    location_partitions,
    partition_key_range,
    steps_started,
)

_LAKE_TABLE = AssetKey("cleaned_events")  # the table the dbt models read
TESTS_AT_LEAST_EVERY = timedelta(minutes=5)
TESTS_TAG = "shopper/dbt_tests"  # "run" or "skipped", on the runs this sensor requests


def _days(run: DagsterRun) -> set[date]:
    """UTC days of a run's partitions (hour keys ``YYYY-MM-DD-HH:MM`` or day keys ``YYYY-MM-DD``)."""
    keys = partition_key_range(run)
    if not keys:
        return set()
    first, last = (date.fromisoformat(k[:10]) for k in keys)
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}


class Following(NamedTuple):
    lake_days: set[date]  # days of the lake runs in progress
    covered: set[date]  # days whose next dbt run is already taken care of
    building: set[date]  # days with a dbt run in progress


def days_to_follow(
    instance: DagsterInstance,
    lake_readers: list[AssetKey],
    dbt_models: list[AssetKey],
    jobs: Mapping[str, frozenset[AssetKey]],
) -> Following:
    """The days of the lake runs in progress, and of the dbt runs in progress (runs of ``dbt_models``,
    the daily models; ``jobs``: the assets of each named job, ``jobs.job_assets``).

    A day is taken care of while one of its dbt runs waits for the pool, and also while one of its
    dbt steps has started but not yet rebuilt the day's ``lake_readers`` (the models declarative
    automation watches): Dagster takes a partition for in progress when its latest planned
    materialization has no materialization after it, so a run planned before the running one
    rebuilds those models would look finished to the automation, which would request the day again.
    They are among the first models dbt builds, so this waits a few seconds.
    """
    lake_days: set[date] = set()
    dbt_runs: list[DagsterRun] = []
    for run in instance.get_runs(RunsFilter(statuses=IN_PROGRESS)):
        selection = run_assets(run, jobs)
        if _LAKE_TABLE in selection:
            lake_days |= _days(run)
        elif selection & set(dbt_models):
            dbt_runs.append(run)
    covered: set[date] = set()
    for run in dbt_runs if lake_days else []:
        days = _days(run) & lake_days
        if days and (not steps_started(instance, run) or not _rebuilt(instance, run, days, lake_readers)):
            covered |= days
    return Following(lake_days, covered, {d for run in dbt_runs for d in _days(run)})


def _rebuilt(instance: DagsterInstance, run: DagsterRun, days: set[date], keys: list[AssetKey]) -> bool:
    """Whether ``run`` is the latest to have materialized every (key, day)."""
    for key in keys:
        for day in days:
            records = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, asset_partitions=[day.isoformat()]), limit=1
            ).records
            if not records or records[0].run_id != run.run_id:
                return False
    return True


def runs_tests(run: DagsterRun) -> bool:
    """Whether a dbt run runs the dbt tests (its check selection is all checks, or some)."""
    return run.asset_check_selection is None or bool(run.asset_check_selection)


def tests_due(
    instance: DagsterInstance,
    day: date,
    now: datetime,
    dbt_models: list[AssetKey],
    jobs: Mapping[str, frozenset[AssetKey]],
) -> bool:
    """Whether the day's next followed build must run the dbt tests: no tested build of the day
    yet, the latest one did not pass, or it started ``TESTS_AT_LEAST_EVERY`` ago or more."""
    for record in instance.get_run_records(RunsFilter(tags={PARTITION_TAG: day.isoformat()}), limit=100):
        run = record.dagster_run
        if not run_assets(run, jobs) & set(dbt_models) or not runs_tests(run):
            continue
        if run.status in IN_PROGRESS:
            return False  # a tested build is on its way
        return run.status != DagsterRunStatus.SUCCESS or now - record.create_timestamp >= TESTS_AT_LEAST_EVERY
    return True


def marts_run_requests(days: set[date], dbt_models: list[AssetKey], tests: bool = True) -> list[RunRequest]:
    """One single run of every daily dbt model per contiguous range of days, with or without the dbt
    tests; a lone day is requested as that partition, the way declarative automation requests it."""
    requests = []
    for first, last in contiguous_ranges(days, step=timedelta(days=1)):
        partition = {"partition_key": first.isoformat()} if first == last else {}
        window = {} if partition else {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}
        tags = {**window, "shopper/trigger": "marts_follow", TESTS_TAG: "run" if tests else "skipped"}
        checks = {} if tests else {"asset_check_keys": []}
        requests.append(RunRequest(asset_selection=dbt_models, tags=tags, **partition, **checks))
    return requests


@sensor(
    name="marts_follow_sensor",
    minimum_interval_seconds=2,
    target=marts_job,
    default_status=DefaultSensorStatus.RUNNING,
    description="Keeps one dbt run of a day waiting behind the lake runs of its hours: the marts follow at once.",
)
def marts_follow_sensor(context: SensorEvaluationContext) -> SensorResult:
    dbt_models, jobs = daily_models(context.repository_def), job_assets(context.repository_def)
    graph = context.repository_def.asset_graph
    lake_readers = [key for key in dbt_models if _LAKE_TABLE in graph.get(key).parent_keys]
    following = days_to_follow(context.instance, lake_readers, dbt_models, jobs)
    untested = {date.fromisoformat(d) for d in json.loads(context.cursor or "{}").get("untested_days", [])}
    now = datetime.now(UTC)

    # a lake run of days this code location has no partitions for (SHOPPER_START_DATE changed under it) is not followed
    first = location_partitions(context).daily.get_first_partition_window()
    follow = {d for d in following.lake_days - following.covered if first and d >= first.start.date()}
    tested = {d for d in follow if tests_due(context.instance, d, now, dbt_models, jobs)}
    # a stream that paused leaves days built without their tests: one last build runs them
    closing = {d for d in untested if d not in following.lake_days | following.building}
    untested = (untested | (follow - tested)) - tested - closing
    requests = marts_run_requests(tested | closing, dbt_models) + marts_run_requests(
        follow - tested, dbt_models, tests=False
    )
    cursor = json.dumps({"untested_days": sorted(d.isoformat() for d in untested)})
    if not requests:
        waiting = ", ".join(sorted(map(str, following.lake_days)))
        reason = f"The dbt runs of {waiting} are waiting or building" if waiting else "No lake run in progress"
        return SensorResult(skip_reason=reason, cursor=cursor)
    for r in requests:
        days = r.partition_key or f"{r.tags[RANGE_START_TAG]}..{r.tags[RANGE_END_TAG]}"
        context.log.info(f"Requesting the dbt run of {days} (dbt tests: {r.tags[TESTS_TAG]})")
    return SensorResult(run_requests=requests, cursor=cursor)
