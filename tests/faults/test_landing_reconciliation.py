"""Issue 16, the landing-level reconciliation: every landed file and line is accounted for as in
raw_events (then cleaned, quarantined or a duplicate: raw_reconciles) or waiting for a named hour,
whatever order the hours run in; a line that goes missing fails the check; the UI shows it."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

from dagster import AssetCheckKey, AssetKey

from shopper_assets.contract.time_grid import hours_in
from shopper_assets.generator import DirtyDataConfig, GeneratorConfig, write_landing
from shopper_assets.lake import pipeline
from tests.conftest import write_landing_file
from tests.faults.lake import lake_step_run, run_window
from tests.lake.events import event

DAY = datetime(2026, 11, 20)
HOUR = timedelta(hours=1)


def test_every_landed_line_is_accounted_for_in_any_order(data_dir: Path):
    dirty = DirtyDataConfig(duplicate_rate=0.02, late_rate=0.05, late_max_hours=4, malformed_rate=0.01)
    summary = write_landing(
        GeneratorConfig(start=date(2026, 11, 20), events_per_day=3000, seed=3, dirty=dirty), data_dir, progress=False
    )
    hours = hours_in(DAY, DAY + timedelta(days=1))
    order = hours[::-1][:6] + random.Random(3).sample(hours[:-6], len(hours) - 6)  # late hours first

    first = run_window(data_dir, order[0], order[0] + HOUR)  # 23:00 first: its late lines wait for earlier hours
    waiting = first.checks["landing_reconciles"]
    assert waiting.passed and waiting.metadata["waiting_lines"].value > 0
    earlier = {f"2026-11-20-{h:02d}:00" for h in range(17, 23)}
    assert all(set(w["hours"]) <= earlier for w in waiting.metadata["waiting"].value)

    lines = 0
    for hour in order[1:]:
        run = run_window(data_dir, hour, hour + HOUR)
        assert run.checks["landing_reconciles"].passed and run.checks["raw_reconciles"].passed
        lines += run.checks["landing_reconciles"].metadata["lines"].value
    again = run_window(data_dir, order[0], order[0] + HOUR)  # nothing waits any more
    landed = again.checks["landing_reconciles"]
    assert landed.metadata["waiting_lines"].value == 0 and landed.metadata["lost_lines"].value == 0
    assert lines + landed.metadata["lines"].value == summary.lines  # every landed line, counted once
    whole = run_window(data_dir, DAY, DAY + timedelta(days=1))
    assert whole.cleaning.raw_rows == summary.lines and whole.checks["landing_reconciles"].passed


def test_a_line_that_goes_missing_fails_the_check(data_dir: Path, monkeypatch):
    h10 = DAY + timedelta(hours=10)
    write_landing_file(data_dir, h10, "a.jsonl.gz", [event(at=h10) for _ in range(10)])
    routing = pipeline.routing_sql
    monkeypatch.setattr(pipeline, "routing_sql", lambda *a: f"SELECT * FROM ({routing(*a)}) WHERE line_number <> 4")

    alone = run_window(data_dir, h10, h10 + HOUR)
    waits = alone.checks["landing_reconciles"]  # the line could still belong to an earlier hour not run yet
    assert waits.passed and waits.metadata["waiting"].value[0]["lines"] == 1
    run = run_window(data_dir, h10 - 6 * HOUR, h10 + HOUR)  # every hour that could hold it has read the file

    landed = run.checks["landing_reconciles"]
    assert run.checks["raw_reconciles"].passed  # raw_events itself is consistent: the loss is before it
    assert not landed.passed and landed.metadata["lost_lines"].value == 1
    assert landed.metadata["lost"].value == [
        {"file": "date=2026-11-20/hour=10/a.jsonl.gz", "lines": 1, "in_raw_events": 9, "lines_in_file": 10}
    ]


def test_the_ui_shows_the_reconciliation(data_dir: Path):
    h10 = DAY + timedelta(hours=10)
    write_landing_file(data_dir, h10, "a.jsonl.gz", [event(at=h10) for _ in range(10)] + ["not json"])
    result = lake_step_run()
    (raw,) = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("raw_events")]
    metadata = raw.materialization.metadata
    assert (metadata["landed_lines"].value, metadata["landed_lines_waiting"].value) == (11, 0)
    (check,) = [
        c
        for c in result.get_asset_check_evaluations()
        if c.asset_check_key == AssetCheckKey(AssetKey("raw_events"), "landing_reconciles")
    ]
    assert check.passed and check.description.startswith("1 files, 11 lines: 11 in raw_events, 0 waiting")


def test_in_s3_the_reconciliation_reads_manifests_not_partitions(data_dir: Path, make_store):
    """The check of hour 11 needs what hour 10 holds of a file landed in folder 11: with the S3 store it
    reads hour 10's manifest object, and no part file of hour 10 is downloaded."""
    h10, h11 = DAY + timedelta(hours=10), DAY + timedelta(hours=11)
    write_landing_file(data_dir, h11, "late.jsonl.gz", [event(at=h10 + timedelta(minutes=30)), event(at=h11)])
    run_window(data_dir, h10, h11, store=make_store("first_cache"))

    fresh = make_store("second_cache")
    run = run_window(data_dir, h11, h11 + HOUR, store=fresh)

    landed = run.checks["landing_reconciles"]
    assert landed.passed and landed.metadata["lines"].value == 2 and landed.metadata["waiting_lines"].value == 0
    assert not list((Path(fresh.cache_dir) / "raw_events" / "date=2026-11-20" / "hour=10").glob("*.parquet"))
