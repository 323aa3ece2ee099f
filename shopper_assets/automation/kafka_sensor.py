"""The Kafka sensor: lands new messages and asks for the lake runs of the hours they touched.

Each tick consumes one bounded batch (a message cap and a time budget keep the tick well under
Dagster's tick timeout), writes it into the landing zone's hour folders, commits the offsets after
the files are durable (``land_batch``) and returns:

* a materialization of ``landing_events`` per touched hour, carrying offsets, counts and consumer
  lag, so the UI shows what each tick landed;
* one run per contiguous range of touched hours for raw_events → cleaned_events +
  quarantined_events. Late events touch old hours and get their own runs; the daily dbt models
  follow them (``automation/marts_runs.py``, and declarative automation in ``conditions.py``).

Hours that do not exist yet as partitions wait in the cursor until they do: at most a day
(``MAX_HOURS_AHEAD``), since the lander puts a message stamped further ahead (or before
SHOPPER_START_DATE) in the hour of its Kafka timestamp, where it is quarantined (``ingestion/kafka/scan.py``).
A broker that cannot be reached skips the tick with one line saying so (no broker is a normal state
on a laptop: ``shopper stream`` starts one); the next tick retries from the committed offsets, so
nothing is lost or landed twice. Other broker errors (a refused request) fail the tick.

Each tick also judges the consumer's health: an ``AssetObservation`` of ``landing_events`` records
whether Kafka could be reached and the consumer lag (``consumer_lag``, numeric, so the UI plots it)
whenever that changes state (reachable or not, lag above ``lag_alert_threshold`` or not), and at
least every ``HEALTH_EVERY`` otherwise, skipped ticks included. The alert sensor
(``operations/alert_sensor.py``) reads them.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from dagster import (
    AssetKey,
    AssetObservation,
    AssetRecordsFilter,
    ConfigurableResource,
    DefaultSensorStatus,
    MetadataValue,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from pydantic import Field

from shopper_assets.automation.jobs import lake_job
from shopper_assets.automation.landing_tick import LandingTick
from shopper_assets.ingestion.kafka.broker import broker_error
from shopper_assets.ingestion.kafka.client import KafkaLandingError, KafkaUnavailable
from shopper_assets.ingestion.kafka.consumer import make_consumer
from shopper_assets.ingestion.kafka.land import land_batch
from shopper_assets.ingestion.landing import LandingZone
from shopper_assets.settings import Alerting, Settings

LANDING_EVENTS = AssetKey("landing_events")
HEALTH_EVERY = timedelta(minutes=1)  # a health observation at least this often while the sensor runs


class KafkaResource(ConfigurableResource):
    """Where to consume from, and how much one sensor tick may take."""

    bootstrap_servers: str
    topics: str  # comma-separated
    group_id: str = "shopper-landing"
    max_messages_per_tick: int = 200_000
    consume_seconds: float = 10.0
    client_overrides: dict[str, str] = Field(default_factory=dict, description="Extra librdkafka settings.")
    lag_alert_threshold: int = Field(
        default=Alerting.kafka_lag_threshold, description="Consumer lag (messages) above which the consumer is behind."
    )

    def consumer(self):
        settings = Settings(kafka_bootstrap_servers=self.bootstrap_servers, kafka_topics=self.topic_list)
        return make_consumer(settings, self.group_id, config=dict(self.client_overrides))

    @property
    def topic_list(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.topics.split(",") if t.strip())


def no_broker(bootstrap: str, error: str) -> str:
    return (
        f"No Kafka broker answers at {bootstrap} ({error}): nothing landed, the next tick retries. "
        "Start one with `shopper stream`, or set KAFKA_BOOTSTRAP_SERVERS."
    )


@sensor(
    name="kafka_landing_sensor",
    minimum_interval_seconds=5,
    target=lake_job,
    default_status=DefaultSensorStatus.STOPPED,
    description="Lands Kafka messages into hour folders and requests the lake runs of the touched hours.",
)
def kafka_landing_sensor(
    context: SensorEvaluationContext, kafka: KafkaResource, landing: LandingZone
) -> SensorResult | SkipReason:
    if (error := broker_error(kafka.bootstrap_servers)) is not None:
        report_health(context, kafka, lag=None, error=error)
        return SkipReason(no_broker(kafka.bootstrap_servers, error))
    consumer = kafka.consumer()
    try:
        report = land_batch(
            consumer, landing, max_messages=kafka.max_messages_per_tick, timeout_s=kafka.consume_seconds
        )
    except KafkaUnavailable as exc:  # went away during the batch: nothing was committed
        report_health(context, kafka, lag=None, error=str(exc))
        return SkipReason(no_broker(kafka.bootstrap_servers, f"{exc.step}: {exc.error}"))
    except KafkaLandingError as exc:
        report_health(context, kafka, lag=None, error=str(exc))
        raise
    finally:
        consumer.close()
    report_health(context, kafka, lag=report.total_lag)

    tick = LandingTick.after(context, report.hours)
    waiting = len(tick.hours.waiting)
    if not tick.ready and report.messages == 0:
        return SkipReason(f"No new messages (consumer lag {report.total_lag}); {waiting} hours waiting")
    context.log.info(
        f"Landed {report.messages:,} messages ({report.malformed:,} malformed) into {len(report.files)} files "
        f"over {len(report.hours)} hours; lag {report.total_lag:,}; {waiting} hours wait for their partition"
    )
    offsets = MetadataValue.json({f"{t}[{p}]": list(r) for (t, p), r in report.offsets.items()})

    def landed(hour: datetime) -> dict:
        files = sorted(f for f in report.files if f.startswith(f"date={hour:%Y-%m-%d}/hour={hour:%H}"))
        return {
            "messages_in_batch": report.messages,
            "malformed_in_batch": report.malformed,
            "files": MetadataValue.json(files),
            "offsets": offsets,
            "consumer_lag": report.total_lag,
        }

    cursor_key = ",".join(f"{t}[{p}]={last}" for (t, p), (_, last) in sorted(report.offsets.items())) or "pending"
    return tick.result(
        f"kafka:{cursor_key}",
        landed,
        landed_messages=tick.cursor.get("landed_messages", 0) + report.messages,
        offsets={f"{t}[{p}]": last for (t, p), (_, last) in report.offsets.items()} or tick.cursor.get("offsets", {}),
    )


def consumer_health(kafka: KafkaResource, lag: int | None, error: str | None = None) -> dict:
    """Metadata of a health observation: reachable, lag (when known) and whether it is behind."""
    health: dict = {
        "kafka_reachable": error is None,
        "behind": lag is not None and lag > kafka.lag_alert_threshold,
        "lag_threshold": kafka.lag_alert_threshold,
        "bootstrap_servers": kafka.bootstrap_servers,
        "topics": kafka.topics,
    }
    if lag is not None:
        health["consumer_lag"] = lag
    if error is not None:
        health["error"] = MetadataValue.text(error)
    return health


def report_health(context: SensorEvaluationContext, kafka: KafkaResource, lag: int | None, error: str | None = None):
    """Record the consumer's health when its state changed, or the last record is ``HEALTH_EVERY`` old.

    Recorded on the instance rather than returned with the tick, so a tick that fails (the broker is
    down) records it too; the latest record, not the cursor, says what was recorded last.
    """
    health = consumer_health(kafka, lag, error)
    latest = context.instance.fetch_observations(AssetRecordsFilter(asset_key=LANDING_EVENTS), limit=1).records
    if latest:
        before = latest[0].asset_observation.metadata if latest[0].asset_observation else {}
        state = {k: getattr(before.get(k), "value", None) for k in ("kafka_reachable", "behind")}
        fresh = time.time() - latest[0].timestamp < HEALTH_EVERY.total_seconds()
        if fresh and state == {"kafka_reachable": health["kafka_reachable"], "behind": health["behind"]}:
            return
    context.instance.report_runless_asset_event(AssetObservation(asset_key=LANDING_EVENTS, metadata=health))
