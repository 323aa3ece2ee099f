"""Side by side: the day build of the daily dbt models with the custom ``window_table`` materialization
as shipped, and with dbt's own ``incremental`` + ``delete+insert`` in its place (docs/dbt-machinery.md).

    python bench/bench_dbt_strategies.py --events-per-day 1000000 [--rounds 2]

Loads two generated days into ``lake.cleaned_events`` once, copies the dbt project twice (``shipped``,
and ``delete+insert``: every model on ``window_table`` keyed on its day column rewritten to dbt's
incremental delete+insert on that column; keyed ``replace_keys`` models stay), then, alternating the
variants each round, builds day 1 (untimed warm-up) and day 2 (timed) with ``dbt run`` of the daily
models on a copy of the warehouse. Prints, per variant and round, wall and CPU seconds of the dbt
process, and the execution time of the models that differ between the variants.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).with_name("dbt")
DAY_KEYED = re.compile(r"materialized='window_table',\s*window_column='(\w+)'")


def project_copy(work: Path, variant: str) -> tuple[Path, set[str]]:
    """The dbt project for ``variant`` and the models it rewrote."""
    dst = work / f"dbt_{variant}"
    shutil.copytree(REPO / "dbt", dst, ignore=shutil.ignore_patterns("target", "logs"))
    rewritten = set()
    if variant == "delete+insert":
        for model in dst.rglob("models/**/*.sql"):
            sql = model.read_text()
            new = DAY_KEYED.sub(
                lambda m: (
                    "materialized='incremental', incremental_strategy='delete+insert', "
                    f"unique_key='{m[1]}', window_column='{m[1]}', on_schema_change='fail'"
                ),
                sql,
            )
            if new != sql:
                model.write_text(new)
                rewritten.add(model.stem)
    subprocess.run(
        [str(DBT), "parse", "--project-dir", str(dst), "--profiles-dir", str(dst)], check=True, capture_output=True
    )
    return dst, rewritten


def dbt_run(project: Path, warehouse: Path, day: date) -> tuple[float, float, dict[str, float]]:
    """(wall s, CPU s of dbt, execution time per model) of the day's daily models."""
    env = {
        **os.environ,
        "SHOPPER_DUCKDB_PATH": str(warehouse),
        "SHOPPER_DBT_MIN_DATE": day.isoformat(),
        "SHOPPER_DBT_MAX_DATE": (day + timedelta(days=1)).isoformat(),
        "SHOPPER_DBT_LOOKBACK_DAYS": "0",
    }
    command = [str(DBT), "run", "--project-dir", str(project), "--profiles-dir", str(project)]
    command += ["--exclude", "tag:whole_history tag:data_quality"]
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"dbt run failed:\n{done.stdout[-3000:]}")
    results = json.loads((project / "target" / "run_results.json").read_text())["results"]
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events-per-day", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--start", default="2026-03-02", help="first of the two days, YYYY-MM-DD")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="shopper-dbt-strategies-"))
    base = work / "base.duckdb"
    os.environ.update(SHOPPER_ENV="local", SHOPPER_DATA_DIR=str(work), SHOPPER_DUCKDB_PATH=str(base))
    from shopper_assets.generator import GeneratorConfig, simulate_events  # after the environment is set
    from shopper_assets.transform.warehouse import load_events

    first = date.fromisoformat(args.start)
    try:
        config = GeneratorConfig(start=first, days=2, events_per_day=args.events_per_day, seed=42)
        loaded = load_events(base, simulate_events(config))
        print(f"loaded {loaded:,} events (2 days) into lake.cleaned_events", flush=True)
        projects = {variant: project_copy(work, variant) for variant in ("shipped", "delete+insert")}
        differing = sorted(projects["delete+insert"][1])
        print(f"models that differ: {', '.join(differing)}")
        for round_ in range(args.rounds):
            for variant, (project, _) in projects.items():
                warehouse = work / "round.duckdb"
                shutil.copy(base, warehouse)
                dbt_run(project, warehouse, first)
                wall, cpu, times = dbt_run(project, warehouse, first + timedelta(days=1))
                models = "  ".join(f"{m} {times.get(m, 0):.2f} s" for m in differing)
                print(f"round {round_} {variant:<14} wall {wall:6.1f} s  cpu {cpu:6.1f} s  |  {models}", flush=True)
                warehouse.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
