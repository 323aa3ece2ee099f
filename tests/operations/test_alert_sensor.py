"""The alert sensor, ticked by hand on a real instance: what it reads (runs that ended, their checks,
the Kafka consumer's health), that an alert a destination refused is retried until it is taken (once),
and that without any destination alerts are only logged."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, SensorResult, build_sensor_context, materialize

from shopper_assets.automation.kafka_sensor import KafkaResource, report_health
from shopper_assets.deployments import resources_for
from shopper_assets.operations.alert_sensor import WatchState, build_alert_sensor
from shopper_assets.operations.data_quality import DayQuality
from shopper_assets.operations.data_quality_asset import write_days
from shopper_assets.operations.destinations import AlertDestinations
from shopper_assets.settings import Settings
from shopper_assets.transform import dbt_resource
from tests.built import lake_step, landing_events, shopper_quality_dbt_assets
from tests.conftest import write_landing_file
from tests.lake.events import event
from tests.operations.receivers import http_receiver

HOUR = datetime(2026, 11, 20, 7)
DAY = date(2026, 11, 20)
DAY_WINDOW = (datetime(2026, 11, 20), datetime(2026, 11, 21))
SENSOR = build_alert_sensor({AssetKey("ad_spend"): "lake"}, "http://ui.example")


def tick(instance: DagsterInstance, cursor: str | None, destinations: AlertDestinations) -> SensorResult:
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"alerts": destinations})
    return SENSOR(context)


def broken_hour(data_dir: Path):
    write_landing_file(data_dir, HOUR, "a.jsonl.gz", [event(at=HOUR) for _ in range(10)] + ["nope"] * 60)
    return materialize(
        [landing_events, lake_step],
        selection=AssetSelection.assets(lake_step),
        partition_key="2026-11-20-07:00",
        resources=resources_for(Settings.from_env()),
        instance=DagsterInstance.get(),
        raise_on_error=False,
    )


def test_an_alert_the_webhook_refused_is_delivered_once_it_answers(data_dir: Path):
    instance = DagsterInstance.get()
    failed = broken_hour(data_dir)
    assert not failed.success
    with http_receiver(status=503) as http:
        destinations = AlertDestinations(webhook_url=http.webhook_url)
        first = tick(instance, None, destinations)  # the first tick looks back 10 minutes: it sees the run
        state = WatchState.load(first.cursor)
        assert list(state.book.open) == ["check_failed:cleaned_events:2026-11-20-07:00"]
        assert [p.to for p in state.outbox] == [["webhook"]] and state.outbox[0].attempts == 1
        assert http.webhook.snapshot() == []

        http.status = 200
        second = tick(instance, first.cursor, destinations)
        (alert,) = http.webhook.snapshot()
        assert (alert["status"], alert["run_id"], alert["url"]) == (
            "firing",
            failed.run_id,
            f"http://ui.example/runs/{failed.run_id}",
        )
        assert WatchState.load(second.cursor).outbox == []
        third = tick(instance, second.cursor, destinations)
        assert len(http.webhook.snapshot()) == 1 and third.skip_reason is not None
        assert "1 open incident" in third.skip_reason.skip_message


def test_kafka_health_records_become_incidents(data_dir: Path):
    instance = DagsterInstance.get()
    kafka = KafkaResource(bootstrap_servers="127.0.0.1:1", topics="t", lag_alert_threshold=10)
    with http_receiver() as http:
        destinations = AlertDestinations(webhook_url=http.webhook_url)
        cursor = tick(instance, None, destinations).cursor
        report_health(build_sensor_context(instance=instance), kafka, lag=50)
        cursor = tick(instance, cursor, destinations).cursor
        report_health(build_sensor_context(instance=instance), kafka, lag=0)
        tick(instance, cursor, destinations)
    assert [(a["kind"], a["status"]) for a in http.webhook.snapshot()] == [
        ("kafka_lag", "firing"),
        ("kafka_lag", "resolved"),
    ]


def test_without_a_destination_alerts_are_only_logged(data_dir: Path):
    instance = DagsterInstance.get()
    assert not broken_hour(data_dir).success
    result = tick(instance, None, AlertDestinations())
    state = WatchState.load(result.cursor)
    assert list(state.book.open) == ["check_failed:cleaned_events:2026-11-20-07:00"] and state.outbox == []


@pytest.mark.slow
def test_a_failing_dbt_test_is_a_check_failed_alert_on_its_model(data_dir: Path):
    """A dbt test of severity error fails its build: one check_failed on the model; fixed, resolved."""
    instance = DagsterInstance.get()
    store = resources_for(Settings.from_env())["lake"]

    def score_day(late_events: int):
        quality = DayQuality(DAY, landed_lines=10, clean_events=10, quarantined_lines=0, late_events=late_events)
        with store.session() as session:
            write_days(session, *DAY_WINDOW, [quality], datetime(2026, 11, 21))
        store.publish_to_warehouse()
        return materialize(
            [shopper_quality_dbt_assets],
            selection=AssetSelection.assets(AssetKey("dq_score_daily")),
            partition_key=DAY.isoformat(),
            resources={**resources_for(Settings.from_env()), "dbt": dbt_resource()},
            instance=instance,
            raise_on_error=False,
        )

    with http_receiver() as http:
        destinations = AlertDestinations(webhook_url=http.webhook_url)
        failed = score_day(late_events=11)  # more late events than clean ones: the model's expression test fails
        assert not failed.success
        cursor = tick(instance, None, destinations).cursor
        (alert,) = http.webhook.snapshot()
        assert (alert["kind"], alert["asset"], alert["partition"]) == ("check_failed", "dq_score_daily", "2026-11-20")
        assert [c.split(":")[0] for c in alert["checks"]] == ["dq_score_daily"]
        assert "expression_is_true" in alert["checks"][0]

        assert score_day(late_events=3).success
        tick(instance, cursor, destinations)
        assert [a["status"] for a in http.webhook.snapshot()] == ["firing", "resolved"]
