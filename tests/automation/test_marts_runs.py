"""marts_follow_sensor: one dbt run of a day waits behind the lake runs of its hours, and gets the
duckdb pool after them."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta

from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    SensorResult,
    build_sensor_context,
    evaluate_automation_conditions,
)
from dagster._core.events import StepMaterializationData
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.storage.dagster_run import DagsterRun

from shopper_assets.automation import marts_runs
from shopper_assets.automation.jobs import daily_models
from shopper_assets.automation.lake_runs import LAKE_STEP, lake_run_requests
from shopper_assets.automation.marts_runs import marts_follow_sensor, marts_run_requests
from tests.built import defs

DBT_MODELS = daily_models(defs.get_repository_def())

LATE_EVENING, MIDNIGHT = datetime(2026, 11, 20, 23), datetime(2026, 11, 21, 0)


def lake_run(instance: DagsterInstance, status: DagsterRunStatus, *hours: datetime) -> DagsterRun:
    (request,) = lake_run_requests(list(hours), "kafka:test")
    return instance.add_run(
        DagsterRun(job_name="__ASSET_JOB", status=status, tags=request.tags, asset_selection=frozenset(LAKE_STEP))
    )


def dbt_run(instance: DagsterInstance, status: DagsterRunStatus, tags: dict[str, str]) -> DagsterRun:
    return instance.add_run(
        DagsterRun(job_name="__ASSET_JOB", status=status, tags=tags, asset_selection=frozenset(DBT_MODELS))
    )


def step_started(instance: DagsterInstance, run: DagsterRun) -> None:
    instance.report_dagster_event(
        DagsterEvent(DagsterEventType.STEP_START.value, job_name="__ASSET_JOB", step_key="shopper_dbt_assets"),
        run_id=run.run_id,
    )


def tick(instance: DagsterInstance, cursor: str | None = None) -> SensorResult:
    return marts_follow_sensor(build_sensor_context(instance=instance, definitions=defs, cursor=cursor))


def run_tags(request) -> dict[str, str]:
    """The tags of the run Dagster creates for a request (a partition key becomes dagster/partition)."""
    return {**request.tags, **({"dagster/partition": request.partition_key} if request.partition_key else {})}


def run_for(instance: DagsterInstance, request, status: DagsterRunStatus) -> DagsterRun:
    """The run Dagster creates for a dbt run request: its tags, models and (maybe no) checks."""
    checks = None if request.asset_check_keys is None else frozenset(request.asset_check_keys)
    return instance.add_run(
        DagsterRun(
            job_name="__ASSET_JOB",
            status=status,
            tags=run_tags(request),
            asset_selection=frozenset(request.asset_selection),
            asset_check_selection=checks,
        )
    )


def materialized(instance: DagsterInstance, run: DagsterRun, keys, day: str) -> None:
    """Materializations of ``keys`` for ``day`` recorded by ``run``, as its dbt step reports them."""
    for key in keys:
        instance.report_dagster_event(
            DagsterEvent(
                DagsterEventType.ASSET_MATERIALIZATION.value,
                job_name="__ASSET_JOB",
                event_specific_data=StepMaterializationData(AssetMaterialization(key, partition=day)),
            ),
            run_id=run.run_id,
        )


def test_a_lake_run_in_progress_gets_one_dbt_run_of_its_days():
    with DagsterInstance.ephemeral() as instance:
        assert not tick(instance).run_requests  # no lake run: nothing to follow

        lake_run(instance, DagsterRunStatus.NOT_STARTED, LATE_EVENING, MIDNIGHT)  # late events cross midnight
        (request,) = tick(instance).run_requests
        assert set(request.asset_selection) == set(DBT_MODELS)  # the days' whole dbt graph
        assert request.tags["dagster/asset_partition_range_start"] == "2026-11-20"
        assert request.tags["dagster/asset_partition_range_end"] == "2026-11-21"

        # the requested run is created and waits for the pool: later ticks leave it alone
        run_for(instance, request, DagsterRunStatus.NOT_STARTED)
        lake_run(instance, DagsterRunStatus.NOT_STARTED, MIDNIGHT)
        assert not tick(instance).run_requests


def test_a_dbt_run_past_the_pool_reads_nothing_newer():
    """Its step started: a lake run still in progress (new data, or a lake step it overtook) gets a
    new dbt run, once that step has rebuilt the models declarative automation watches."""
    with DagsterInstance.ephemeral() as instance:
        lake_run(instance, DagsterRunStatus.STARTED, MIDNIGHT)
        running = dbt_run(instance, DagsterRunStatus.STARTED, {"dagster/partition": "2026-11-21"})
        step_started(instance, running)
        assert not tick(instance).run_requests  # planning a run now would hide it from the automation

        materialized(instance, running, [AssetKey("stg_events")], "2026-11-21")
        assert not tick(instance).run_requests  # dim_dates and stg_ad_spend read the lake too (for Dagster)

        materialized(instance, running, [AssetKey("dim_dates"), AssetKey("stg_ad_spend")], "2026-11-21")
        (request,) = tick(instance).run_requests
        assert request.partition_key == "2026-11-21"
        assert set(request.asset_selection) == set(DBT_MODELS)


def test_the_dbt_tests_run_at_least_every_five_minutes_and_after_a_failure(monkeypatch):
    day = MIDNIGHT.date()
    with DagsterInstance.ephemeral() as instance:
        lake_run(instance, DagsterRunStatus.STARTED, MIDNIGHT)
        first = tick(instance)
        (tested,) = first.run_requests  # the day's first build runs the tests
        assert tested.asset_check_keys is None and tested.tags["shopper/dbt_tests"] == "run"
        done = run_for(instance, tested, DagsterRunStatus.SUCCESS)

        second = tick(instance, first.cursor)
        (models_only,) = second.run_requests  # tested a moment ago: models only
        assert models_only.asset_check_keys == [] and models_only.tags["shopper/dbt_tests"] == "skipped"
        assert json.loads(second.cursor)["untested_days"] == [day.isoformat()]
        run_for(instance, models_only, DagsterRunStatus.SUCCESS)

        monkeypatch.setattr(marts_runs, "TESTS_AT_LEAST_EVERY", timedelta(0))  # ... five minutes later
        third = tick(instance, second.cursor)
        (again,) = third.run_requests
        assert again.asset_check_keys is None
        assert json.loads(third.cursor)["untested_days"] == []

        monkeypatch.setattr(marts_runs, "TESTS_AT_LEAST_EVERY", timedelta(hours=1))
        instance.delete_run(done.run_id)
        run_for(instance, again, DagsterRunStatus.FAILURE)  # a test failed: every build tests until one passes
        (after_failure,) = tick(instance, third.cursor).run_requests
        assert after_failure.asset_check_keys is None


def test_a_paused_stream_gets_one_last_tested_build():
    """Days built without their tests get a tested build once no lake or dbt run of theirs is in progress."""
    cursor = json.dumps({"untested_days": ["2026-11-21"]})
    with DagsterInstance.ephemeral() as instance:
        building = dbt_run(instance, DagsterRunStatus.STARTED, {"dagster/partition": "2026-11-21"})
        assert not tick(instance, cursor).run_requests  # its last models-only build is still running
        instance.delete_run(building.run_id)

        result = tick(instance, cursor)
        (closing,) = result.run_requests
        assert closing.partition_key == "2026-11-21" and closing.asset_check_keys is None
        assert json.loads(result.cursor)["untested_days"] == []


def test_finished_lake_runs_and_lake_runs_from_the_ui():
    with DagsterInstance.ephemeral() as instance:
        lake_run(instance, DagsterRunStatus.SUCCESS, LATE_EVENING)
        lake_run(instance, DagsterRunStatus.FAILURE, MIDNIGHT)
        assert not tick(instance).run_requests

        # a materialization launched from the UI: one partition, no sensor tags
        instance.add_run(
            DagsterRun(
                job_name="__ASSET_JOB",
                status=DagsterRunStatus.NOT_STARTED,  # QUEUED needs a code-location origin
                tags={"dagster/partition": "2026-11-19-08:00"},
                asset_selection=frozenset({AssetKey("cleaned_events"), AssetKey("quarantined_events")}),
            )
        )
        (request,) = tick(instance).run_requests
        assert request.partition_key == "2026-11-19"


def test_days_apart_get_one_run_each_and_a_lone_day_is_its_partition():
    requests = marts_run_requests({datetime(2026, 11, 18).date(), datetime(2026, 11, 20).date()}, DBT_MODELS)
    assert [r.partition_key for r in requests] == ["2026-11-18", "2026-11-20"]
    assert all("dagster/asset_partition_range_start" not in r.tags for r in requests)


def test_the_lake_step_gets_the_pool_before_a_dbt_step_that_waited_longer():
    """Claims on a one-slot pool in the instance's real (SQLite) storage, with the priorities the
    executor derives from the runs' tags: the dbt step asks first, the lake step still goes first."""
    with tempfile.TemporaryDirectory() as home:
        instance = DagsterInstance.local_temp(home, overrides={"concurrency": {"pools": {"default_limit": 1}}})
        holder = dbt_run(instance, DagsterRunStatus.STARTED, {"dagster/partition": "2026-11-20"})
        (waiting,) = marts_run_requests({MIDNIGHT.date()}, DBT_MODELS)
        waiting_dbt = dbt_run(instance, DagsterRunStatus.STARTED, run_tags(waiting))
        waiting_lake = lake_run(instance, DagsterRunStatus.STARTED, MIDNIGHT)
        with (
            InstanceConcurrencyContext(instance, holder) as running,
            InstanceConcurrencyContext(instance, waiting_dbt) as dbt_step,
            InstanceConcurrencyContext(instance, waiting_lake) as lake_step,
        ):
            assert running.claim("duckdb", "shopper_dbt_assets")
            assert not dbt_step.claim("duckdb", "shopper_dbt_assets")
            assert not lake_step.claim("duckdb", "lake_step")
            instance.event_log_storage.free_concurrency_slot_for_step(holder.run_id, "shopper_dbt_assets")
            for ctx in (dbt_step, lake_step):  # ask again now, not after the claim back-off
                ctx._pending_timeouts.clear()
            assert not dbt_step.claim("duckdb", "shopper_dbt_assets")
            assert lake_step.claim("duckdb", "lake_step")
        instance.dispose()


def daily_requests(result) -> int:
    """Requests of the daily dbt models (the whole-history marts follow any rebuilt day by design)."""
    return sum(result.get_num_requested(key) for key in DBT_MODELS)


def test_automation_does_not_rebuild_a_day_rebuilt_after_its_hours():
    """The follow sensor's dbt run rebuilt the day after the lake update: declarative automation,
    which covers updates nobody followed, requests nothing; an hour updated after that rebuild it does."""
    day = "2026-11-20"
    with DagsterInstance.ephemeral() as instance:
        cursor = evaluate_automation_conditions(defs=defs, instance=instance).cursor
        instance.report_runless_asset_event(AssetMaterialization("cleaned_events", partition=f"{day}-10:00"))
        rebuild = dbt_run(instance, DagsterRunStatus.SUCCESS, {"dagster/partition": day})
        materialized(instance, rebuild, DBT_MODELS, day)  # the dbt run that started after that lake step
        result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        assert daily_requests(result) == 0

        instance.report_runless_asset_event(AssetMaterialization("cleaned_events", partition=f"{day}-11:00"))
        result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
        assert {key for key in DBT_MODELS if day in result.get_requested_partitions(key)} == set(DBT_MODELS)


def test_why_the_next_dbt_run_waits_until_the_running_one_rebuilt_the_lake_readers():
    """Dagster's in-progress view: a day whose latest planned materialization has a materialization
    after it is not in progress. A dbt run planned before the running one rebuilt the day's models
    therefore looks finished once it has, and declarative automation would request the day again
    next to it; planned after that rebuild, it is in progress and the automation waits."""
    day = "2026-11-20"
    job = defs.get_implicit_global_asset_job_def().get_subset(asset_selection=set(DBT_MODELS))

    def automation_requests(plan_next_before_rebuild: bool) -> int:
        with tempfile.TemporaryDirectory() as home, DagsterInstance.local_temp(home) as instance:
            cursor = evaluate_automation_conditions(defs=defs, instance=instance).cursor

            def plan():
                instance.create_run_for_job(job, asset_selection=frozenset(DBT_MODELS), tags={"dagster/partition": day})

            running = instance.create_run_for_job(
                job, asset_selection=frozenset(DBT_MODELS), tags={"dagster/partition": day}
            )
            if plan_next_before_rebuild:
                plan()
            materialized(instance, running, DBT_MODELS, day)
            if not plan_next_before_rebuild:
                plan()
            instance.report_runless_asset_event(AssetMaterialization("cleaned_events", partition=f"{day}-10:00"))
            return daily_requests(evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor))

    assert automation_requests(plan_next_before_rebuild=True) > 0  # a second, redundant run of the day
    assert automation_requests(plan_next_before_rebuild=False) == 0
