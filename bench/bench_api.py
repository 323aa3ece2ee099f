"""Benchmark of the query API: latency of `GET /kpis` over 90 days, measured against a real server.

    python bench/bench_api.py [--days 90] [--requests 2000] [--clients 1] [--dir /tmp/shopper-bench-api]

Builds a DuckDB warehouse with `--days` days of generated events (few per day: the response is one
kpi_daily row per day whatever the volume), runs dbt over it, publishes the marts (the serving copy
every local reader uses), starts `shopper serve` (uvicorn, one process) and times `--requests`
requests of the whole range from `--clients` concurrent keep-alive clients, after a warm-up. Prints
p50 / p90 / p99 / max in milliseconds and requests per second. Nothing is written under data/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import duckdb
import httpx

ROOT = Path(__file__).resolve().parent.parent


def build(folder: Path, start: date, days: int, events_per_day: int) -> None:
    from shopper_assets.generator import GeneratorConfig
    from shopper_assets.serving.local import LocalServing
    from shopper_assets.serving.marts import SERVED
    from shopper_assets.transform import dbt_resource
    from shopper_assets.transform.warehouse import load_generated

    warehouse = folder / "shopper.duckdb"
    t = time.perf_counter()
    events = load_generated(warehouse, GeneratorConfig(start=start, days=days, events_per_day=events_per_day, seed=7))
    dbt_resource().cli(["run"], target_path=folder / "dbt_target").wait()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        kpi_days = con.execute("SELECT count(*) FROM marts.kpi_daily").fetchone()[0]
        version = LocalServing(folder / "serving").publish(con, SERVED, None, {"bench": "bench_api"})
    took = time.perf_counter() - t
    print(f"built {events:,} events over {kpi_days} days and published {version.name} ({took:.1f} s)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=90, help="days in the requested range (and in the warehouse)")
    parser.add_argument("--events-per-day", type=int, default=1_500)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--clients", type=int, default=1, help="concurrent keep-alive clients")
    parser.add_argument("--dir", help="work folder (default: a new temp folder, removed afterwards)")
    parser.add_argument("--reuse", action="store_true", help="reuse the warehouse already built in --dir")
    args = parser.parse_args()

    folder = Path(args.dir or tempfile.mkdtemp(prefix="shopper-bench-api-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "SHOPPER_ENV": "local",
        "SHOPPER_DATA_DIR": str(folder),
        "SHOPPER_DUCKDB_PATH": str(folder / "shopper.duckdb"),
    }
    os.environ.update({k: env[k] for k in ("SHOPPER_ENV", "SHOPPER_DATA_DIR", "SHOPPER_DUCKDB_PATH")})
    start = date(2026, 3, 1)
    if not (args.reuse and (folder / "serving" / "CURRENT").exists()):
        build(folder, start, args.days, args.events_per_day)

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "shopper_assets.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    params = {"start": start.isoformat(), "end": (start + timedelta(days=args.days - 1)).isoformat()}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/health", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

        def run(n: int) -> list[float]:
            timings = []
            with httpx.Client(base_url=url, timeout=30) as client:
                for _ in range(n):
                    t = time.perf_counter()
                    response = client.get("/kpis", params=params)
                    timings.append(time.perf_counter() - t)
                    assert response.status_code == 200 and len(response.json()) == args.days, response.text[:300]
            return timings

        run(args.warmup)
        per_client = args.requests // args.clients
        t = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            timings = [x for part in pool.map(run, [per_client] * args.clients) for x in part]
        wall = time.perf_counter() - t
    finally:
        server.terminate()
        server.wait(15)
        if not args.dir:
            shutil.rmtree(folder, ignore_errors=True)

    ms = [1000 * x for x in timings]
    print(
        f"GET /kpis over {args.days} days ({args.days} rows), {len(ms):,} requests, {args.clients} client(s): "
        f"p50 {percentile(ms, 0.50):.2f} ms, p90 {percentile(ms, 0.90):.2f} ms, p99 {percentile(ms, 0.99):.2f} ms, "
        f"max {max(ms):.2f} ms, mean {statistics.fmean(ms):.2f} ms; {len(ms) / wall:,.0f} requests/s"
    )


if __name__ == "__main__":
    main()
