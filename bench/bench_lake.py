"""Times generate → raw_events → cleaned_events (+ checks) for one day of N events.

    python bench/bench_lake.py --events-per-day 1000000 [--keep DIR] [--landing DATA_DIR] [--statements]

Prints seconds, events/s and the process's peak memory after each stage. ``--landing`` reads the
landing files of an earlier ``shopper generate`` (its data dir) instead of generating them;
``--statements`` also prints where the day's build spent its time, per SQL statement (summed over the
statements that differ only in their hour or file names), largest first. Stages run through the
same functions the Dagster assets call (lake.pipeline, quality.checks) on a LocalLakeStore. The
last stage lands one more file of ``--batch-events`` new events in the day's busiest hour and
times the hour's run, as the Kafka sensor triggers it: only the new file is read and cleaned.
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from common import report  # bench/common.py

from shopper_assets.generator import GeneratorConfig, write_landing
from shopper_assets.ingestion.landing import LocalLandingZone
from shopper_assets.lake.pipeline import clean_window, ingest_raw
from shopper_assets.quality.checks import CheckThresholds, run_all
from shopper_assets.quality.landing_checks import landing_reconciles
from shopper_assets.storage.lake_store import LocalLakeStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-day", type=int, default=1_000_000)
    parser.add_argument("--day", default="2026-11-20")
    parser.add_argument("--late-hours", type=int, default=6)
    parser.add_argument("--batch-events", type=int, default=5_000, help="events of the micro-batch stage")
    parser.add_argument("--keep", type=Path, help="use this data dir and keep it (default: a temp dir)")
    parser.add_argument("--landing", type=Path, help="the data dir of an earlier `shopper generate` (not changed)")
    parser.add_argument("--statements", action="store_true", help="print the build's seconds per SQL statement")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="shopper-bench-"))
    day = date.fromisoformat(args.day)
    start = datetime(day.year, day.month, day.day)
    end = start + timedelta(days=1)
    try:
        if args.landing:
            if not (args.landing / "landing" / "events").is_dir():
                parser.error(f"{args.landing} has no landing/events: pass the data dir `shopper generate` wrote")
            (root / "landing").symlink_to((args.landing / "landing").resolve())
        else:
            t = time.perf_counter()
            config = GeneratorConfig(start=day, events_per_day=args.events_per_day)
            report("generate (gzip JSONL)", time.perf_counter() - t, write_landing(config, root, progress=False).lines)

        store = LocalLakeStore(data_dir=str(root), duckdb_path=str(root / "shopper.duckdb"))
        statements = TimedStatements()
        with store.session() as session:
            if args.statements:
                session.con = statements.wrap(session.con)
            t = time.perf_counter()
            raw = ingest_raw(session, LocalLandingZone(data_dir=str(root)), start, end, args.late_hours)
            t_raw = time.perf_counter() - t
            report("raw_events", t_raw, raw.rows)
            t = time.perf_counter()
            landed = landing_reconciles(session, raw.versions, start, end, args.late_hours)
            report("landing reconciliation (check)", time.perf_counter() - t, raw.rows)
            t = time.perf_counter()
            stats = clean_window(session, start, end)
            t_clean = time.perf_counter() - t
            report("cleaned + quarantine", t_clean, stats.raw_rows)
            report("raw + cleaned", t_raw + t_clean, stats.raw_rows)
            t = time.perf_counter()
            results = list(run_all(session, start, end, CheckThresholds(), args.late_hours))
            report("asset checks", time.perf_counter() - t, stats.raw_rows)
        statements.print_largest()
        failed = [r.check_name for r in [landed, *results] if not r.passed]
        print(
            f"rows: raw {raw.rows:,}  cleaned {stats.cleaned_rows:,}  quarantined {stats.quarantined_rows:,}"
            f"  checks failed: {failed or 'none'}"
        )
        if not args.landing:  # it lands a file, and --landing's files are not ours to change
            micro_batch(root, store, args.batch_events, start, args.late_hours)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


class TimedStatements:
    """Seconds per SQL statement of a DuckDB connection (``wrap``), grouped by the statement's text with
    paths, timestamps and numbers blanked out, so the 24 hours' statements of one kind add up."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, con):
        timed = self

        class Timed:
            def execute(self, sql: str, *args, **kwargs):
                started = time.perf_counter()
                try:
                    return con.execute(sql, *args, **kwargs)
                finally:
                    timed.add(sql, time.perf_counter() - started)

            def __getattr__(self, name: str):
                return getattr(con, name)

        return Timed()

    def add(self, sql: str, seconds: float) -> None:
        target = re.search(r"\) TO '([^']+)'", sql)  # a lake write: named by the table it stages
        if target:
            kind = "COPY to " + target.group(1).rsplit("/", 1)[-1].split("-")[0]
        else:
            text = " ".join(re.sub(r"--[^\n]*", "", sql).split())  # without comments
            kind = re.sub(r"'[^']*'|\d+", "?", text)[:100]
        self.seconds[kind] = self.seconds.get(kind, 0.0) + seconds
        self.calls[kind] = self.calls.get(kind, 0) + 1

    def print_largest(self, count: int = 12) -> None:
        if not self.seconds:
            return
        print(f"\nSQL statements of the build, largest first ({sum(self.seconds.values()):.1f} s in all):")
        for kind, seconds in sorted(self.seconds.items(), key=lambda item: -item[1])[:count]:
            print(f"{seconds:8.2f} s  x{self.calls[kind]:<4} {kind}")
        print()


def micro_batch(root: Path, store: LocalLakeStore, events: int, day: datetime, late_hours: int) -> None:
    """One more landing file in the busiest hour (copies of its first lines under new event_ids)."""
    landing = LocalLandingZone(data_dir=str(root))
    with store.session() as session:
        raw = session.scan("raw_events", day, day + timedelta(days=1))
        (hour,) = session.con.execute(f"SELECT event_hour FROM ({raw}) GROUP BY 1 ORDER BY count(*) DESC").fetchall()[0]
    lines = gzip.decompress((root / "landing/events" / landing.list_files(hour)[0]).read_bytes()).splitlines()
    batch = [line.replace(b'"event_id":"', b'"event_id":"batch-', 1) for line in lines[:events]]
    landing.write_file(hour, "zz-micro-batch.jsonl.gz", gzip.compress(b"\n".join(batch) + b"\n"))
    end = hour + timedelta(hours=1)
    with store.session() as session:
        hour_rows = session.count("raw_events", hour, end)
        t = time.perf_counter()
        raw = ingest_raw(session, landing, hour, end, late_hours)
        t_raw = time.perf_counter() - t
        t = time.perf_counter()
        landing_reconciles(session, raw.versions, hour, end, late_hours)
        t_landed = time.perf_counter() - t
        t = time.perf_counter()
        stats = clean_window(session, hour, end)
        t_clean = time.perf_counter() - t
        t = time.perf_counter()
        list(run_all(session, hour, end, CheckThresholds(), late_hours))
        t_checks = time.perf_counter() - t
    assert raw.files_read == 1 and not stats.rebuilt, (raw, stats)
    label = f"micro-batch of {raw.rows_added:,} into an hour of {hour_rows:,}"
    report(f"{label}: raw", t_raw, raw.rows_added)
    report(f"{label}: landing reconciliation", t_landed, raw.rows_added)
    report(f"{label}: cleaned", t_clean, raw.rows_added)
    report(f"{label}: checks (the new batch; earlier ones are tallied)", t_checks, raw.rows_added)


if __name__ == "__main__":
    main()
