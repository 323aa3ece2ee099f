"""Event-to-mart latency with ``dagster dev`` running: produced to Kafka → visible in kpi_daily (issue 19).

    python bench/bench_kafka_latency.py --rate 1000 --duration 300 [--preload-events N | --preload-from DIR]

Starts a tansu broker (or uses ``--bootstrap``), a temporary data dir and DAGSTER_HOME (seeded from
the repo's dagster.yaml), runs ``dagster dev`` on the project (webserver + daemon), starts
``kafka_landing_sensor`` and produces contract events at a steady ``--rate`` with event_time = the
moment each is sent; every ``--purchase-every``-th event is a purchase with its own order id. Nothing
is triggered by hand: the sensor lands batches and requests the lake runs, marts_follow_sensor
(and declarative automation, should it find anything left) runs dbt. Every second a poller reads
``orders`` of today's row of kpi_daily, less the orders it held before producing began, from the
published copy of the marts readers use (the dbt step publishes it after each build; ``--read
warehouse``: from a snapshot copy of the DuckDB warehouse instead, as earlier versions did, which
sees a build before it is published, and copies a 1.2 GB file every second a 10M day's build writes
it). The k-th purchase is visible once that increase reaches k, so its latency is that moment
minus the moment it was sent. Prints p50, p90, p99 and max over the purchases sent, by minute of
producing (drift), how many became visible, the median stages of the runs and the seconds of each
dbt run's dbt step (what a micro-batch costs the marts).

Issue 19 asks for the same latency at the end of a day as at its start. ``--preload-events N`` first
fills today (UTC) with about N events of the hours before the current one, as a user would process a
batch: ``shopper generate`` of today with the events per day scaled so that those hours hold about N,
the landing folders of the current and later hours removed, then the lake step of those hours and
``marts_job`` of today through Dagster's CLI (bench_floor.py's commands) on the bench's instance and
data dir, before ``dagster dev`` starts. The preload is built in ``<dir>/preload`` and copied into the
run's data dir, so with ``--keep DIR`` it stays pristine and ``--preload-from DIR`` reuses it (today's
only: a preload of another day would not be the day the stream fills).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime

import duckdb
import numpy as np
import psutil
from common import (  # bench/common.py
    lake_step_args,
    lines_of,
    marts_job_args,
    platform_env,
    run_dagster,
    sample_tree,
    stop_dagster_dev,
    validate_definitions,
)
from confluent_kafka import Producer

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.kafka.broker starts tansu

from shopper_assets.generator.traffic import events_per_hour  # noqa: E402
from shopper_assets.ingestion.landing import LANDING_PREFIX  # noqa: E402
from shopper_assets.serving.local import CURRENT, LocalServing  # noqa: E402
from shopper_assets.sql_text import glob_literal  # noqa: E402
from shopper_assets.transform.kpis import MARTS_SCHEMA  # noqa: E402
from tests.kafka.broker import KafkaBroker  # noqa: E402

BIN = pathlib.Path(sys.executable).parent
USERS = 5000
TICK_S = 0.01  # the producer sends what is due every 10 ms
PRELOAD_MANIFEST = "preload.json"
DAILY_MODELS_STEP = "shopper_dbt_assets"  # the daily dbt models' step (transform/assets.py), kpi_daily among them


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


def count_orders(duckdb_path: pathlib.Path, scratch: pathlib.Path, day: date) -> int | None:
    """Orders of ``day``'s row of kpi_daily (0 before it has one), read from a snapshot copy of the warehouse."""
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
            row = con.execute(f"SELECT orders FROM {MARTS_SCHEMA}.kpi_daily WHERE event_date = ?", [day]).fetchone()
        return int(row[0] or 0) if row else 0
    except (duckdb.Error, OSError):  # not built yet, or copied mid-write: try again next second
        return None


def served_version(serving_dir: pathlib.Path) -> str | None:
    """The name of the published version readers see now (serving/local.py's CURRENT), None before the first."""
    try:
        return (serving_dir / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None


def count_served_orders(serving_dir: pathlib.Path, day: date) -> int | None:
    """Orders of ``day``'s row of kpi_daily (0 before it has one) in the published copy readers use
    (the API, the dashboard): what a user sees. Its catalog is small and never written again, so
    reading it costs next to nothing, unlike a copy of the warehouse (1.2 GB at a 10M preload)."""
    serving = LocalServing(serving_dir)
    try:
        version = serving.current()
        if version is None:
            return None
        with duckdb.connect(str(serving.catalog(version)), read_only=True) as con:
            row = con.execute(f"SELECT orders FROM {MARTS_SCHEMA}.kpi_daily WHERE event_date = ?", [day]).fetchone()
        return int(row[0] or 0) if row else 0
    except (duckdb.Error, OSError):  # a version collected meanwhile: try again next second
        return None


def preload_events_per_day(day: date, hours: int, events: int) -> int:
    """``shopper generate``'s events per day for which the first ``hours`` hours of ``day`` hold about
    ``events`` (the generator's diurnal curve and weekday factor: traffic.py)."""
    reference = 10_000_000
    return round(events * reference / int(events_per_hour(day, reference)[:hours].sum()))


def build_preload(target: pathlib.Path, day: date, hour: int, events: int) -> None:
    """Fill ``day``'s hours before ``hour`` with about ``events`` events in a fresh deployment under
    ``target`` (data/, dagster_home/) as a user processes a batch: generate, lake step, marts_job."""
    if hour == 0:
        raise SystemExit("no hour of today has ended yet (00:xx UTC): nothing to preload; try again after 01:00")
    shutil.rmtree(target, ignore_errors=True)
    data, home = target / "data", target / "dagster_home"
    env = platform_env(data, day, home)
    per_day = preload_events_per_day(day, hour, events)
    print(f"preload: today {day}, hours 00-{hour - 1:02d}: shopper generate --events-per-day {per_day:,}", flush=True)
    started = time.perf_counter()
    command = [str(BIN / "shopper"), "generate", "--start", day.isoformat(), "--events-per-day", str(per_day)]
    with (target / "generate.log").open("wb") as log:
        done = subprocess.run([*command, "--out", str(data)], env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"shopper generate failed: {(target / 'generate.log').read_text(errors='replace')[-2000:]}")
    generated = time.perf_counter() - started
    events_dir = data / LANDING_PREFIX
    for folder in sorted(events_dir.glob("date=*/hour=*")):  # the current and later hours, and tomorrow's spill
        folder_day, folder_hour = folder.parent.name.removeprefix("date="), int(folder.name.removeprefix("hour="))
        if folder_day > day.isoformat() or (folder_day == day.isoformat() and folder_hour >= hour):
            shutil.rmtree(folder)
    with duckdb.connect() as con:
        lines = con.execute(f"SELECT count(*) FROM {lines_of(glob_literal(events_dir, '*/*/*.jsonl.gz'))}").fetchone()[
            0
        ]
    print(f"preload: generated in {generated:.1f} s; {lines:,} lines kept in hours 00-{hour - 1:02d}", flush=True)
    validate_definitions(env, target / "validate.log")
    lake = run_dagster(lake_step_args(day, 0, hour - 1), target / "lake.log", env, "preload lake", lines)
    dbt = run_dagster(marts_job_args(day), target / "dbt.log", env, "preload dbt", lines)
    manifest = {"day": day.isoformat(), "hours": hour, "events_per_day": per_day, "lines": lines}
    manifest |= {"lake_seconds": round(lake.seconds, 1), "dbt_seconds": round(dbt.seconds, 1)}
    (target / PRELOAD_MANIFEST).write_text(json.dumps(manifest, indent=1))


def check_preload(source: pathlib.Path, day: date) -> dict:
    """The manifest of the preload built by ``build_preload`` in ``source`` (the ``--keep`` dir of the run
    that built it); refuses one of another day than ``day``."""
    manifest_path = source / "preload" / PRELOAD_MANIFEST
    if not manifest_path.exists():
        raise SystemExit(f"--preload-from {source}: no {manifest_path} (build one with --preload-events N --keep DIR)")
    manifest = json.loads(manifest_path.read_text())
    if manifest["day"] != day.isoformat():
        raise SystemExit(
            f"--preload-from {source}: its preload fills {manifest['day']}, but today (UTC) is {day}: "
            "the stream would not land in the preloaded day; build a new one with --preload-events N"
        )
    return manifest


def use_preload(source: pathlib.Path, work: pathlib.Path, day: date) -> None:
    """Copy the preload of ``source`` (``check_preload``) into ``work``'s data dir and instance."""
    manifest = check_preload(source, day)
    started = time.perf_counter()
    for part in ("data", "dagster_home"):
        shutil.rmtree(work / part, ignore_errors=True)
        shutil.copytree(source / "preload" / part, work / part, symlinks=True)
    size = sum(p.stat().st_size for p in (work / "data").rglob("*") if p.is_file())
    print(
        f"preload of {manifest['day']} hours 00-{manifest['hours'] - 1:02d} ({manifest['lines']:,} events; built "
        f"with lake {manifest['lake_seconds']} s, dbt {manifest['dbt_seconds']} s) copied in "
        f"{time.perf_counter() - started:.1f} s ({size / 2**30:.2f} GiB data dir)",
        flush=True,
    )
    return manifest


def run_stages(home: pathlib.Path, since: float) -> tuple[list[str], list[float]]:
    """Median seconds of each stage of the lake and dbt runs created from ``since`` (epoch s) on, from
    the instance's event log: where a purchase's latency goes (queued = created until the run
    coordinator launched it); and the seconds of each successful step of the daily dbt models (the
    micro-batch's cost in the marts), in the order of their runs' creation."""
    from dagster import DagsterInstance

    stages = {"queued": ("", "RUN_STARTING"), "process start": ("RUN_STARTING", "RUN_START")}
    stages |= {"wait for the pool": ("RUN_START", "STEP_START"), "steps": ("STEP_START", "STEP_SUCCESS")}
    found: dict[str, dict[str, list[float]]] = {}
    dbt_steps: list[tuple[float, float]] = []  # (created, seconds)
    with DagsterInstance.from_config(str(home)) as instance:
        for record in instance.get_run_records():
            created = record.create_timestamp.timestamp()
            if created < since:
                continue  # the preload's runs
            run = record.dagster_run
            kind = "lake run" if run.tags.get("shopper/lake_step") else f"{run.job_name} run"
            if run.tags.get("dagster/auto_materialize"):
                kind = "declarative automation run"
            if run.tags.get("shopper/dbt_tests"):
                kind += f" (dbt tests {run.tags['shopper/dbt_tests']})"
            at: dict[str, float] = {"": created}
            dbt_step: dict[str, float] = {}
            for entry in instance.all_logs(run.run_id):
                name = entry.dagster_event.event_type.name if entry.dagster_event else ""
                if name == "STEP_SUCCESS" or (name and name not in at):
                    at[name] = entry.timestamp  # first of each, last STEP_SUCCESS
                if name in ("STEP_START", "STEP_SUCCESS") and entry.step_key == DAILY_MODELS_STEP:
                    dbt_step[name] = entry.timestamp
            for stage, (start, end) in stages.items():
                if start in at and end in at:
                    found.setdefault(kind, {}).setdefault(stage, []).append(at[end] - at[start])
            if len(dbt_step) == 2:
                dbt_steps.append((created, dbt_step["STEP_SUCCESS"] - dbt_step["STEP_START"]))
    lines = [
        f"  {kind}: {len(next(iter(by_stage.values())))} runs; median "
        + ", ".join(f"{stage} {np.median(v):.1f} s" for stage, v in by_stage.items())
        for kind, by_stage in sorted(found.items())
    ]
    return lines, [seconds for _, seconds in sorted(dbt_steps)]


def dbt_step_figures(seconds: list[float]) -> str:
    """p50/p90/max of the dbt steps and their trend: the median of the first third of the runs against the last."""
    p50, p90 = np.percentile(seconds, [50, 90])
    text = f"{len(seconds)} runs; p50 {p50:.1f} s  p90 {p90:.1f} s  max {max(seconds):.1f} s"
    third = len(seconds) // 3
    if third:
        first, last = np.median(seconds[:third]), np.median(seconds[-third:])
        text += f"; median of the first {third} runs {first:.1f} s, of the last {third} {last:.1f} s"
    return text


def load_average() -> str:
    """The machine's load (2 cores, shared): latency figures are only comparable at a like load."""
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


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
    parser.add_argument(
        "--read",
        choices=("serving", "warehouse"),
        default="serving",
        help="where kpi_daily is read: the published copy readers use, or a snapshot copy of the DuckDB warehouse",
    )
    preload = parser.add_mutually_exclusive_group()
    preload.add_argument(
        "--preload-events", type=int, default=0, help="first fill today's hours before now with about N events"
    )
    preload.add_argument("--preload-from", type=pathlib.Path, help="the --keep dir of a --preload-events run of today")
    args = parser.parse_args()
    today = datetime.now(UTC).date()
    if args.preload_from:
        check_preload(args.preload_from, today)  # before anything is started or created

    work = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="bench-latency-"))
    work.mkdir(parents=True, exist_ok=True)
    home = work / "dagster_home"
    if args.preload_events or args.preload_from:
        if args.preload_events:
            build_preload(work / "preload", today, datetime.now(UTC).hour, args.preload_events)
        use_preload(args.preload_from or work, work, today)
    broker = KafkaBroker(external=args.bootstrap, log_dir=work)
    broker.start()
    topic = broker.create_topic(f"latency.{uuid.uuid4().hex[:8]}", partitions=3)
    overrides = ",".join(f"{k}={v}" for k, v in broker.consumer_config.items())
    env = {
        **platform_env(work / "data", today, home),
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "SHOPPER_KAFKA_TOPICS": topic,
        "SHOPPER_KAFKA_CONSUMER_CONFIG": overrides,
    }
    duckdb_path = work / "data" / "shopper.duckdb"
    # Create the instance's storage first, so dagster dev and the CLI below do not both initialise it.
    subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=env, check=True, capture_output=True)
    dev_started = time.time()
    dev = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-m", "shopper_assets.definitions", "-p", "3999"],
        cwd=ROOT,
        env=env,
        stdout=open(work / "dagster_dev.log", "wb"),  # noqa: SIM115 - handed to the child
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    tree_peak, process_peaks = 0, {}
    try:
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
            if time.time() - dev_started > 120:
                raise SystemExit(f"could not start the sensor: {r.stderr[-2000:]}")
            time.sleep(2)
        if args.read == "serving":
            version_of = functools.partial(served_version, work / "data" / "serving")
            count = functools.partial(count_served_orders, work / "data" / "serving", today)
        else:
            scratch = pathlib.Path(tempfile.mkdtemp(dir=work))
            version_of = functools.partial(warehouse_version, duckdb_path)
            count = functools.partial(count_orders, duckdb_path, scratch, today)
        before = count()
        for _ in range(30):  # a preloaded day must be read (a copy caught mid-write is retried)
            if before is not None or version_of() is None:
                break
            time.sleep(1)
            before = count()
        if before is None and version_of() is not None:
            raise SystemExit(f"could not read today's orders from the {args.read} before producing")
        before = before or 0
        print(f"dagster dev up, sensor started; {before:,} orders of today in kpi_daily ({args.read}) before producing")
        print(f"producing {args.rate:,.0f} events/s for {args.duration:.0f} s; {load_average()}", flush=True)
        visible: list[tuple[float, int]] = []
        stop = threading.Event()

        def poll() -> None:
            nonlocal tree_peak
            counted_version = None
            root = psutil.Process(dev.pid)
            while not stop.is_set():
                tree_peak = max(tree_peak, sample_tree(root, process_peaks))
                version = version_of()
                if version != counted_version:
                    n = count()
                    if n is not None:
                        visible.append((time.time(), n - before))
                        counted_version = version
                stop.wait(1.0)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        run = uuid.uuid4().hex[:6]
        sent = produce(broker.bootstrap, topic, args.rate, args.duration, args.purchase_every, run)
        print(f"produced; {len(sent):,} purchases; {load_average()}")
        print(f"waiting up to {args.drain:.0f} s for them to reach the mart", flush=True)
        deadline = time.time() + args.drain
        while time.time() < deadline and (not visible or visible[-1][1] < len(sent)):
            time.sleep(1)
        stop.set()
        poller.join()
    finally:
        stop_dagster_dev(dev)
        broker.stop()

    latencies, sent_at = [], []
    for k, t_sent in enumerate(sent, start=1):  # first poll at which at least k more orders were counted
        seen = next((t for t, n in visible if n >= k and t >= t_sent), None)
        if seen is not None:
            latencies.append(seen - t_sent)
            sent_at.append(t_sent - sent[0])
    stages, dbt_steps = run_stages(home, dev_started)
    print("run stages:", *stages, sep="\n")
    if dbt_steps:
        print(f"dbt step of each dbt run: {dbt_step_figures(dbt_steps)}")
    mib = 2**20
    print(
        f"dagster dev's process tree: peak (sampled every second) {tree_peak / mib:,.0f} MB, "
        f"largest process peak {max(process_peaks.values(), default=0) / mib:,.0f} MB"
    )
    print(f"purchases visible in kpi_daily: {len(latencies):,} of {len(sent):,}")
    if latencies:
        print(f"event-to-mart latency: {percentiles(latencies)}")
        # the day and the hour fill up as the stream goes on: show whether latency drifts with them
        minutes = max(1, math.ceil(args.duration / 60))  # a last tick a moment late counts in the last minute
        minute_of = [min(int(at // 60), minutes - 1) for at in sent_at]
        for minute in range(minutes):
            window = [lat for lat, m in zip(latencies, minute_of, strict=True) if m == minute]
            if window:
                print(f"  sent in minute {minute + 1}: {percentiles(window)}")
    if not args.keep and len(latencies) == len(sent):
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"logs and data in {work}")
    return 0 if len(latencies) == len(sent) else 1


if __name__ == "__main__":
    raise SystemExit(main())
