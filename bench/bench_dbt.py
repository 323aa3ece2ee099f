"""Benchmark of the dbt layer: time `dbt build` of one daily partition on N generated events/day.

    python bench/bench_dbt.py --events-per-day 1000000 [--days 2] [--dir /tmp/shopper-bench]

Builds a DuckDB warehouse whose lake.cleaned_events holds `--days` days of generated events
(shopper_assets.generator.simulate_events), then runs, as the Dagster daily partitions would:
every day but the last as a warm-up (untimed history), then the last day, timed. Prints wall
seconds, events/s, the CPU seconds of the dbt process and the slowest dbt nodes. Nothing is
written under the repo's data/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource as resource_usage
import shutil
import tempfile
import time
from pathlib import Path

from common import dbt_build_day  # bench/common.py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-day", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=2, help="days generated; the last one is timed")
    parser.add_argument("--start", default="2026-03-02", help="first day, YYYY-MM-DD")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dir", help="work folder (default: a new temp folder, removed afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--reuse", action="store_true", help="reuse the lake already loaded in --dir")
    parser.add_argument(
        "--vars", action="store_true", help="pass the window as --vars (full re-parse) instead of SHOPPER_DBT_*"
    )
    parser.add_argument("--top", type=int, default=12, help="slowest dbt nodes to list")
    args = parser.parse_args()

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="shopper-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "shopper.duckdb"
    os.environ["SHOPPER_ENV"] = "local"
    os.environ["SHOPPER_DATA_DIR"] = str(work)
    os.environ["SHOPPER_DUCKDB_PATH"] = str(db)

    from shopper_assets.generator import GeneratorConfig, simulate_events
    from shopper_assets.transform import dbt_resource
    from shopper_assets.transform.warehouse import load_events

    start = dt.date.fromisoformat(args.start)
    config = GeneratorConfig(start=start, days=args.days, events_per_day=args.events_per_day, seed=args.seed)
    t0 = time.perf_counter()
    if args.reuse and db.exists():
        import duckdb

        with duckdb.connect(str(db)) as con:
            for schema in ("staging", "intermediate", "marts"):
                con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            total = con.execute("SELECT count(*) FROM lake.cleaned_events").fetchone()[0]
        print(f"reusing {total:,} events in {db}")
    else:
        for suffix in ("", ".wal"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        total = load_events(db, simulate_events(config))
        print(f"loaded {total:,} events over {args.days} day(s) into {db} in {time.perf_counter() - t0:.1f} s")

    resource = dbt_resource()

    def build(day: dt.date) -> tuple[float, float, list[dict]]:
        """Runs dbt as the Dagster assets do; returns wall seconds, CPU seconds of dbt, results."""
        began, cpu0 = time.perf_counter(), resource_usage.getrusage(resource_usage.RUSAGE_CHILDREN)
        invocation = dbt_build_day(resource, day, work / "dbt_target", window_as_vars=args.vars)
        seconds = time.perf_counter() - began
        cpu1 = resource_usage.getrusage(resource_usage.RUSAGE_CHILDREN)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        results = invocation.get_artifact("run_results.json")["results"]
        bad = [r["unique_id"] for r in results if r["status"] not in ("success", "pass")]
        if bad or not invocation.is_successful():
            raise SystemExit(f"dbt build failed for {day}: {bad}")
        return seconds, cpu, results

    import duckdb

    for i in range(args.days):
        day = start + dt.timedelta(days=i)
        with duckdb.connect(str(db), read_only=True) as con:
            n = con.execute(
                "SELECT count(*) FROM lake.cleaned_events WHERE event_hour >= ? AND event_hour < ?",
                [day, day + dt.timedelta(days=1)],
            ).fetchone()[0]
        seconds, cpu, results = build(day)
        timed = i == args.days - 1
        label = "TIMED" if timed else "warm-up"
        print(
            f"[{label}] dbt build of {day}: {n:,} events in {seconds:.1f} s = {n / seconds:,.0f} events/s"
            f" (dbt process CPU {cpu:.1f} s; load average {os.getloadavg()[0]:.1f})"
        )
        if timed:
            models = sum(r["execution_time"] for r in results if r["unique_id"].startswith("model."))
            tests = sum(r["execution_time"] for r in results if r["unique_id"].startswith("test."))
            print(f"  node time (summed over 2 threads): models {models:.1f} s, tests {tests:.1f} s")
            print("  slowest nodes:")
            for r in sorted(results, key=lambda r: -r["execution_time"])[: args.top]:
                print(f"    {r['execution_time']:7.2f} s  {r['unique_id']}")
            print(
                json.dumps(
                    {
                        "day": day.isoformat(),
                        "events": n,
                        "seconds": round(seconds, 2),
                        "cpu_seconds": round(cpu, 2),
                        "events_per_second": round(n / seconds),
                    }
                )
            )
    if not args.dir and not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
