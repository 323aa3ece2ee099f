"""``shopper stream``: the live path on a laptop in one command, without Docker or a Kafka install.

1. A broker: the one at KAFKA_BOOTSTRAP_SERVERS if it answers; else, when that address is local
   (the default ``localhost:9092``), a local in-memory broker there (tansu, ``ingestion/kafka/broker.py``).
2. The topic (the first of SHOPPER_KAFKA_TOPICS), created if missing.
3. The Dagster UI with the Kafka sensor on: ``dagster dev`` on this deployment's instance (the
   demo's ``$DAGSTER_HOME``), unless a Dagster UI already answers on the port; the sensor is
   switched on through the UI's GraphQL API, where the user is looking, and reset to its default
   (stopped) at the end if the stream switched it on. The sensor is off by default so that a
   laptop without a broker stays quiet; the stream is the moment a broker exists.
4. Events stamped at "now" at ``rate`` events/s until Ctrl-C (or ``duration``), on the main thread,
   while the UI starts beside it; one line says where to watch once the sensor is on.

Ctrl-C (or SIGTERM) stops producing, flushes, resets the sensor, gives the runs in progress a few
seconds to finish and cancels the rest (runs cut off by a stopped ``dagster dev`` would show as
failures next time), then stops ``dagster dev`` and the broker. Children run in their own sessions,
so the terminal's Ctrl-C reaches only this process, which stops them in that order (a second
Ctrl-C cancels the runs at once, and never cuts the clean-up short).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shopper_assets.demo import ensure_dagster_home
from shopper_assets.ingestion.kafka.broker import LocalBroker, broker_error, ensure_topic, local_port
from shopper_assets.ingestion.kafka.produce import produce_events, stop_on_signals
from shopper_assets.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
SENSOR = "kafka_landing_sensor"
LOCATION = "shopper_assets"  # workspace.yaml's location_name
WATCH_ASSET = "cleaned_events"
UI_START_TIMEOUT_S = 240.0  # dagster dev loads the code location (dbt manifest included) before it answers
ACTIVE_RUN_STATUSES = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED"]
RESET_TIMEOUT_S = 60.0  # a sensor tick in flight when the sensor is reset (it lands a Kafka batch) ends in seconds
FINISH_TIMEOUT_S = 10.0  # for the runs in progress at Ctrl-C: a lake run takes seconds (a dbt run may be cancelled)
TANSU_CONSUMER_CONFIG = "session.timeout.ms=2000,heartbeat.interval.ms=500"  # tansu admits members after ~half

Echo = Callable[[str], None]


class StreamError(Exception):
    """A reason the stream cannot start, said in one line."""


@dataclass
class Broker:
    bootstrap: str
    local: object | None  # the LocalBroker this stream started, if it started one


def start_broker(settings: Settings, log_dir: Path, echo: Echo) -> Broker:
    """The broker at KAFKA_BOOTSTRAP_SERVERS, or a local one started on that (local) address."""
    bootstrap = settings.kafka_bootstrap_servers
    error = broker_error(bootstrap, 2.0)
    if error is None:
        echo(f"Kafka: using the broker that answers at {bootstrap}")
        return Broker(bootstrap, None)
    port = local_port(bootstrap)
    if port is None:
        raise StreamError(
            f"no Kafka broker answers at {bootstrap} ({error}); unset KAFKA_BOOTSTRAP_SERVERS for a local one"
        )
    local = LocalBroker(port, log_dir / "kafka-broker.log")
    try:
        local.start()
    except (RuntimeError, TimeoutError) as exc:
        local.stop()
        raise StreamError(f"could not start a local Kafka broker on port {port}: {exc}") from None
    echo(f"Kafka: started a local broker (tansu, in memory) at {local.bootstrap}; log {local.log_path}")
    return Broker(local.bootstrap, local)


class DagsterUI:
    """A Dagster UI at ``url``: the one this stream started (``process``), or one already running."""

    def __init__(self, port: int, log_path: Path):
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.switched_on = False

    def graphql(self, query: str, variables: dict | None = None, timeout_s: float = 10.0) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(self.url + "/graphql", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return json.loads(response.read())

    def answers(self) -> bool:
        try:
            return "data" in self.graphql("{ version }", timeout_s=3)
        except (OSError, ValueError):
            return False

    def start(self, env: dict[str, str]) -> None:
        """``dagster dev`` on this port, its output in the log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "dagster", "dev", "-w", str(REPO_ROOT / "workspace.yaml")]
        command += ["-h", "127.0.0.1", "-p", str(self.port)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )

    def sensor(self, mutation: str = "") -> str:
        """The sensor's status (RUNNING/STOPPED), after ``mutation`` (startSensor, resetSensor) if given;
        raises LookupError while the code location is not loaded yet."""
        return self._sensor_state(mutation)["status"]

    def _sensor_state(self, mutation: str = "") -> dict:
        """The sensor's ``status`` and its latest tick's (``ticks``), after ``mutation`` if given."""
        selector = {"repositoryName": "__repository__", "repositoryLocationName": LOCATION, "sensorName": SENSOR}
        field = mutation or "sensorOrError"
        operation = "mutation" if mutation else "query"
        query = (
            f"{operation} ($s: SensorSelector!) {{ result: {field}(sensorSelector: $s) {{ __typename "
            "... on Sensor { sensorState { status ticks(limit: 1) { status } } } ... on Error { message } } }"
        )
        result = (self.graphql(query, {"s": selector}).get("data") or {}).get("result") or {}
        if result.get("__typename") != "Sensor":
            raise LookupError(result.get("message") or f"{SENSOR} not found in {self.url}")
        return result["sensorState"]

    def reset_sensor(self, timeout_s: float = RESET_TIMEOUT_S) -> None:
        """Reset the sensor to its default (stopped) and make it stay so.

        The daemon writes a sensor's state back as it read it when a tick starts, so a reset that lands
        during a tick is undone when the tick ends: the reset is repeated until the sensor is stopped
        with no tick in flight. Raises OSError/ValueError/LookupError if the UI does not answer, or
        TimeoutError if the sensor keeps running."""
        deadline = time.monotonic() + timeout_s
        state = self._sensor_state("resetSensor")
        while state["status"] == "RUNNING" or any(t["status"] == "STARTED" for t in state["ticks"]):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{SENSOR} still running {timeout_s:.0f} s after its reset")
            time.sleep(0.5)
            state = self._sensor_state("resetSensor")

    def switch_sensor_on(self, timeout_s: float = UI_START_TIMEOUT_S) -> None:
        """Wait for the UI and its code location, then start the sensor (if it is not running)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise StreamError(f"dagster dev exited with {self.process.returncode}; see {self.log_path}")
            try:
                if self.sensor() != "RUNNING":
                    self.sensor("startSensor")
                    self.switched_on = True
                return
            except (OSError, ValueError, LookupError) as exc:
                if time.monotonic() > deadline:
                    raise StreamError(
                        f"the Dagster UI at {self.url} is not ready after {timeout_s:.0f} s: {exc}"
                    ) from None
            time.sleep(1)

    def active_runs(self) -> list[str]:
        query = "query ($s: [RunStatus!]) { runsOrError(filter: {statuses: $s}) { ... on Runs { results { runId } } } }"
        runs = (self.graphql(query, {"s": ACTIVE_RUN_STATUSES}).get("data") or {}).get("runsOrError") or {}
        return [r["runId"] for r in runs.get("results", [])]

    def finish_runs(self, again: threading.Event, echo: Echo) -> None:
        """Give the queued and running runs a few seconds (a second Ctrl-C sets ``again``), then mark the
        rest cancelled just before ``dagster dev`` stops: runs it cuts off would otherwise show as
        failures, with a stack trace, in the next session. (Cancelling earlier and waiting is no use:
        ``marts_follow_sensor`` requests a new dbt run for every cancelled one.)"""
        with contextlib.suppress(OSError, ValueError):
            deadline = time.monotonic() + FINISH_TIMEOUT_S
            if active := self.active_runs():
                wait = f"up to {FINISH_TIMEOUT_S:.0f} s; Ctrl-C again to cancel them now"
                echo(f"  letting {len(active)} run(s) finish ({wait})")
            while active and time.monotonic() < deadline and not again.is_set():
                time.sleep(1)
                active = self.active_runs()
            if active:
                mutation = (
                    "mutation ($ids: [String!]!) "
                    "{ terminateRuns(runIds: $ids, terminatePolicy: MARK_AS_CANCELED_IMMEDIATELY) { __typename } }"
                )
                self.graphql(mutation, {"ids": active})
                echo(f"  cancelled {len(active)} run(s)")

    def stop(self, again: threading.Event, echo: Echo) -> None:
        """Reset the sensor if this stream switched it on; finish or cancel the runs of the ``dagster
        dev`` this stream started, then stop it."""
        if self.switched_on:
            try:
                self.reset_sensor()
            except (OSError, ValueError, LookupError) as exc:  # the UI is gone: its stored state stays on
                echo(f"  {SENSOR} could not be reset ({exc}): the next stream resets it, or stop it in the UI")
            self.switched_on = False
        if self.process is None:
            return
        if self.process.poll() is None:
            self.finish_runs(again, echo)
        stop_session(self.process, grace_s=20)
        self.process = None


def stop_session(process: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM the session (process group) a child leads, so its own children stop too; SIGKILL after
    ``grace_s``. The group id is the child's pid: only processes this command started are signalled."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        except ProcessLookupError:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):  # children that outlived their parent
        os.killpg(process.pid, signal.SIGKILL)


def child_env(settings: Settings, broker: Broker, dagster_home: Path) -> dict[str, str]:
    """The environment of ``dagster dev``: this deployment's paths and instance, and the stream's broker."""
    env = dict(os.environ)
    env.update(
        DAGSTER_HOME=str(dagster_home),
        SHOPPER_DATA_DIR=str(settings.data_dir),
        SHOPPER_DUCKDB_PATH=str(settings.duckdb_path),
        KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
        SHOPPER_KAFKA_TOPICS=",".join(settings.kafka_topics),
    )
    if broker.local is not None and not settings.kafka_consumer_config:
        env["SHOPPER_KAFKA_CONSUMER_CONFIG"] = TANSU_CONSUMER_CONFIG
    return env


def watch_line(ui_url: str) -> str:
    hour = datetime.now(UTC).strftime("%Y-%m-%d-%H:00")
    return (
        f"Watch: {ui_url}/assets/{WATCH_ASSET}?view=partitions&partition={hour} (this hour fills as the sensor "
        f"lands events; runs at {ui_url}/runs). Ctrl-C stops the stream."
    )


def run_stream(
    settings: Settings,
    *,
    rate: float,
    duration: float | None = None,
    ui: bool = True,
    ui_port: int = 3000,
    seed: int | None = None,
    echo: Echo = print,
) -> bool:
    """Run the stream until Ctrl-C or ``duration``; True when every event sent was delivered."""
    import math
    import secrets

    from confluent_kafka import KafkaException
    from tqdm import tqdm

    if settings.env != "local":
        raise StreamError(
            f"shopper stream runs on the embedded default (SHOPPER_ENV=local, not {settings.env!r}); "
            "send events to your broker with shopper produce"
        )
    log_dir = settings.data_dir / "logs"
    topic = settings.kafka_topics[0]
    report = broker = dagster_ui = None
    with stop_on_signals() as stopping:  # Ctrl-C / SIGTERM: stop producing, then clean up (never mid-way)
        try:
            broker = start_broker(settings, log_dir, echo)
            try:
                ensure_topic(broker.bootstrap, topic)
            except (KafkaException, TimeoutError) as exc:
                raise StreamError(f"could not create topic {topic} at {broker.bootstrap}: {exc}") from None
            if ui:
                dagster_ui = DagsterUI(ui_port, log_dir / "dagster-dev.log")
                if dagster_ui.answers():
                    echo(f"Dagster UI: already running at {dagster_ui.url}; switching {SENSOR} on there")
                else:
                    home = ensure_dagster_home(settings)
                    dagster_ui.start(child_env(settings, broker, home))
                    echo(f"Dagster UI: starting at {dagster_ui.url} (DAGSTER_HOME={home}; log {dagster_ui.log_path})")
                threading.Thread(target=_announce, args=(dagster_ui, tqdm.write), daemon=True).start()
            else:
                echo(
                    f"No UI started (--no-ui): in a Dagster UI whose KAFKA_BOOTSTRAP_SERVERS is {broker.bootstrap}, "
                    f"switch on Automation → {SENSOR}."
                )
            if not stopping.is_set():
                echo(f"Producing {rate:g} events/s stamped at now to {topic} at {broker.bootstrap}; Ctrl-C stops")
                report = produce_events(
                    Settings(kafka_bootstrap_servers=broker.bootstrap, kafka_topics=settings.kafka_topics),
                    rate=rate,
                    duration=duration or math.inf,
                    topic=topic,
                    seed=secrets.randbelow(1_000_000) if seed is None else seed,
                    stop_event=stopping,
                )
        finally:
            parts = [
                *(["the Kafka sensor"] if dagster_ui is not None else []),
                *(["dagster dev"] if dagster_ui is not None and dagster_ui.process is not None else []),
                *(["the local broker"] if broker is not None and broker.local is not None else []),
            ]
            if parts:
                echo("Stopping " + ", ".join(parts))
            if dagster_ui is not None:
                stopping.clear()  # from here, a Ctrl-C means "do not wait for the runs"
                dagster_ui.stop(stopping, echo)
            if broker is not None and broker.local is not None:
                broker.local.stop()
    if report is None:
        echo("Stream stopped before any event was sent")
        return True
    echo(
        f"Stream stopped: {report.delivered:,} events delivered, {report.failed:,} failed, "
        f"in {report.seconds:.0f} s ({report.rate:,.0f} events/s)"
    )
    for error in report.errors:
        echo(f"  error: {error}")
    return report.failed == 0


def _announce(dagster_ui: DagsterUI, write: Echo) -> None:
    """Switch the sensor on once the UI is up, then say where to watch (on a daemon thread)."""
    try:
        dagster_ui.switch_sensor_on()
    except StreamError as exc:
        write(f"Dagster UI: {exc}")
        return
    write(watch_line(dagster_ui.url))
