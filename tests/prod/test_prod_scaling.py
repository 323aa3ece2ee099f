"""Issue 19, target 4: prod scales out. Lake steps of different hours run side by side (pool ``lake``),
dbt builds one at a time (pool ``dbt``), locally everything stays in the one-slot ``duckdb`` pool; two
hours materialized at once by two run processes on S3 (moto server) and Postgres (embedded) both land
every row; the per-hour locks that make that safe hold only the hours written; and lake loads keep out of
the warehouse while a dbt build reads it."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from datetime import date, datetime
from pathlib import Path

import psycopg

from shopper_assets.contract.tables import LAKE_TABLES
from shopper_assets.definitions import build_definitions
from shopper_assets.deployments import LOCAL_POOLS, PROD_POOLS
from shopper_assets.generator import GeneratorConfig, write_landing
from shopper_assets.ingestion.landing import LANDING_PREFIX
from shopper_assets.serving.store import PostgresServingStore
from shopper_assets.settings import Settings
from shopper_assets.storage import postgres_warehouse as pg
from tests.built import definitions
from tests.prod.helpers import lake_rows, pg_rows, upload_landing

ROOT = Path(__file__).resolve().parents[2]
DAY = date(2026, 11, 20)
HOURS = [datetime(2026, 11, 20, 12), datetime(2026, 11, 20, 13)]


def _pools(defs) -> dict[str, str]:
    return {a.op.name: a.op.pool for a in defs.assets if hasattr(a, "op")}


def test_prod_lake_steps_have_a_pool_of_their_own_and_dbt_builds_take_turns(tmp_path):
    """Prod: lake step, ad spend and data quality in "lake", the three dbt assets in "dbt" (its limit is the
    instance's default of 1, tests/test_deploy.py); locally all six share the one-slot "duckdb" pool."""
    prod = Settings.from_env(
        {"SHOPPER_ENV": "prod", "SHOPPER_DATA_DIR": str(tmp_path), "SHOPPER_START_DATE": "2026-11-01"}
    )
    lake_ops = {"lake_step", "ad_spend", "data_quality"}
    dbt_ops = {"shopper_dbt_assets", "shopper_history_dbt_assets", "shopper_quality_dbt_assets"}
    pools = _pools(build_definitions(prod))
    assert pools == {op: "lake" for op in lake_ops} | {op: "dbt" for op in dbt_ops}
    assert PROD_POOLS.lake != LOCAL_POOLS.lake == "duckdb" and PROD_POOLS.dbt != PROD_POOLS.lake
    assert _pools(definitions()) == dict.fromkeys(lake_ops | dbt_ops, "duckdb")


def _landed_lines(gen: Path, hour: datetime) -> int:
    folder = gen / LANDING_PREFIX / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
    return sum(sum(1 for _ in gzip.open(p, "rt")) for p in folder.glob("*.jsonl.gz"))


def test_two_hours_materialized_at_once_both_land_every_row(s3_endpoint, s3, bucket, pg_url, make_store, tmp_path):
    """Two run processes (bench/bench_scale.py's run of one hour) on one instance whose lake pool has two
    slots, sharing a lake cache like run workers on one machine: both succeed, S3 and Postgres hold every
    landed line of both hours as a clean event (no dirt generated), and the hours hold nothing else."""
    gen = tmp_path / "gen"
    write_landing(GeneratorConfig(start=DAY, events_per_day=24_000, seed=19), gen, progress=False)
    upload_landing(gen, s3, bucket)
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("concurrency:\n  pools:\n    default_limit: 1\ntelemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SHOPPER_ENV": "prod",
        "SHOPPER_DATA_DIR": str(tmp_path / "data"),
        "SHOPPER_START_DATE": DAY.isoformat(),
        "SHOPPER_S3_BUCKET": bucket,
        "AWS_ENDPOINT_URL": s3_endpoint,
        "SHOPPER_PG_URL": pg_url,
    }
    dagster = Path(sys.executable).parent / "dagster"
    subprocess.run([str(dagster), "instance", "concurrency", "set", "lake", "2"], env=env, check=True, timeout=120)

    command = [sys.executable, str(ROOT / "bench" / "bench_scale.py"), "--child"]
    runs = [
        subprocess.Popen([*command, f"{h:%Y-%m-%d-%H}:00"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for h in HOURS
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    for run, (_, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err.decode()[-3000:]
    reports = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    assert all(r["success"] and r["step_start"] and r["step_end"] for r in reports)

    expected = {h: _landed_lines(gen, h) for h in HOURS}
    assert all(n > 500 for n in expected.values())
    with psycopg.connect(pg_url) as conn:
        counted = dict(conn.execute("SELECT event_hour, count(*) FROM lake.cleaned_events GROUP BY 1").fetchall())
        quarantined = conn.execute("SELECT count(*) FROM lake.quarantined_events").fetchone()[0]
    assert counted == expected and quarantined == 0
    cold = make_store("cold")  # a fresh cache: what S3 holds
    in_s3 = lake_rows(cold, "cleaned_events", HOURS[0], HOURS[-1].replace(hour=14))
    assert len(in_s3) == sum(expected.values())
    assert in_s3 == pg_rows(pg_url, "cleaned_events")


def test_a_step_holds_only_its_own_hours(make_store):
    """``writing`` (Postgres advisory locks): a second writer of an hour waits for the first, and so does a
    backfill of three days around it (locked by the day: a long window would overflow Postgres' lock table
    by the hour); a writer of other hours, or of the same hours of another table family, goes ahead."""
    store = make_store()
    h12, h13, h14 = (datetime(2026, 11, 20, h) for h in (12, 13, 14))
    entered = {name: threading.Event() for name in ("same", "days", "other_hour", "other_family")}
    release = threading.Event()

    def hold(name: str, family: str, start: datetime, end: datetime) -> None:
        with store.writing(family, start, end):
            entered[name].set()
            if name == "first":
                release.wait(30)

    first = threading.Thread(target=hold, args=("first", "events", h12, h14))
    entered["first"] = threading.Event()
    first.start()
    assert entered["first"].wait(30)
    others = [
        threading.Thread(target=hold, args=("same", "events", h13, h14)),
        threading.Thread(target=hold, args=("other_hour", "events", h14, h14.replace(hour=15))),
        threading.Thread(target=hold, args=("other_family", "ad_spend", h12, h14)),
    ]
    for t in others:
        t.start()
    assert entered["other_hour"].wait(30) and entered["other_family"].wait(30)
    # (started last: Postgres queues a request behind a waiting one it conflicts with, so while the backfill
    # waits for the day, new writers of that day's hours wait behind it instead of starving it)
    days = threading.Thread(target=hold, args=("days", "events", datetime(2026, 11, 19), datetime(2026, 11, 22)))
    days.start()
    assert not entered["same"].wait(1.0)  # hour 13 is held by the first writer
    assert not entered["days"].is_set()  # and so is its day
    release.set()
    assert entered["same"].wait(30) and entered["days"].wait(30)
    for t in (first, *others, days):
        t.join(30)


def test_lake_loads_wait_for_a_dbt_build_in_progress(pg_url):
    """Prod runs dbt beside lake steps: while a build holds the warehouse (``ServingStore.building``, as the dbt
    assets do), a lake load's commit waits; it goes ahead once the build is done."""
    spec = LAKE_TABLES["data_quality_daily"]
    loaded = threading.Event()

    def load() -> None:
        with pg.connect(pg_url) as conn:
            pg.replace_hours(conn, spec, [datetime(2026, 11, 20)], [])
        loaded.set()

    with PostgresServingStore(pg_url=pg_url).building():
        loader = threading.Thread(target=load)
        loader.start()
        assert not loaded.wait(1.5)  # held back by the build
    assert loaded.wait(30)
    loader.join(30)
