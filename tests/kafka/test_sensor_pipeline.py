"""Kafka → landing → lake → marts through Dagster: the sensor is evaluated, its run requests are
executed, and the daily marts follow through declarative automation. Real broker (tansu)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    SensorResult,
    SkipReason,
    build_sensor_context,
    evaluate_automation_conditions,
    materialize,
)

from shopper_assets.automation.kafka_sensor import KafkaResource, kafka_landing_sensor
from shopper_assets.ingestion.kafka.produce import produce_events
from shopper_assets.settings import Settings
from shopper_assets.storage.lake_store import LocalLakeStore
from tests.kafka.broker import KafkaBroker

DAY = (datetime.now(UTC) - timedelta(days=2)).date()


@pytest.fixture
def pipeline(kafka_broker: KafkaBroker, kafka_topic: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Definitions pointed at the tmp data root and the test topic, and a persistent instance."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_broker.bootstrap)
    monkeypatch.setenv("SHOPPER_KAFKA_TOPICS", kafka_topic)
    from shopper_assets.deployments import resources_for
    from shopper_assets.transform import dbt_resource
    from tests.built import defs

    kafka = KafkaResource(
        bootstrap_servers=kafka_broker.bootstrap,
        topics=kafka_topic,
        group_id=f"sensor-{kafka_topic}",
        consume_seconds=5.0,
        client_overrides={k: str(v) for k, v in kafka_broker.consumer_config.items()},
    )
    resources = {**resources_for(Settings.from_env()), "dbt": dbt_resource(), "kafka": kafka}
    instance = DagsterInstance.get()
    return defs, resources, instance


def tick(defs, resources, instance, cursor):
    context = build_sensor_context(instance=instance, resources=resources, cursor=cursor)
    return kafka_landing_sensor(context)


def run_requests_and_automation(defs, resources, instance, result: SensorResult) -> None:
    for request in result.run_requests:
        run = materialize(
            list(defs.assets),
            resources=resources,
            instance=instance,
            selection=request.asset_selection,
            tags=request.tags,
            raise_on_error=False,
        )
        assert run.success
    for event in result.asset_events:
        instance.report_runless_asset_event(event)


def drain_sensor(defs, resources, instance, cursor=None, ticks=20):
    for _ in range(ticks):
        result = tick(defs, resources, instance, cursor)
        if isinstance(result, SkipReason):
            return cursor
        run_requests_and_automation(defs, resources, instance, result)
        cursor = result.cursor
    raise AssertionError("sensor never reported an empty topic")


def cleaned_ids(data_dir: Path) -> list[str]:
    store = LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"))
    start = datetime(DAY.year, DAY.month, DAY.day)
    with store.session() as s:
        return [
            r[0]
            for r in s.con.execute(
                f"SELECT event_id FROM ({s.scan('cleaned_events', start, start + timedelta(days=2))})"
            ).fetchall()
        ]


def produce(broker: KafkaBroker, topic: str, n: int, seed: int = 42):
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap, kafka_topics=(topic,))
    report = produce_events(settings, events=n, topic=topic, seed=seed, progress=False, start=DAY)
    assert report.ok, report
    return report


def test_produced_events_reach_cleaned_events_and_marts_exactly_once(pipeline, kafka_broker, kafka_topic, data_dir):
    defs, resources, instance = pipeline
    n = 3000
    baseline = evaluate_automation_conditions(defs=defs, instance=instance)  # automation's first tick
    produce(kafka_broker, kafka_topic, n)
    drain_sensor(defs, resources, instance)

    ids = cleaned_ids(data_dir)
    assert len(ids) == n and len(set(ids)) == n

    # The daily marts follow the updated hours through declarative automation.
    result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=baseline.cursor)
    requested = {r.key: r.true_subset for r in result.results if r.true_subset.size > 0}
    assert AssetKey("kpi_daily") in requested
    days = sorted(requested[AssetKey("kpi_daily")].expensively_compute_partition_keys())
    assert DAY.isoformat() in days
    run = materialize(
        list(defs.assets),
        resources=resources,
        instance=instance,
        selection=list(requested),
        tags={"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]},
    )
    assert run.success
    with duckdb.connect(str(data_dir / "shopper.duckdb"), read_only=True) as con:
        orders_marts = con.execute("SELECT sum(orders) FROM marts.orders_per_hour").fetchone()[0]
        orders_lake = con.execute(
            "SELECT count(DISTINCT order_id) FROM lake.cleaned_events WHERE event_type = 'purchase'"
        ).fetchone()[0]
    assert orders_marts == orders_lake > 0


def test_crash_between_files_and_commit_loses_and_duplicates_nothing(
    pipeline, kafka_broker, kafka_topic, data_dir, monkeypatch
):
    defs, resources, instance = pipeline
    produce(kafka_broker, kafka_topic, 2000)
    import shopper_assets.ingestion.kafka.land as kafka_land

    real_commit = kafka_land.commit_offsets
    calls = {"n": 0}

    def dying_commit(consumer, offsets):
        calls["n"] += 1
        if calls["n"] == 1:
            raise SystemExit("process killed after writing files, before committing offsets")
        return real_commit(consumer, offsets)

    monkeypatch.setattr(kafka_land, "commit_offsets", dying_commit)
    with pytest.raises(SystemExit):
        tick(defs, resources, instance, None)
    drain_sensor(defs, resources, instance)
    ids = cleaned_ids(data_dir)
    assert len(ids) == 2000 and len(set(ids)) == 2000


def test_broker_outage_is_reported_and_ingestion_resumes(pipeline, kafka_broker, kafka_topic, data_dir):
    if not kafka_broker.can_restart:
        pytest.skip("external broker: cannot be restarted by the test")
    defs, resources, instance = pipeline
    produce(kafka_broker, kafka_topic, 1000, seed=1)
    cursor = drain_sensor(defs, resources, instance)
    kafka_broker.stop()
    try:
        skipped = tick(defs, resources, instance, cursor)  # one clear line, not a traceback
        assert isinstance(skipped, SkipReason)
        assert skipped.skip_message.startswith(f"No Kafka broker answers at {kafka_broker.bootstrap}")
        assert "shopper stream" in skipped.skip_message and "\n" not in skipped.skip_message
    finally:
        kafka_broker.restart()
    # tansu keeps topics in memory: after the restart the topic is new, with new events in it.
    kafka_broker.create_topic(kafka_topic, partitions=3)
    produce(kafka_broker, kafka_topic, 1000, seed=2)
    drain_sensor(defs, resources, instance, cursor)
    ids = cleaned_ids(data_dir)
    assert len(ids) == 2000 and len(set(ids)) == 2000
