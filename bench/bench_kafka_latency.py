"""Event-to-mart latency with ``dagster dev`` running: produced to Kafka → visible in orders_per_hour.

    python bench/bench_kafka_latency.py --rate 1000 --duration 300

Starts a tansu broker (or uses ``--bootstrap``), a temporary data dir and DAGSTER_HOME (seeded from
the repo's dagster.yaml), runs ``dagster dev`` on the project (webserver + daemon), starts
``kafka_landing_sensor`` and produces contract events at a steady ``--rate`` with event_time = the
moment each is sent; every ``--purchase-every``-th event is a purchase with its own order id. Nothing
is triggered by hand: the sensor lands batches and requests the lake runs, marts_follow_sensor
(and declarative automation, should it find anything left) runs dbt. Every second a poller reads
``orders`` of the bench's hours from a snapshot copy of the DuckDB warehouse (a copy, so the poller
never holds the file a dbt run wants to write). The k-th purchase is visible once the orders
counted reach k, so its latency is that moment minus the moment it was sent. Prints p50, p90,
p99 and max over the purchases sent, and how many became visible.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime

import duckdb
import numpy as np
from common import stop_dagster_dev  # bench/common.py
from confluent_kafka import Producer

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.kafka.broker starts tansu

from shopper_assets.transform.kpis import MARTS_SCHEMA  # noqa: E402
from tests.kafka.broker import KafkaBroker  # noqa: E402

BIN = pathlib.Path(sys.executable).parent
USERS = 5000
TICK_S = 0.01  # the producer sends what is due every 10 ms


def event(i: int, at: datetime, run: str, purchase: bool) -> bytes:
    """One contract event sent at ``at``: a page view, or a one-line purchase (its own order)."""
    e = {
        "event_id": f"lat-{run}-{i:09d}",
        "event_type": "purchase" if purchase else "page_view",
        "event_time": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
        "user_id": f"u-{i % USERS:05d}",
        "session_id": f"s-{run}-{i % USERS:05d}",  # one visit per shopper for the whole run
        "page": "confirmation" if purchase else "home",
        "device_type": "mobile",
        "referrer": "direct",
        "user_type": "returning",
        "schema_version": 1,
    }
    if purchase:
        e.update(product_id="p-000001", category="books", price=10.0, quantity=1, order_id=f"o-{run}-{i:09d}")
    return json.dumps(e, separators=(",", ":")).encode()


def produce(bootstrap: str, topic: str, rate: float, duration: float, every: int, run: str) -> list[float]:
    """Send at a steady rate, in ticks of ``TICK_S`` (each sends the events due by then, stamped with
    the moment it is sent); returns the send times (epoch s) of the purchases, in order.

    A sleep per event and a 5 ms linger cost the producer and the local broker a third of a core at
    1k events/s, on the machine being measured; ticks and a 50 ms linger cost a tenth of that, and
    the linger counts in the latency measured (it starts when an event is handed to the producer).
    """
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "enable.idempotence": True})
    sent_purchases: list[float] = []
    t0 = time.time()
    total = int(rate * duration)
    i = 0
    while i < total:
        now = time.time()
        due = min(total, int((now - t0) * rate) + 1)  # events due by now
        stamp = datetime.fromtimestamp(now, UTC)
        for k in range(i, due):
            purchase = k % every == 0
            producer.produce(topic, event(k, stamp, run, purchase), key=f"u-{k % USERS}")
            if purchase:
                sent_purchases.append(now)
        i = due
        producer.poll(0)
        time.sleep(max(0.0, now + TICK_S - time.time()))
    remaining = producer.flush(30)
    if remaining:
        raise SystemExit(f"{remaining} messages not delivered")
    return sent_purchases


def warehouse_version(duckdb_path: pathlib.Path) -> tuple[int, ...] | None:
    """(mtime, size) of the warehouse file and its WAL: the poller copies the warehouse only when
    this changes, so measuring costs the machine next to nothing between dbt runs."""
    stats = [p.stat() for p in (duckdb_path, duckdb_path.with_name(duckdb_path.name + ".wal")) if p.exists()]
    return tuple(v for st in stats for v in (st.st_mtime_ns, st.st_size)) or None


def count_orders(duckdb_path: pathlib.Path, scratch: pathlib.Path, since: datetime) -> int | None:
    """Orders in orders_per_hour from ``since``'s hour on, read from a snapshot copy of the warehouse."""
    if not duckdb_path.exists():
        return None
    snap = scratch / "snapshot.duckdb"
    try:
        shutil.copyfile(duckdb_path, snap)
        wal = duckdb_path.with_name(duckdb_path.name + ".wal")
        snap_wal = snap.with_name(snap.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, snap_wal)
        elif snap_wal.exists():
            snap_wal.unlink()
        with duckdb.connect(str(snap), read_only=True) as con:
            hour = since.replace(minute=0, second=0, microsecond=0, tzinfo=None)
            row = con.execute(
                f"SELECT sum(orders) FROM {MARTS_SCHEMA}.orders_per_hour WHERE event_hour >= ?", [hour]
            ).fetchone()
        return int(row[0] or 0)
    except (duckdb.Error, OSError):  # not built yet, or copied mid-write: try again next second
        return None


def run_stages(home: pathlib.Path) -> list[str]:
    """Median seconds of each stage of the lake and dbt runs, from the instance's event log: where
    a purchase's latency goes (queued = created until the run coordinator launched it)."""
    from dagster import DagsterInstance

    stages = {"queued": ("", "RUN_STARTING"), "process start": ("RUN_STARTING", "RUN_START")}
    stages |= {"wait for the pool": ("RUN_START", "STEP_START"), "steps": ("STEP_START", "STEP_SUCCESS")}
    found: dict[str, dict[str, list[float]]] = {}
    with DagsterInstance.from_config(str(home)) as instance:
        for record in instance.get_run_records():
            run = record.dagster_run
            kind = "lake run" if run.tags.get("shopper/lake_step") else "dbt run"
            if run.tags.get("shopper/dbt_tests"):
                kind += f" (dbt tests {run.tags['shopper/dbt_tests']})"
            at: dict[str, float] = {"": record.create_timestamp.timestamp()}
            for entry in instance.all_logs(run.run_id):
                name = entry.dagster_event.event_type.name if entry.dagster_event else ""
                if name == "STEP_SUCCESS" or (name and name not in at):
                    at[name] = entry.timestamp  # first of each, last STEP_SUCCESS
            for stage, (start, end) in stages.items():
                if start in at and end in at:
                    found.setdefault(kind, {}).setdefault(stage, []).append(at[end] - at[start])
    return [
        f"  {kind}: {len(next(iter(by_stage.values())))} runs; median "
        + ", ".join(f"{stage} {np.median(v):.1f} s" for stage, v in by_stage.items())
        for kind, by_stage in sorted(found.items())
    ]


def percentiles(latencies: list[float]) -> str:
    p = np.percentile(latencies, [50, 90, 99])
    return f"p50 {p[0]:.1f} s  p90 {p[1]:.1f} s  p99 {p[2]:.1f} s  max {max(latencies):.1f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of producing")
    parser.add_argument("--purchase-every", type=int, default=10)
    parser.add_argument("--drain", type=float, default=180.0, help="seconds to wait for the last purchases")
    parser.add_argument("--bootstrap", help="an existing broker instead of a local tansu")
    parser.add_argument("--keep", type=pathlib.Path, help="use this directory and keep it")
    args = parser.parse_args()

    work = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="bench-latency-"))
    work.mkdir(parents=True, exist_ok=True)
    home = work / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    broker = KafkaBroker(external=args.bootstrap, log_dir=work)
    broker.start()
    topic = broker.create_topic(f"latency.{uuid.uuid4().hex[:8]}", partitions=3)
    overrides = ",".join(f"{k}={v}" for k, v in broker.consumer_config.items())
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SHOPPER_DATA_DIR": str(work / "data"),
        "SHOPPER_START_DATE": datetime.now(UTC).date().isoformat(),
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "SHOPPER_KAFKA_TOPICS": topic,
        "SHOPPER_KAFKA_CONSUMER_CONFIG": overrides,
    }
    duckdb_path = work / "data" / "shopper.duckdb"
    # Create the instance's storage first, so dagster dev and the CLI below do not both initialise it.
    subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=env, check=True, capture_output=True)
    dev = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-m", "shopper_assets.definitions", "-p", "3999"],
        cwd=ROOT,
        env=env,
        stdout=open(work / "dagster_dev.log", "wb"),  # noqa: SIM115 - handed to the child
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        started = time.time()
        while True:  # the code location must load before the sensor can be started
            r = subprocess.run(
                [str(BIN / "dagster"), "sensor", "start", "kafka_landing_sensor", "-m", "shopper_assets.definitions"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            if r.returncode == 0:
                break
            if time.time() - started > 120:
                raise SystemExit(f"could not start the sensor: {r.stderr[-2000:]}")
            time.sleep(2)
        print(f"dagster dev up, sensor started; producing {args.rate:,.0f} events/s for {args.duration:.0f} s")
        since = datetime.now(UTC)
        visible: list[tuple[float, int]] = []
        stop = threading.Event()

        def poll() -> None:
            scratch = pathlib.Path(tempfile.mkdtemp(dir=work))
            counted_version = None
            while not stop.is_set():
                version = warehouse_version(duckdb_path)
                if version != counted_version:
                    n = count_orders(duckdb_path, scratch, since)
                    if n is not None:
                        visible.append((time.time(), n))
                        counted_version = version
                stop.wait(1.0)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        run = uuid.uuid4().hex[:6]
        sent = produce(broker.bootstrap, topic, args.rate, args.duration, args.purchase_every, run)
        print(f"produced; {len(sent):,} purchases; waiting up to {args.drain:.0f} s for them to reach the mart")
        deadline = time.time() + args.drain
        while time.time() < deadline and (not visible or visible[-1][1] < len(sent)):
            time.sleep(1)
        stop.set()
        poller.join()
    finally:
        stop_dagster_dev(dev)
        broker.stop()

    latencies, sent_at = [], []
    for k, t_sent in enumerate(sent, start=1):  # first poll at which at least k orders were counted
        seen = next((t for t, n in visible if n >= k and t >= t_sent), None)
        if seen is not None:
            latencies.append(seen - t_sent)
            sent_at.append(t_sent - sent[0])
    print("run stages:", *run_stages(home), sep="\n")
    print(f"purchases visible in orders_per_hour: {len(latencies):,} of {len(sent):,}")
    if latencies:
        print(f"event-to-mart latency: {percentiles(latencies)}")
        # the day and the hour fill up as the stream goes on: show whether latency drifts with them
        for minute in range(int(max(sent_at) // 60) + 1):
            window = [lat for lat, at in zip(latencies, sent_at, strict=True) if minute * 60 <= at < minute * 60 + 60]
            if window:
                print(f"  sent in minute {minute + 1}: {percentiles(window)}")
    print(f"logs and data in {work}")
    if not args.keep and len(latencies) == len(sent):
        shutil.rmtree(work, ignore_errors=True)
    return 0 if len(latencies) == len(sent) else 1


if __name__ == "__main__":
    raise SystemExit(main())
