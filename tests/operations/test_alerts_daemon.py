"""Alerts end to end under a real ``dagster-daemon``: breaking things on purpose yields one alert per
incident at a real webhook receiver, Slack's Web API (a stand-in on loopback, called through
dagster-slack) and a real SMTP server (aiosmtpd), within a minute, and fixing it one "resolved".

* an hour with a file of invalid lines fails its blocking ``quarantine_ratio`` check: one
  ``check_failed``, however often the hour is re-run while broken; fixed, one ``resolved``;
* a lake run that cannot write the warehouse: one ``run_failed``; fixed, one ``resolved``;
* the Kafka broker killed under the running ``kafka_landing_sensor``: one ``kafka_unavailable``;
  the broker back, one ``resolved``;
* ``ad_spend`` older than its freshness policy (1 minute here): one ``stale``; refreshed, ``resolved``.

The daemon runs the repo's workspace on its own instance, with runs that sensors request kept in the
queue (``max_concurrent_runs: 0``): the test launches the runs it breaks itself, in this process,
and the dbt runs the automation would start meanwhile would only cost the 2 cores time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, AssetRecordsFilter, AssetSelection, DagsterInstance, materialize

from shopper_assets.deployments import resources_for
from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.settings import Settings
from shopper_assets.storage.lake_store import LocalLakeStore
from tests.built import ad_spend, lake_step, landing_ad_spend, landing_events
from tests.conftest import write_landing_file
from tests.kafka.broker import EXTERNAL_ENV, KafkaBroker
from tests.lake.events import event
from tests.operations.receivers import HttpReceiver, SmtpReceiver, http_receiver, smtp_receiver
from tests.serving.servers import ROOT, local_env, stop_tree

pytestmark = pytest.mark.slow

DAY = date(2026, 11, 20)
CHECK_HOUR, RUN_HOUR = datetime(2026, 11, 20, 13), datetime(2026, 11, 20, 14)
WITHIN = 60  # seconds from the breakage to the alert at the receiver
LAKE = AssetSelection.assets(lake_step) | AssetSelection.checks_for_assets(lake_step)


@dataclass
class Platform:
    root: Path
    http: HttpReceiver
    smtp: SmtpReceiver
    broker: KafkaBroker
    topic: str
    env: dict[str, str]
    daemon_log: Path
    ad_spend_at: float  # when ad_spend was last materialized (its freshness window starts there)

    @property
    def instance(self) -> DagsterInstance:
        return DagsterInstance.get()

    def alerts(self, incident: str) -> list[dict]:
        return [a for a in self.http.webhook.snapshot() if a["incident"] == incident]

    def wait_alert(self, incident: str, status: str, timeout: float = WITHIN) -> dict:
        return self.http.webhook.wait_for(
            lambda a: a["incident"] == incident and a["status"] == status, timeout, f"{status} alert of {incident}"
        )


def _instance_yaml(home: Path) -> None:
    """The repo's dagster.yaml, with queued runs left in the queue (see the module doc)."""
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    config["concurrency"]["runs"]["max_concurrent_runs"] = 0
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


def _wait_for_line(log: Path, text: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None:
            raise RuntimeError(f"dagster-daemon exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} not in the daemon's log after {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def _land_ad_spend(root: Path) -> None:
    csv = "date,campaign_id,ad_id,impressions,clicks,spend,currency\n2026-11-20,c-1,ad-1,100,5,12.50,USD\n"
    LocalLandingZone(data_dir=str(root)).write_ad_spend(DAY, "spend.csv", csv.encode())


def _materialize_ad_spend(root: Path) -> float:
    result = materialize(
        [landing_ad_spend, ad_spend],
        partition_key=DAY.isoformat(),
        resources=resources_for(Settings.from_env()),
        instance=DagsterInstance.get(),
    )
    assert result.success
    return time.time()


@pytest.fixture(scope="module")
def platform(tmp_path_factory) -> Iterator[Platform]:
    if sys.platform != "linux":
        pytest.skip("runs tansu and dagster-daemon as Linux processes")
    root = tmp_path_factory.mktemp("operations") / "data"
    root.mkdir()
    with (
        http_receiver() as http,
        smtp_receiver() as smtp,
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.delenv(EXTERNAL_ENV, raising=False)
        broker = KafkaBroker(log_dir=root.parent).start()
        topic = broker.create_topic(partitions=1)
        env = local_env(
            root,
            SHOPPER_ALERT_WEBHOOK_URL=http.webhook_url,
            SHOPPER_ALERT_SLACK_TOKEN="xoxb-ops-test",
            SHOPPER_ALERT_SLACK_CHANNEL="#shopper-alerts",
            SHOPPER_ALERT_SLACK_API_URL=http.slack_api_url,
            SHOPPER_ALERT_SMTP_HOST=smtp.host,
            SHOPPER_ALERT_SMTP_PORT=str(smtp.port),
            SHOPPER_ALERT_SMTP_SECURITY="none",
            SHOPPER_ALERT_EMAIL_TO="oncall@example.com",
            SHOPPER_UI_URL="http://dagster.example:3000",
            SHOPPER_FRESHNESS_AD_SPEND_MINUTES="1",  # Dagster's least; the other layers keep their defaults
            FRESHNESS_DAEMON_INTERVAL_SECONDS="5",  # Dagster's freshness daemon (default 30 s)
            KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
            SHOPPER_KAFKA_TOPICS=topic,
            SHOPPER_KAFKA_CONSUMER_CONFIG=",".join(f"{k}={v}" for k, v in broker.consumer_config.items()),
        )
        _instance_yaml(root / "dagster_home")
        for name in ("SHOPPER_DATA_DIR", "SHOPPER_DUCKDB_PATH", "DAGSTER_HOME", "SHOPPER_ALERT_WEBHOOK_URL"):
            mp.setenv(name, env[name])

        _land_ad_spend(root)
        ad_spend_at = _materialize_ad_spend(root)  # its 1-minute freshness window starts now

        log = root.parent / "daemon.log"
        with open(log, "w") as out:
            daemon = subprocess.Popen(
                [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(ROOT / "workspace.yaml")],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_for_line(log, "Checking for new runs for sensor: alert_sensor", daemon, timeout=240)
            yield Platform(root, http, smtp, broker, topic, env, log, ad_spend_at)
        finally:
            stop_tree(daemon)
            broker.stop()


def _lake_run(root: Path, hour: datetime, lake: LocalLakeStore | None = None):
    resources = resources_for(Settings.from_env())
    if lake is not None:
        resources["lake"] = lake
    return materialize(
        [landing_events, lake_step],
        selection=LAKE,
        partition_key=f"{hour:%Y-%m-%d-%H}:00",
        resources=resources,
        instance=DagsterInstance.get(),
        raise_on_error=False,
    )


def test_a_file_of_invalid_lines_alerts_once_and_its_fix_resolves(platform: Platform):
    root = platform.root
    write_landing_file(root, CHECK_HOUR, "good.jsonl.gz", [event(at=CHECK_HOUR) for _ in range(50)])
    bad = write_landing_file(root, CHECK_HOUR, "bad.jsonl.gz", [f"not json {i}" for i in range(60)])

    failed = _lake_run(root, CHECK_HOUR)
    broken_at = time.time()
    assert not failed.success
    incident = "check_failed:cleaned_events:2026-11-20-13:00"
    firing = platform.wait_alert(incident, "firing")
    assert firing["received_at"] - broken_at < WITHIN
    assert firing["kind"] == "check_failed" and firing["asset"] == "cleaned_events"
    assert firing["partition"] == "2026-11-20-13:00" and firing["run_id"] == failed.run_id
    assert firing["url"] == f"http://dagster.example:3000/runs/{failed.run_id}"
    assert firing["checks"] == ["cleaned_events:quarantine_ratio"] and "quarantine_ratio" in firing["message"]

    again = _lake_run(root, CHECK_HOUR)  # re-run while still broken: the same incident, nothing sent
    assert not again.success

    bad.unlink()  # the fix: the invalid file is withdrawn, and the hour re-run
    fixed = _lake_run(root, CHECK_HOUR)
    assert fixed.success
    resolved = platform.wait_alert(incident, "resolved")
    assert resolved["run_id"] == fixed.run_id and resolved["partition"] == "2026-11-20-13:00"
    assert [a["status"] for a in platform.alerts(incident)] == ["firing", "resolved"]

    # Slack and e-mail heard the same, once each (they are sent right after the webhook, in the same tick)
    expected = [
        "[FIRING] check_failed cleaned_events 2026-11-20-13:00",
        "[RESOLVED] check_failed cleaned_events 2026-11-20-13:00",
    ]

    def slack() -> list[str]:
        return [m["text"].splitlines()[0] for m in platform.http.slack.snapshot() if "2026-11-20-13:00" in m["text"]]

    def mails() -> list[str]:
        return [m["Subject"] for m in platform.smtp.messages.snapshot() if "2026-11-20-13:00" in m["Subject"]]

    platform.http.slack.wait_for(lambda _: len(slack()) >= 2, 30, "both Slack posts")
    platform.smtp.messages.wait_for(lambda _: len(mails()) >= 2, 30, "both e-mails")
    assert slack() == expected
    assert mails() == expected


def test_a_run_that_cannot_write_alerts_once_and_its_fix_resolves(platform: Platform):
    root = platform.root
    write_landing_file(root, RUN_HOUR, "good.jsonl.gz", [event(at=RUN_HOUR) for _ in range(30)])
    blocked = root / "blocked.duckdb"
    blocked.mkdir()  # a directory where the warehouse file should be: the run cannot publish the lake
    broken_lake = LocalLakeStore(data_dir=str(root), duckdb_path=str(blocked))

    failed = _lake_run(root, RUN_HOUR, broken_lake)
    broken_at = time.time()
    assert not failed.success
    incident = "run_failed:cleaned_events,quarantined_events,raw_events:2026-11-20-14:00"
    firing = platform.wait_alert(incident, "firing")
    assert firing["received_at"] - broken_at < WITHIN
    assert firing["kind"] == "run_failed" and firing["run_id"] == failed.run_id
    assert firing["partition"] == "2026-11-20-14:00" and "lake_step: _duckdb.IOException" in firing["message"]
    assert not _lake_run(root, RUN_HOUR, broken_lake).success  # still broken: no second alert

    fixed = _lake_run(root, RUN_HOUR)
    assert fixed.success
    assert platform.wait_alert(incident, "resolved")["run_id"] == fixed.run_id
    assert [a["status"] for a in platform.alerts(incident)] == ["firing", "resolved"]
    shutil.rmtree(blocked)


def _kafka_health(instance: DagsterInstance) -> dict | None:
    records = instance.fetch_observations(AssetRecordsFilter(asset_key=AssetKey("landing_events")), limit=1).records
    if not records:
        return None
    return {k: getattr(v, "value", v) for k, v in records[0].asset_observation.metadata.items()}


def test_a_killed_broker_alerts_once_and_its_return_resolves(platform: Platform):
    dagster = str(Path(sys.executable).with_name("dagster"))
    started = subprocess.run(
        [dagster, "sensor", "start", "kafka_landing_sensor", "-w", str(ROOT / "workspace.yaml")],
        env=platform.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert started.returncode == 0, started.stdout + started.stderr
    deadline = time.monotonic() + 90
    while not (_kafka_health(platform.instance) or {}).get("kafka_reachable"):
        log = platform.daemon_log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"no health record from the Kafka sensor:\n{log}"
        time.sleep(0.5)

    platform.broker.stop()
    killed_at = time.time()
    firing = platform.wait_alert("kafka_unavailable", "firing")
    assert firing["received_at"] - killed_at < WITHIN
    assert firing["kind"] == "kafka_unavailable" and firing["asset"] == "landing_events"
    assert platform.broker.bootstrap in firing["message"]

    platform.broker.start()  # tansu comes back empty: the topic is created again
    platform.broker.create_topic(platform.topic, partitions=1)
    platform.wait_alert("kafka_unavailable", "resolved", timeout=90)
    assert [a["status"] for a in platform.alerts("kafka_unavailable")] == ["firing", "resolved"]


def test_stale_ad_spend_alerts_once_and_a_refresh_resolves(platform: Platform):
    stale_from = platform.ad_spend_at + 60  # its policy: a materialization at least every minute
    firing = platform.wait_alert("stale:lake", "firing", timeout=max(stale_from - time.time(), 0) + WITHIN)
    assert 0 < firing["received_at"] - stale_from < WITHIN
    assert firing["kind"] == "stale" and firing["assets"] == ["ad_spend"]
    assert firing["url"] == "http://dagster.example:3000/assets/ad_spend"

    platform.ad_spend_at = _materialize_ad_spend(platform.root)
    platform.wait_alert("stale:lake", "resolved")
    assert [a["status"] for a in platform.alerts("stale:lake")] == ["firing", "resolved"]


def test_nothing_else_was_sent(platform: Platform):
    """Every alert belongs to one of the incidents above; every destination got each of them once."""
    sent = platform.http.webhook.snapshot()
    expected = {
        "check_failed:cleaned_events:2026-11-20-13:00",
        "run_failed:cleaned_events,quarantined_events,raw_events:2026-11-20-14:00",
        "kafka_unavailable",
        "stale:lake",
    }
    assert {a["incident"] for a in sent} <= expected, sent
    assert len({(a["incident"], a["status"]) for a in sent}) == len(sent)
    # Slack and e-mail get each alert right after the webhook (in the same tick)
    platform.http.slack.wait_for(lambda _: len(platform.http.slack.snapshot()) >= len(sent), 30, "every Slack post")
    platform.smtp.messages.wait_for(lambda _: len(platform.smtp.messages.snapshot()) >= len(sent), 30, "every e-mail")
    assert len(platform.http.slack.snapshot()) == len(sent) == len(platform.smtp.messages.snapshot())
    assert len(platform.http.webhook.snapshot()) == len(sent)
