"""Pipeline health as numeric metadata: each lake run says how many landed lines it processed and how
far behind the events it runs; each dbt build that publishes the events of its days says how long
after the newest of them the marts were published; the Kafka consumer's lag is recorded as it changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, materialize

from shopper_assets.deployments import resources_for
from shopper_assets.serving.local import LocalServing
from shopper_assets.settings import Settings
from shopper_assets.transform import dbt_resource
from tests.built import lake_step, landing_events, shopper_dbt_assets
from tests.conftest import write_landing_file
from tests.lake.events import event

CLEANED = AssetKey("cleaned_events")


def run_metadata(result, key: AssetKey) -> dict:
    (materialization,) = [e.materialization for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


def lake_run(hour: datetime):
    return materialize(
        [landing_events, lake_step],
        selection=AssetSelection.assets(lake_step),
        partition_key=f"{hour:%Y-%m-%d-%H}:00",
        resources=resources_for(Settings.from_env()),
    )


def test_a_lake_run_reports_the_lines_it_processed_and_its_lag(data_dir: Path):
    hour = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    newest = hour + timedelta(minutes=40)
    write_landing_file(data_dir, hour, "a.jsonl.gz", [event(at=hour + timedelta(minutes=i)) for i in range(41)])
    first = run_metadata(lake_run(hour), CLEANED)
    assert first["events_processed"] == 41 and first["mode"] == "rebuilt"
    lag = (datetime.now(UTC).replace(tzinfo=None) - newest).total_seconds()
    assert 0 < lag - first["window_lag_seconds"] < 60

    write_landing_file(data_dir, hour, "b.jsonl.gz", [event(at=hour + timedelta(minutes=50))] + ["not json"] * 2)
    second = run_metadata(lake_run(hour), CLEANED)
    assert second["mode"] == "appended" and second["events_processed"] == 3  # the micro-batch's lines only
    assert second["window_rows"] == 42


@pytest.mark.slow
def test_a_published_build_reports_its_event_to_mart_latency(data_dir: Path):
    day = (datetime.now(UTC) - timedelta(days=1)).date()
    newest = datetime(day.year, day.month, day.day, 22, 30, 15)
    write_landing_file(data_dir, newest.replace(minute=0, second=0), "a.jsonl.gz", [event(at=newest)])
    write_landing_file(data_dir, newest.replace(hour=9), "b.jsonl.gz", [event("purchase", at=newest.replace(hour=9))])
    instance = DagsterInstance.ephemeral()
    for hour in (9, 22):
        assert materialize(
            [landing_events, lake_step],
            selection=AssetSelection.assets(lake_step),
            partition_key=f"{day}-{hour:02d}:00",
            resources=resources_for(Settings.from_env()),
            instance=instance,
        ).success
    build = materialize(
        [shopper_dbt_assets],
        partition_key=day.isoformat(),
        resources={**resources_for(Settings.from_env()), "dbt": dbt_resource()},
        instance=instance,
    )
    assert build.success
    version = LocalServing(Settings.from_env().serving_dir).current()
    expected = (version.published_at.astimezone(UTC).replace(tzinfo=None) - newest).total_seconds()
    kpis = run_metadata(build, AssetKey("kpi_daily"))
    assert kpis["event_to_published_seconds"] == pytest.approx(expected, abs=1e-3)
    assert kpis["serving_version"] == version.name


def test_the_kafka_consumer_health_is_recorded_when_it_changes(data_dir: Path):
    from dagster import build_sensor_context

    from shopper_assets.automation.kafka_sensor import KafkaResource, report_health

    instance = DagsterInstance.get()
    kafka = KafkaResource(bootstrap_servers="127.0.0.1:1", topics="t", lag_alert_threshold=100)
    context = build_sensor_context(instance=instance)

    def recorded() -> list[dict]:
        records = instance.fetch_observations(AssetKey("landing_events"), limit=10).records
        return [{k: getattr(v, "value", v) for k, v in r.asset_observation.metadata.items()} for r in records][::-1]

    report_health(context, kafka, lag=5)
    report_health(context, kafka, lag=7)  # same state, within a minute: nothing new
    report_health(context, kafka, lag=250)  # behind
    report_health(context, kafka, lag=None, error="Kafka broker 127.0.0.1:1 unavailable during consume: down")
    report_health(context, kafka, lag=None, error="Kafka broker 127.0.0.1:1 unavailable during consume: down")
    states = [(h["kafka_reachable"], h.get("consumer_lag"), h["behind"]) for h in recorded()]
    assert states == [(True, 5, False), (True, 250, True), (False, None, False)]
    assert "unavailable during consume" in recorded()[-1]["error"]
