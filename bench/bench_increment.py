"""A stream's micro-batch on a preloaded day: the day's dbt run folding in what the batch added
(macros/increment.sql) against the same run rebuilding the day (what every micro-batch did before
increments), side by side in one run, on the same lake.

    python bench/bench_increment.py --platform DIR [--batch-events 5000] [--rounds 3] [--with-tests]

DIR is a data dir whose lake holds a processed day (``lake/cleaned_events``; e.g. the dir
``bench_floor.py --keep`` leaves, or ``bench_kafka_latency.py --preload-events N --keep``). The lake
is hard-linked into a scratch dir (part files never change; DIR is left as it is), the day's first
dbt build runs there (timed: the preload), then each round:

1. adds a micro-batch: ``--batch-events`` events of the day's last hour, with new event ids and in
   the sessions they came from (a stream continues sessions), as a new part file of that hour;
2. **fold**: the day's dbt run as a stream's micro-batch runs it (the day's window, models only
   unless ``--with-tests``): wall and CPU seconds, and the slowest nodes;
3. **rebuild**: the same run with the day's increments forgotten (fct_events' rows of the day and the
   models' state deleted), so every model rebuilds the day: the cost of a micro-batch before;
4. checks that both leave the same tables (a digest of every row of the day's marts and facts).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta

import duckdb

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shopper_assets.storage.lake_store import LocalLakeStore  # noqa: E402
from shopper_assets.transform.assets import DATA_QUALITY_MARTS, WHOLE_HISTORY  # noqa: E402

DBT = pathlib.Path(sys.executable).parent / "dbt"
#: what a micro-batch changes, compared between fold and rebuild (the load time left out)
COMPARED = (
    "marts.fct_events",
    "marts.fct_order_items",
    "marts.fct_orders",
    "marts.fct_sessions",
    "marts.dim_users",
    "intermediate.int_session_days",
    "intermediate.int_user_days",
    "marts.kpi_daily",
    "marts.funnel_daily",
    "marts.orders_per_hour",
    "marts.campaign_performance_daily",
)


def the_day(lake: pathlib.Path) -> date:
    days = sorted(p.name.removeprefix("date=") for p in (lake / "cleaned_events").glob("date=*"))
    if not days:
        raise SystemExit(f"no cleaned_events partitions under {lake}")
    return date.fromisoformat(days[-1])


def dbt(work: pathlib.Path, day: date, with_tests: bool) -> dict:
    """The day's dbt run; wall and CPU seconds of dbt and the per-node seconds."""
    env = {
        **os.environ,
        "SHOPPER_DATA_DIR": str(work),
        "SHOPPER_DUCKDB_PATH": str(work / "shopper.duckdb"),
        "SHOPPER_DBT_MIN_DATE": day.isoformat(),
        "SHOPPER_DBT_MAX_DATE": (day + timedelta(days=1)).isoformat(),
        "SHOPPER_DBT_LOOKBACK_DAYS": "0",
    }
    command = [str(DBT), "build" if with_tests else "run", "--project-dir", str(ROOT / "dbt")]
    command += ["--profiles-dir", str(ROOT / "dbt"), "--target-path", str(work / "target"), "--target", "local"]
    command += ["--exclude", WHOLE_HISTORY, DATA_QUALITY_MARTS]  # the daily models, as a micro-batch's run
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"dbt failed:\n{done.stdout[-4000:]}")
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    nodes = {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results}
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "nodes": nodes}


def add_batch(lake: pathlib.Path, day: date, events: int, round_no: int) -> int:
    """A new part file in the day's last hour: events of that hour again, with new ids."""
    hour = sorted((lake / "cleaned_events" / f"date={day}").glob("hour=*"))[-1]
    source = sorted(hour.glob("part-*.parquet"))[0]
    target = hour / f"part-{uuid.uuid4().hex[:12]}-0.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"""COPY (SELECT * REPLACE (event_id || '-mb{round_no}' AS event_id)
                      FROM read_parquet('{source}') USING SAMPLE {events} ROWS (reservoir, {round_no}))
                TO '{target}' (FORMAT parquet, COMPRESSION zstd)"""
        )
        return con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()[0]


def forget_increments(db: pathlib.Path, day: date) -> None:
    """Make the next run rebuild the day in every model, as runs did before increments."""
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM marts.fct_events WHERE event_date = ?", [day])
        con.execute("DELETE FROM main.shopper_increments WHERE event_date = ?", [day])


def digest(db: pathlib.Path, day: date) -> dict[str, tuple]:
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        for table in COMPARED:
            schema, name = table.split(".")
            cols = [  # averages to 9 digits: their float sums depend on the order rows are added in
                f"round({column}, 9)" if kind in ("DOUBLE", "FLOAT") else column
                for column, kind in con.execute(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? "
                    "AND table_name = ? AND column_name <> '_loaded_at' ORDER BY ordinal_position",
                    [schema, name],
                ).fetchall()
            ]
            row = ", ".join(cols)
            out[table] = con.execute(f"SELECT count(*), sum(hash({row})) FROM {table}").fetchone()
    return out


def top(nodes: dict[str, float], n: int = 6) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in sorted(nodes.items(), key=lambda kv: -kv[1])[:n])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", type=pathlib.Path, required=True, help="data dir with the day's lake")
    parser.add_argument("--batch-events", type=int, default=5000, help="events per micro-batch (5 s at 1k/s)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--with-tests", action="store_true", help="dbt build (models and tests), not dbt run")
    parser.add_argument("--keep", type=pathlib.Path, help="work in this dir and keep it")
    args = parser.parse_args()

    work = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="bench-increment-"))
    work.mkdir(parents=True, exist_ok=True)
    lake = work / "lake"
    if not lake.exists():
        subprocess.run(["cp", "-al", str(args.platform / "lake"), str(lake)], check=True)
        shutil.rmtree(lake / "_staging", ignore_errors=True)
    day = the_day(lake)
    db = work / "shopper.duckdb"
    LocalLakeStore(data_dir=str(work), duckdb_path=str(db)).publish_to_warehouse()
    with duckdb.connect(str(db), read_only=True) as con:
        events = con.execute(
            "SELECT count(*) FROM lake.cleaned_events WHERE CAST(event_hour AS DATE) = ?", [day]
        ).fetchone()[0]
    print(f"day {day}: {events:,} events in the lake; work dir {work}")
    first = dbt(work, day, args.with_tests)
    print(
        f"preload (the day's first build): {first['wall']:.1f} s wall, {first['cpu']:.1f} s CPU; {top(first['nodes'])}"
    )

    rows = []
    for r in range(1, args.rounds + 1):
        added = add_batch(lake, day, args.batch_events, r)
        fold = dbt(work, day, args.with_tests)
        folded = digest(db, day)
        forget_increments(db, day)
        rebuild = dbt(work, day, args.with_tests)
        rebuilt = digest(db, day)
        if folded != rebuilt:
            bad = [t for t in COMPARED if folded[t] != rebuilt[t]]
            raise SystemExit(f"round {r}: fold and rebuild differ in {bad}")
        rows.append((fold, rebuild))
        print(f"round {r}: +{added:,} events")
        print(f"  fold:    {fold['wall']:6.1f} s wall {fold['cpu']:6.1f} s CPU; {top(fold['nodes'])}")
        print(f"  rebuild: {rebuild['wall']:6.1f} s wall {rebuild['cpu']:6.1f} s CPU; {top(rebuild['nodes'])}")
    fold_wall = statistics.median(f["wall"] for f, _ in rows)
    rebuild_wall = statistics.median(b["wall"] for _, b in rows)
    print(
        f"median of {len(rows)} rounds: fold {fold_wall:.1f} s, rebuild {rebuild_wall:.1f} s "
        f"({rebuild_wall / fold_wall:.1f}x); the tables of both equal in every round"
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
