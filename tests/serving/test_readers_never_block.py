"""Readers never block writers, writers never break readers (issue 15, item 1).

Readers stay open while a lake run and a dbt run go through Dagster (``dagster asset materialize``,
separate processes, as the UI or a backfill would run them): the API server, the dashboard server,
a reader that follows each published version, and an ad-hoc reader holding ``current.duckdb``
open read-only all along. Both runs succeed. Every reader sees the old numbers until the new build
is published, then (except the held one) the new ones, never a mixture of the two builds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import httpx
import pytest

from shopper_assets.generator import GeneratorConfig, write_landing
from shopper_assets.serving.local import LocalServing
from tests.built import shopper_dbt_assets
from tests.serving.reader_probe import figures
from tests.serving.servers import ROOT, api_server, dashboard_server, local_env

pytestmark = pytest.mark.slow

DAY = date(2026, 11, 20)
DAGSTER = str(Path(sys.executable).with_name("dagster"))
LAKE = "raw_events,cleaned_events,quarantined_events"


def land(generated: Path, data_dir: Path, hours: range) -> None:
    """Deliver some hour folders of a generated day into the landing zone."""
    for hour in hours:
        folder = Path("landing/events") / f"date={DAY}" / f"hour={hour:02d}"
        shutil.copytree(generated / folder, data_dir / folder)


def materialize(env: dict, select: str, *partition: str) -> subprocess.CompletedProcess:
    command = [DAGSTER, "asset", "materialize", "-m", "shopper_assets.definitions", "--select", select, *partition]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def lake_run(env: dict, first: int, last: int) -> subprocess.CompletedProcess:
    return materialize(env, LAKE, "--partition-range", f"{DAY}-{first:02d}:00...{DAY}-{last:02d}:00")


def dbt_run(env: dict) -> subprocess.CompletedProcess:
    models = ",".join(key.to_user_string() for key in shopper_dbt_assets.keys)
    return materialize(env, models, "--partition", DAY.isoformat())


def warehouse_figures(data_dir: Path) -> list:
    with duckdb.connect(str(data_dir / "shopper.duckdb"), read_only=True) as con:
        return figures(lambda sql: con.execute(sql).fetchone(), DAY.isoformat())


def observations(path: Path) -> list[dict]:
    """The probe's complete lines so far (none before it starts)."""
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


class ApiPoller(threading.Thread):
    """GET /kpis for the day every 50 ms; records (time, status, version, orders, revenue)."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.seen, self.stop = url, [], threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                response = client.get("/kpis", params={"start": DAY.isoformat(), "end": DAY.isoformat()})
                row = response.json()[0] if response.status_code == 200 else {}
                version = response.headers.get("X-Published-Version")
                self.seen.append((time.time(), response.status_code, version, row.get("orders"), row.get("revenue")))
                time.sleep(0.05)


def probe(mode: str, data_dir: Path, out: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.serving.reader_probe", mode, "--serving", str(data_dir / "serving")]
    return subprocess.Popen([*command, "--day", DAY.isoformat(), "--out", str(out)], cwd=ROOT, env=local_env(data_dir))


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_readers_stay_open_across_a_lake_run_and_a_dbt_run(tmp_path: Path):
    data = tmp_path / "data"
    generated = tmp_path / "generated"
    write_landing(GeneratorConfig(start=DAY, days=1, events_per_day=6_000, seed=3), generated, progress=False)
    env = local_env(data)

    # the morning is built and published: version 1
    land(generated, data, range(0, 12))
    assert lake_run(env, 0, 11).returncode == 0
    assert dbt_run(env).returncode == 0
    v1 = LocalServing(data / "serving").current()
    old = warehouse_figures(data)
    assert all(v is not None for v in old)

    logs = tmp_path / "logs"
    with api_server(data, logs) as api, dashboard_server(data, logs) as dashboard:
        poller = ApiPoller(api.url)
        poller.start()
        follow, held = probe("follow", data, tmp_path / "follow.jsonl"), probe("held", data, tmp_path / "held.jsonl")
        try:
            wait_for(lambda: len(observations(tmp_path / "held.jsonl")) > 5 and len(poller.seen) > 5)

            # the afternoon lands; a lake run rewrites its hours (and checks the warehouse's views) ...
            land(generated, data, range(12, 24))
            lake = lake_run(env, 12, 23)
            assert lake.returncode == 0, lake.stderr[-3000:]
            lake_done = time.time()
            assert LocalServing(data / "serving").current().name == v1.name  # nothing published by the lake

            # ... then dbt rebuilds the day and publishes version 2
            dbt_started = time.time()
            dbt = dbt_run(env)
            assert dbt.returncode == 0, dbt.stderr[-3000:]
            v2 = LocalServing(data / "serving").current()
            assert v2.name != v1.name
            wait_for(lambda: any(r.get("version") == v2.name for r in observations(tmp_path / "follow.jsonl")))
            wait_for(lambda: any(seen[2] == v2.name for seen in poller.seen))
            time.sleep(0.5)
        finally:
            poller.stop.set()
            poller.join(30)
            for process in (follow, held):
                process.terminate()
                process.wait(30)
        assert httpx.get(dashboard.url + "/_stcore/health").status_code == 200  # the dashboard stayed up
        assert "Traceback" not in api.output() and "Traceback" not in dashboard.output()

    new = warehouse_figures(data)
    assert new != old and new[0] > old[0]  # the afternoon's orders are in
    by_version = {v1.name: old, v2.name: new}

    # the follower: old figures until version 2, then only new ones; each observation one whole version
    followed = observations(tmp_path / "follow.jsonl")
    assert followed and not [r for r in followed if "error" in r]
    assert all(r["figures"] == by_version[r["version"]] for r in followed), "a snapshot mixed two builds"
    versions = [r["version"] for r in followed]
    switch = versions.index(v2.name)
    assert set(versions[:switch]) == {v1.name} and set(versions[switch:]) == {v2.name}
    assert all(r["version"] == v1.name for r in followed if r["t"] < dbt_started)
    assert any(r["t"] > lake_done for r in followed[:switch]), "the follower was reading during the lake run"

    # the ad-hoc reader kept its connection: version 1 throughout, never an error
    kept = observations(tmp_path / "held.jsonl")
    assert kept and all(r.get("version") == v1.name and r["figures"] == old for r in kept)
    assert kept[-1]["t"] > time.time() - 60 and any(r["t"] > dbt_started for r in kept)

    # the API: every response 200 and consistent with the version it names; old, then new
    assert {status for _, status, *_ in poller.seen} == {200}
    for _, _, version, orders, revenue in poller.seen:
        assert (orders, f"{revenue:.2f}") == (by_version[version][0], by_version[version][1])
    api_versions = [version for _, _, version, *_ in poller.seen]
    first_new = api_versions.index(v2.name)
    assert set(api_versions[first_new:]) == {v2.name}


def test_the_lake_step_leaves_a_warehouse_reader_alone(tmp_path: Path):
    """An ad-hoc reader holding the warehouse itself open (read-only): lake runs still succeed,
    because they only read the warehouse when its views are already right."""
    data = tmp_path / "data"
    generated = tmp_path / "generated"
    write_landing(GeneratorConfig(start=DAY, days=1, events_per_day=2_000, seed=5), generated, progress=False)
    env = local_env(data)
    land(generated, data, range(0, 2))
    assert lake_run(env, 0, 1).returncode == 0  # creates the warehouse and its lake views
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print(c.execute('SELECT count(*) FROM lake.cleaned_events').fetchone()[0], flush=True); time.sleep(600)",
            str(data / "shopper.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert int(holder.stdout.readline()) > 0
        land(generated, data, range(2, 4))
        result = lake_run(env, 2, 3)
        assert result.returncode == 0, result.stderr[-3000:]
        with duckdb.connect() as con:
            hours = con.execute(
                f"SELECT count(DISTINCT event_hour) FROM read_parquet('{data}/lake/cleaned_events/**/part-*.parquet')"
            ).fetchone()[0]
        assert hours == 4
    finally:
        holder.kill()
        holder.wait()
