"""``shopper stream`` and ``shopper produce`` as a newcomer meets them: a real ``shopper stream`` process
(its own tansu broker), the real Kafka sensor landing what it sends into the lake, Ctrl-C stopping
it all; no broker: produce fails fast and the sensor skips, each with one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, TopicPartition
from dagster import DagsterInstance, SkipReason, build_sensor_context

from shopper_assets.automation.kafka_sensor import KafkaResource, kafka_landing_sensor
from shopper_assets.cli import main
from shopper_assets.ingestion.kafka.broker import broker_error
from shopper_assets.ingestion.kafka.produce import produce_events
from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.settings import Settings
from tests.kafka.broker import KafkaBroker, free_port
from tests.kafka.test_sensor_pipeline import run_requests_and_automation

ROOT = Path(__file__).resolve().parents[2]
TANSU_CONSUMER = {"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"}


def stream_env(data_dir: Path, bootstrap: str, topic: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPPER_", "KAFKA_", "DAGSTER_HOME"))}
    env.update(
        SHOPPER_DATA_DIR=str(data_dir),
        SHOPPER_DUCKDB_PATH=str(data_dir / "shopper.duckdb"),
        DAGSTER_HOME=str(data_dir / "dagster_home"),
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        SHOPPER_KAFKA_TOPICS=topic,
        PYTHONPATH=str(ROOT),
    )
    return env


class Output:
    """A child's output read on a thread, so the test can wait for a line without blocking on a pipe."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, prefix: str, process: subprocess.Popen, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.lines:
                if line.startswith(prefix):
                    return line
            if process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no line starting with {prefix!r} in {timeout_s} s:\n" + "\n".join(self.lines[-40:]))

    def text(self) -> str:
        self._thread.join(10)
        return "\n".join(self.lines)


@contextmanager
def shopper_stream(env: dict[str, str], *args: str) -> Iterator[tuple[subprocess.Popen, Output, Output]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "shopper_assets.cli", "stream", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, Output(process.stdout), Output(process.stderr)
    finally:
        if process.poll() is None:  # the test failed before its Ctrl-C: stop the stream the same way
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def cleaned_events(data_dir: Path) -> list[tuple[str, datetime]]:
    files = data_dir / "lake" / "cleaned_events" / "date=*" / "hour=*" / "*.parquet"
    if not list((data_dir / "lake").glob("cleaned_events/date=*/hour=*/*.parquet")):
        return []
    with duckdb.connect() as con:
        return con.execute(f"SELECT event_id, event_time FROM read_parquet('{files}')").fetchall()


def interrupt(process: subprocess.Popen, out: Output, err: Output) -> tuple[str, str]:
    """Ctrl-C: the stream stops cleanly, in bounded time, with no traceback, and leaves no process behind
    (broker; dagster dev with its webserver, daemon and code servers)."""
    import psutil

    children = psutil.Process(process.pid).children(recursive=True)
    assert children  # the broker at least
    process.send_signal(signal.SIGINT)
    assert process.wait(180) == 0
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, alive
    stdout, stderr = out.text(), err.text()
    assert "Traceback" not in stdout + stderr, stdout + stderr
    return stdout, stderr


@pytest.mark.slow
def test_stream_events_reach_the_cleaned_hour_and_ctrl_c_stops_everything(data_dir: Path):
    """`shopper stream --no-ui` starts tansu where KAFKA_BOOTSTRAP_SERVERS points; the Kafka sensor
    (evaluated here, as the daemon would) lands its events and the lake runs clean them, stamped at now."""
    bootstrap = f"127.0.0.1:{free_port()}"
    topic = "shopper.events"
    started = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with shopper_stream(stream_env(data_dir, bootstrap, topic), "--no-ui", "--rate", "200") as (process, out, err):
        assert f"at {bootstrap};" in out.wait_for("Kafka: started a local broker", process, 30)
        out.wait_for("Producing 200 events/s", process, 30)

        from shopper_assets.deployments import resources_for
        from shopper_assets.transform import dbt_resource
        from tests.built import defs

        kafka = KafkaResource(
            bootstrap_servers=bootstrap, topics=topic, consume_seconds=3.0, client_overrides=TANSU_CONSUMER
        )
        resources = {**resources_for(Settings.from_env()), "dbt": dbt_resource(), "kafka": kafka}
        instance = DagsterInstance.get()
        cursor, deadline = None, time.monotonic() + 120
        while not cleaned_events(data_dir):  # ticks as the daemon would run them, until a run has cleaned events
            assert time.monotonic() < deadline, "no events reached cleaned_events in 120 s"
            result = kafka_landing_sensor(build_sensor_context(instance=instance, resources=resources, cursor=cursor))
            if isinstance(result, SkipReason):
                assert "No Kafka broker" not in (result.skip_message or "")
                time.sleep(0.5)
                continue
            run_requests_and_automation(defs, resources, instance, result)
            cursor = result.cursor
        stdout, _ = interrupt(process, out, err)

    assert broker_error(bootstrap, 1.0) is not None  # the broker stopped with the stream
    assert "Stream stopped:" in stdout and " 0 failed" in stdout
    rows = cleaned_events(data_dir)
    ids = [event_id for event_id, _ in rows]
    assert len(ids) == len(set(ids)) > 0
    stopped = datetime.now(UTC).replace(tzinfo=None)
    assert all(started - timedelta(seconds=1) <= t <= stopped for _, t in rows)  # stamped at now, never ahead


@pytest.mark.slow
def test_stream_with_the_ui_shows_events_in_the_lake_and_stops_dagster_dev(data_dir: Path):
    """The newcomer's path: `shopper stream` starts `dagster dev` with the Kafka sensor on (the daemon
    ticks it and launches the lake runs), prints where to watch; Ctrl-C stops dagster dev and the broker
    and resets the sensor to its default."""
    bootstrap = f"127.0.0.1:{free_port()}"
    port = free_port()
    with shopper_stream(stream_env(data_dir, bootstrap, "shopper.events"), "--rate", "50", "--ui-port", str(port)) as (
        process,
        out,
        err,
    ):
        watch = out.wait_for("Watch: ", process, 240)
        assert f"http://127.0.0.1:{port}/assets/cleaned_events" in watch
        deadline = time.monotonic() + 180
        while not cleaned_events(data_dir):
            assert process.poll() is None and time.monotonic() < deadline, "\n".join(out.lines + err.lines)
            time.sleep(1)
        instance = DagsterInstance.from_config(str(data_dir / "dagster_home"))
        runs = instance.get_runs()
        assert any(r.tags.get("dagster/sensor_name") == "kafka_landing_sensor" for r in runs)
        stdout, _ = interrupt(process, out, err)

    assert broker_error(bootstrap, 1.0) is not None
    assert "Stream stopped:" in stdout
    states = DagsterInstance.from_config(str(data_dir / "dagster_home")).all_instigator_state()
    kafka_states = [s for s in states if s.name == "kafka_landing_sensor"]
    assert kafka_states and all(s.status.value != "RUNNING" for s in kafka_states)  # reset to its default: stopped


def test_produce_without_a_broker_fails_fast_with_one_line(monkeypatch: pytest.MonkeyPatch, data_dir: Path):
    bootstrap = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    started = time.monotonic()
    result = CliRunner().invoke(main, ["produce", "--events", "100"])
    assert time.monotonic() - started < 10
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: no Kafka broker answers at {bootstrap}"), result.output
    assert "shopper stream" in lines[0]


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ((datetime.now(UTC)).date().isoformat(), "has not ended yet"),
        ((datetime.now(UTC) + timedelta(days=1)).date().isoformat(), "has not ended yet"),
        ("2020-01-01", "before the first partition"),
        ("yesterday", "expects a date as YYYY-MM-DD"),
    ],
)
def test_produce_replays_only_past_days(start: str, message: str, data_dir: Path):
    """--start is checked before any broker is contacted (none is running here)."""
    result = CliRunner().invoke(main, ["produce", "--events", "10", "--start", start])
    assert result.exit_code == 1  # one line, as every refused input (tests/test_cli.py)
    assert message in result.output and "Traceback" not in result.output


def test_produce_stamps_events_at_now(kafka_settings: Settings, kafka_broker: KafkaBroker):
    """Each event's event_time is the moment it was sent: never ahead of the clock, never a replayed day."""
    before = datetime.now(UTC).replace(tzinfo=None)
    report = produce_events(kafka_settings, events=3000, rate=3000, seed=5, progress=False)
    after = datetime.now(UTC).replace(tzinfo=None)
    assert report.ok and report.delivered == 3000
    times = [datetime.fromisoformat(e["event_time"].rstrip("Z")) for e in read_topic(kafka_broker, kafka_settings)]
    assert len(times) == 3000
    assert before - timedelta(milliseconds=1) <= min(times) and max(times) <= after
    assert max(times) - min(times) >= timedelta(milliseconds=500)  # stamped as sent at the rate, not all at once


def read_topic(broker: KafkaBroker, settings: Settings) -> list[dict]:
    topic = settings.kafka_topics[0]
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "reader", "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    events, at_end, deadline = [], set(), time.monotonic() + 30
    try:
        while len(at_end) < 3 and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                if msg.error():
                    at_end.add(msg.partition())
                else:
                    events.append(json.loads(msg.value()))
    finally:
        consumer.close()
    return events


def test_sensor_without_a_broker_skips_with_one_line(data_dir: Path):
    bootstrap = f"127.0.0.1:{free_port()}"
    kafka = KafkaResource(bootstrap_servers=bootstrap, topics="shopper.events")
    landing = LocalLandingZone(data_dir=str(data_dir))
    context = build_sensor_context(instance=DagsterInstance.ephemeral(), resources={"kafka": kafka, "landing": landing})
    started = time.monotonic()
    result = kafka_landing_sensor(context)
    assert time.monotonic() - started < 10
    assert isinstance(result, SkipReason)
    assert result.skip_message.startswith(f"No Kafka broker answers at {bootstrap}")
    assert "\n" not in result.skip_message and "shopper stream" in result.skip_message


def test_produce_stops_on_ctrl_c_with_a_summary(kafka_broker: KafkaBroker, kafka_topic: str, data_dir: Path):
    """Ctrl-C in `shopper produce` stops sending between polls (librdkafka would turn a KeyboardInterrupt
    raised inside its poll into a SystemError): what was sent is flushed and reported, exit 0."""
    env = stream_env(data_dir, kafka_broker.bootstrap, kafka_topic)
    command = [sys.executable, "-m", "shopper_assets.cli", "produce", "--rate", "200", "--duration", "120"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = Output(process.stdout), Output(process.stderr)
    try:
        deadline = time.monotonic() + 60
        while not any("events/s" in line for line in err.lines):  # the progress bar moves: sending
            assert process.poll() is None and time.monotonic() < deadline, err.lines
            time.sleep(0.2)
        time.sleep(1)
        process.send_signal(signal.SIGINT)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    summary = out.text()
    assert process.returncode == 0, summary + err.text()[-2000:]
    assert "Traceback" not in summary + err.text()
    assert " 0 failed" in summary and "stamped at now (stopped by Ctrl-C)" in summary, summary
    assert int(summary.split()[0].replace(",", "")) > 0


def test_stream_is_for_the_embedded_default(monkeypatch: pytest.MonkeyPatch, data_dir: Path):
    """In production (SHOPPER_ENV=prod) nothing is started: one line points to shopper produce."""
    monkeypatch.setenv("SHOPPER_ENV", "prod")
    result = CliRunner().invoke(main, ["stream", "--no-ui"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: shopper stream runs on the embedded default (SHOPPER_ENV=local, not 'prod'); "
        "send events to your broker with shopper produce"
    ]
