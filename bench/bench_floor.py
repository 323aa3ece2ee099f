"""The batch day side by side (issue 19): a bare DuckDB script against the platform run as a user runs it.

    python bench/bench_floor.py --events-per-day 10000000 [--landing DATA_DIR] [--stages]

On the same landing files (``shopper generate``'s: 23-field contract events, gzip JSONL in hour folders):

* **bare**: one DuckDB statement parses the day with the contract's columns, drops invalid rows,
  keeps one row per event (``DISTINCT ON (event_id)``) and writes hourly Parquet; then five KPI
  queries over that Parquet mirror ``kpi_daily``'s dau, sessions, orders, revenue, conversion_rate;
* **platform**: Dagster's command line on a fresh ``DAGSTER_HOME`` and data dir: ``dagster asset
  materialize`` of the lake step (raw_events, cleaned_events, quarantined_events and their checks) for
  the day's 24 hours in one run, then ``dagster job execute`` of ``marts_job`` for the day (ad spend and
  the daily dbt models, dbt tests as checks). Each command is timed from its start to its exit, process
  start and code location load included; the peak RSS of each is its process tree's (the steps run in
  the CLI process: ``in_process_with_heartbeat``; dbt in the subprocess dagster-dbt starts).

It prints each stage's seconds, the platform's total, the ratio platform / bare (issue 19's target:
<= 2.0), and the five KPIs of both side by side; it exits non-zero when they differ or a run fails,
since the comparison is only fair on equal results. ``--stages`` also times the floor's single
stages (parse only, every line to Parquet, typed rows to Parquet) as earlier versions did, and prints
the lake half against its own floor: the lake command / (every line to Parquet + the bare script's
parse → dedupe → Parquet), the least a raw layer and a cleaned layer write (the target stop 24's
note proposes for that half: <= 2.0; docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
from common import (  # bench/common.py
    Measured,
    lake_step_args,
    lines_of,
    marts_job_args,
    platform_env,
    report,
    run_dagster,
    validate_definitions,
)

from shopper_assets.contract.events import ALL, EVENT_FIELDS, EVENT_TYPES
from shopper_assets.generator import GeneratorConfig, write_landing
from shopper_assets.sql_text import glob_literal, literal, literal_list

KPIS = ("dau", "sessions", "orders", "revenue", "conversion_rate")


def bare_kpi_queries(parquet: str, day: date) -> dict[str, str]:
    """The five KPI queries of the bare script, one per figure, over its deduplicated hourly Parquet."""
    rows = f"read_parquet({parquet}, hive_partitioning = true) WHERE event_time::DATE = DATE '{day}'"
    purchase = "event_type = 'purchase'"
    return {
        "dau": f"SELECT count(DISTINCT user_id) FROM {rows}",
        "sessions": f"SELECT count(DISTINCT session_id) FROM {rows}",
        "orders": f"SELECT count(DISTINCT order_id) FILTER ({purchase}) FROM {rows}",
        "revenue": f"SELECT coalesce(sum(price * quantity) FILTER ({purchase}), 0) FROM {rows}",
        "conversion_rate": (
            f"SELECT count(DISTINCT session_id) FILTER ({purchase}) / count(DISTINCT session_id) FROM {rows}"
        ),
    }


def run_bare(files: str, day: date, work: Path, events: int, stages: bool) -> tuple[float, dict, dict[str, float]]:
    """The bare script: (its seconds, its KPIs, the seconds of its stages)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET temp_directory = {literal(work / 'tmp')}")
    types = {f.name: "TIMESTAMPTZ" if f.name == "event_time" else f.sql_type for f in EVENT_FIELDS}
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
    # lines that are not JSON objects of these types are dropped, as are rows breaking the contract's basics
    typed = f"read_json({files}, format = 'newline_delimited', columns = {columns}, ignore_errors = true)"
    required = " AND ".join(f"{f.name} IS NOT NULL" for f in EVENT_FIELDS if f.required_for == ALL)
    valid = (
        f"SELECT *, hour(event_time) AS h FROM {typed} WHERE {required} AND event_type IN {literal_list(EVENT_TYPES)}"
        " AND coalesce(price >= 0, true) AND coalesce(quantity >= 1, true)"
    )
    parquet = "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (h), OVERWRITE)"
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    print(f"\nbare DuckDB {duckdb.__version__} script on {threads} threads")
    timed = _floor_stages(con, files, typed, valid, parquet, work, events) if stages else {}

    started = time.perf_counter()
    kept = con.execute(
        f"COPY (SELECT DISTINCT ON (event_id) * FROM ({valid})) TO {literal(work / 'deduped')} {parquet}"
    ).fetchone()[0]
    timed["parse → dedupe → Parquet"] = time.perf_counter() - started
    report("parse → dedupe → Parquet", timed["parse → dedupe → Parquet"], events)
    t = time.perf_counter()
    queries = bare_kpi_queries(glob_literal(work / "deduped", "*/*.parquet"), day)
    kpis = {name: con.execute(sql).fetchone()[0] for name, sql in queries.items()}
    report("five KPI queries", time.perf_counter() - t, events)
    seconds = time.perf_counter() - started
    con.close()
    print(f"{'':<28} {kept:,} rows kept")
    return seconds, kpis, timed


def _floor_stages(con, files: str, typed: str, valid: str, parquet: str, work: Path, events: int) -> dict[str, float]:
    """The floor's single stages: parse only, every line as text to Parquet (the least a raw layer
    writes), typed valid rows to hourly Parquet (no dedupe). Returns their seconds."""
    lines = lines_of(files)
    timed = {}
    for stage, sql in [
        ("parse (read_json)", f"SELECT count(*) FROM {typed}"),
        ("raw lines → Parquet", f"COPY (SELECT line FROM {lines}) TO {literal(work / 'raw.parquet')} (FORMAT parquet)"),
        ("parse → Parquet", f"COPY ({valid}) TO {literal(work / 'typed')} {parquet}"),
    ]:
        t = time.perf_counter()
        con.execute(sql).fetchall()
        timed[stage] = time.perf_counter() - t
        report(stage, timed[stage], events)
    return timed


def run_platform(data_dir: Path, day: date, events: int) -> tuple[dict[str, Measured], dict]:
    """The lake step and the day's dbt graph through Dagster's command line: (per step, the day's kpi_daily)."""
    env = platform_env(data_dir, day)
    warm = validate_definitions(env, data_dir / "validate.log")
    print(f"\nplatform: Dagster CLI on a fresh instance; `dagster definitions validate` took {warm:.1f} s")
    commands = {"lake": lake_step_args(day), "dbt": marts_job_args(day)}
    measured = {step: run_dagster(args, data_dir / f"{step}.log", env, step, events) for step, args in commands.items()}
    _print_runs(env["DAGSTER_HOME"])
    with duckdb.connect(str(data_dir / "shopper.duckdb"), read_only=True) as con:
        row = con.execute(f"SELECT {', '.join(KPIS)} FROM marts.kpi_daily WHERE event_date = DATE '{day}'").fetchone()
    return measured, dict(zip(KPIS, row, strict=True)) if row else {}


def _print_runs(home: str) -> None:
    """Per run: its steps' seconds (what the command spent outside them is process start, code location load
    and run bookkeeping) and its checks, from the instance's event log."""
    os.environ["DAGSTER_HOME"] = home
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.get() as instance:
        for run in reversed(instance.get_runs()):
            events = [e for e in instance.all_logs(run.run_id) if e.dagster_event]
            starts = {e.step_key: e.timestamp for e in events if e.dagster_event_type == DagsterEventType.STEP_START}
            ends = {
                e.step_key: e.timestamp
                for e in events
                if e.dagster_event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE)
            }
            checks = [
                e.dagster_event.event_specific_data  # an AssetCheckEvaluation
                for e in events
                if e.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION
            ]
            failed = sum(not c.passed for c in checks)
            steps = ", ".join(f"{k} {ends[k] - starts[k]:.1f} s" for k in starts if k in ends)
            print(
                f"  run {run.run_id[:8]} {run.job_name}: {run.status.value}; steps: {steps}; "
                f"{len(checks)} checks, {failed} failed"
            )


def compare(bare: dict, platform: dict) -> bool:
    """Print the KPIs side by side; True when all five agree (revenue to the cent, the rate to 1e-9)."""
    print(f"\n{'KPI':<16} {'bare':>18} {'kpi_daily':>18}")
    same = bool(platform)
    for name in KPIS:
        b, p = bare.get(name), platform.get(name)
        if name == "revenue":
            equal = p is not None and _cents(b) == _cents(p)
        elif name == "conversion_rate":
            equal = p is not None and math.isclose(float(b), float(p), rel_tol=0, abs_tol=1e-9)
        else:
            equal = b == p
        same = same and equal
        print(f"{name:<16} {b!s:>18} {p!s:>18}{'' if equal else '  DIFFER'}")
    return same


def _cents(amount) -> Decimal:
    return Decimal(str(amount)).quantize(Decimal("0.01"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-day", type=int, default=1_000_000)
    parser.add_argument("--day", default="2026-11-20")
    parser.add_argument("--landing", type=Path, help="a data dir that already holds the day's landing files")
    parser.add_argument("--stages", action="store_true", help="also time the floor's single stages")
    args = parser.parse_args()
    day = date.fromisoformat(args.day)
    if args.landing and not any(args.landing.glob(f"landing/events/date={day}/*/*.jsonl.gz")):
        parser.error(
            f"{args.landing}/landing/events/date={day}/ holds no landing files: write them first with"
            f" `shopper generate --start {day} --events-per-day {args.events_per_day} --out {args.landing}`,"
            " or leave out --landing to generate them for this run only"
        )
    work = Path(tempfile.mkdtemp(prefix="shopper-floor-"))
    platform_dir = work / "platform"
    platform_dir.mkdir()
    try:
        if args.landing:
            (platform_dir / "landing").symlink_to((args.landing / "landing").absolute(), target_is_directory=True)
        else:
            generated = write_landing(GeneratorConfig(start=day, events_per_day=args.events_per_day), platform_dir)
            print(f"generated {generated.events:,} events in {generated.seconds:.1f} s")
        files = glob_literal(platform_dir, f"landing/events/date={day}/*/*.jsonl.gz")
        with duckdb.connect() as con:
            events = con.execute(f"SELECT count(*) FROM {lines_of(files)}").fetchone()[0]
        print(f"{events:,} landed lines of {day}; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")

        bare_seconds, bare_kpis, bare_stages = run_bare(files, day, work, events, args.stages)
        measured, platform_kpis = run_platform(platform_dir, day, events)
        total = sum(m.seconds for m in measured.values())
        print()
        report("platform total", total, events, peak=max(m.process_peak_mb for m in measured.values()))
        report("bare total", bare_seconds, events)
        print(f"ratio platform / bare: {total / bare_seconds:.2f} (issue 19's target: <= 2.0)")
        if args.stages:
            lake_floor = bare_stages["raw lines → Parquet"] + bare_stages["parse → dedupe → Parquet"]
            print(
                f"ratio lake command / its floor (every line to Parquet + parse → dedupe → Parquet, "
                f"{lake_floor:.1f} s): {measured['lake'].seconds / lake_floor:.2f} (the proposed target: <= 2.0)"
            )
        print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if not compare(bare_kpis, platform_kpis):
            sys.exit("the KPIs differ: the comparison is not fair")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
