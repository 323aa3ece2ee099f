"""Benchmark of the analytics marts: a big day after weeks of history, and how the whole-history
marts grow with the history.

    python bench/bench_analytics.py [--history-days 30] [--events-per-day 10000000] \
        [--history-events-per-day N] [--checkpoints 7,14,30] [--dir /tmp/shopper-analytics]

Generates ``--history-days`` days (at ``--history-events-per-day``, default the same as
``--events-per-day``) and then one day at ``--events-per-day`` into ``lake.cleaned_events`` of a
DuckDB warehouse, with one continuous shopper population (returning customers, repeat purchases).
After each day it runs the daily dbt build of that day as the Dagster daily partition does; at
each checkpoint (days of history) and after the last day it also runs the whole-history build
(``shopper_history_dbt_assets``: customer_ltv, cohort_retention, revenue_monthly,
revenue_by_weekday, product_recommendations). Prints, for the last day, the daily build with the
time of every model (the analytics marts beside the existing ones), and the whole-history build
per model at every checkpoint with seconds per day of history, so linear growth can be read off.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
import time
from pathlib import Path

from common import dbt_build_day, peak_mb  # bench/common.py

ANALYTICS_DAILY = ("int_campaign_touches", "order_attribution", "campaign_performance_daily", "top_brands_daily",
                   "cart_abandonment_daily", "stg_ad_spend")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--events-per-day", type=int, default=10_000_000, help="events of the timed last day")
    parser.add_argument("--history-events-per-day", type=int, help="events per history day (default: the same)")
    parser.add_argument("--checkpoints", default="7,14,30", help="history days after which to time the history build")
    parser.add_argument("--start", default="2026-02-02", help="first history day, YYYY-MM-DD")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dir", help="work folder (default: a new temp folder, removed afterwards)")
    args = parser.parse_args()

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="shopper-analytics-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "shopper.duckdb"
    for suffix in ("", ".wal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.environ.update(SHOPPER_ENV="local", SHOPPER_DATA_DIR=str(work), SHOPPER_DUCKDB_PATH=str(db))

    import duckdb

    from shopper_assets.generator import GeneratorConfig, simulate_events
    from shopper_assets.transform import dbt_resource
    from shopper_assets.transform.assets import WHOLE_HISTORY
    from shopper_assets.transform.warehouse import create_ad_spend, create_cleaned_events, insert_events

    start = dt.date.fromisoformat(args.start)
    history_rate = args.history_events_per_day or args.events_per_day
    checkpoints = sorted({int(c) for c in args.checkpoints.split(",") if c} | {args.history_days})
    resource = dbt_resource()
    history_seconds: dict[int, dict[str, float]] = {}

    def history_build(days: int) -> None:
        began = time.perf_counter()
        invocation = resource.cli(["build", "--select", WHOLE_HISTORY], target_path=work / "t", raise_on_error=False)
        invocation.wait()
        wall = time.perf_counter() - began
        results = invocation.get_artifact("run_results.json")["results"]
        if not invocation.is_successful():
            failed = [r["unique_id"] for r in results if r["status"] not in ("success", "pass")]
            raise SystemExit(f"whole-history build failed: {failed}")
        per = model_times(results)
        per["(dbt build, wall)"] = wall
        history_seconds[days] = per
        print(f"  whole-history build after {days} days: {wall:.1f} s wall", flush=True)

    def day_config(first: dt.date, days: int, rate: int) -> GeneratorConfig:
        return GeneratorConfig(start=first, days=days, events_per_day=rate, seed=args.seed)

    with duckdb.connect(str(db)) as con:
        con.execute("SET TimeZone = 'UTC'")
        create_cleaned_events(con, replace=True)
        create_ad_spend(con)
    # one simulated population over all days when the rates agree; otherwise the big day is a second
    # simulation of the same seed (its users' ids overlap the history's, its state starts afresh)
    if history_rate == args.events_per_day:
        plan = [(day_config(start, args.history_days + 1, history_rate), args.history_days + 1)]
    else:
        plan = [(day_config(start, args.history_days, history_rate), args.history_days)]
        plan.append((day_config(start + dt.timedelta(days=args.history_days), 1, args.events_per_day), 1))
    loaded = 0
    day_index = 0
    for config, days in plan:
        hours = simulate_events(config)
        for d in range(days):
            day = config.start + dt.timedelta(days=d)
            t0 = time.perf_counter()
            n = 0
            with duckdb.connect(str(db)) as con:
                con.execute("SET TimeZone = 'UTC'")
                for _ in range(24):
                    table = next(hours)
                    n += insert_events(con, table, source_file="bench", first_line=loaded + n)
            loaded += n
            load_s = time.perf_counter() - t0
            began = time.perf_counter()
            invocation = dbt_build_day(resource, day, work / "t")
            seconds = time.perf_counter() - began
            results = invocation.get_artifact("run_results.json")["results"]
            if not invocation.is_successful():
                raise SystemExit(f"daily build of {day} failed")
            day_index += 1
            last = day_index == args.history_days + 1
            print(
                f"day {day_index:>3} {day}: {n:,} events loaded in {load_s:.1f} s, daily dbt build {seconds:.1f} s"
                f"{'  (TIMED)' if last else ''}",
                flush=True,
            )
            if last:
                _print_daily(results, seconds, n)
            if day_index in checkpoints and not last:
                history_build(day_index)
    history_build(args.history_days + 1)
    _print_history(history_seconds)
    print(f"peak RSS of this process {peak_mb():,.0f} MB; warehouse {db.stat().st_size / 2**30:.1f} GiB")
    if not args.dir:
        shutil.rmtree(work, ignore_errors=True)


def model_times(results: list[dict]) -> dict[str, float]:
    return {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results if r["unique_id"].startswith("model.")}


def _print_daily(results: list[dict], seconds: float, events: int) -> None:
    models = model_times(results)
    tests = sum(r["execution_time"] for r in results if r["unique_id"].startswith("test."))
    print(f"\nDaily build of the last day: {events:,} events, {seconds:.1f} s wall; node times (summed over threads):")
    for name, t in sorted(models.items(), key=lambda kv: -kv[1]):
        mark = "  <- analytics" if name in ANALYTICS_DAILY else ""
        print(f"  {t:7.2f} s  {name}{mark}")
    print(f"  {tests:7.2f} s  all tests")
    print(
        f"  analytics models {sum(t for n, t in models.items() if n in ANALYTICS_DAILY):.2f} s of "
        f"{sum(models.values()):.2f} s of models"
    )


def _print_history(history_seconds: dict[int, dict[str, float]]) -> None:
    days = sorted(history_seconds)
    names = sorted(history_seconds[days[0]])
    print("\nWhole-history build (seconds; s/day = seconds per day of history)")
    print(f"  {'model':<28}" + "".join(f"{f'{d} days':>12}{'s/day':>8}" for d in days))
    for name in names:
        row = "".join(f"{history_seconds[d][name]:12.2f}{history_seconds[d][name] / d:8.3f}" for d in days)
        print(f"  {name:<28}{row}")


if __name__ == "__main__":
    main()
