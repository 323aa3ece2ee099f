"""Times generate → raw_events → cleaned_events (+ checks) for one day of N events.

    python bench/bench_lake.py --events-per-day 1000000 [--keep DIR]

Prints seconds, events/s and the process's peak memory after each stage. Stages run through the
same functions the Dagster assets call (lake.pipeline, quality.checks) on a LocalLakeStore.
"""

from __future__ import annotations

import argparse
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
from shopper_assets.storage.lake_store import LocalLakeStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-day", type=int, default=1_000_000)
    parser.add_argument("--day", default="2026-11-20")
    parser.add_argument("--late-hours", type=int, default=6)
    parser.add_argument("--keep", type=Path, help="use this data dir and keep it (default: a temp dir)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="shopper-bench-"))
    day = date.fromisoformat(args.day)
    start = datetime(day.year, day.month, day.day)
    end = start + timedelta(days=1)
    try:
        t = time.perf_counter()
        summary = write_landing(GeneratorConfig(start=day, events_per_day=args.events_per_day), root, progress=False)
        n = summary.lines
        report("generate (gzip JSONL)", time.perf_counter() - t, n)

        store = LocalLakeStore(data_dir=str(root), duckdb_path=str(root / "shopper.duckdb"))
        with store.session() as session:
            t = time.perf_counter()
            raw = ingest_raw(session, LocalLandingZone(data_dir=str(root)), start, end, args.late_hours)
            t_raw = time.perf_counter() - t
            report("raw_events", t_raw, raw.rows)
            t = time.perf_counter()
            stats = clean_window(session, start, end)
            t_clean = time.perf_counter() - t
            report("cleaned + quarantine", t_clean, stats.raw_rows)
            report("raw + cleaned", t_raw + t_clean, stats.raw_rows)
            t = time.perf_counter()
            results = list(run_all(session, start, end, CheckThresholds(), args.late_hours))
            report("asset checks", time.perf_counter() - t, stats.raw_rows)
        failed = [r.check_name for r in results if not r.passed]
        print(
            f"rows: raw {raw.rows:,}  cleaned {stats.cleaned_rows:,}  quarantined {stats.quarantined_rows:,}"
            f"  checks failed: {failed or 'none'}"
        )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
