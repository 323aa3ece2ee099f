"""The data-quality score: counted on a generated dirty day, it equals the generator's exact counts
(every duplicate, every malformed line under its reason, the late deliveries); it goes through the
lake tables into the dbt marts, the published copy and the API; a day whose blocking check fails says so."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, AssetSelection, materialize
from fastapi.testclient import TestClient

from shopper_assets.demo import partition_range_tags
from shopper_assets.deployments import resources_for
from shopper_assets.generator import DirtyDataConfig, GeneratorConfig, write_landing
from shopper_assets.operations.data_quality import day_quality
from shopper_assets.quality.checks import CheckThresholds
from shopper_assets.serving.api import create_app
from shopper_assets.serving.reader import open_reader
from shopper_assets.settings import Settings
from shopper_assets.transform import dbt_resource
from tests.built import data_quality, lake_step, landing_events, shopper_quality_dbt_assets
from tests.conftest import write_landing_file
from tests.lake.events import event
from tests.lake.test_generated_dirty_day import EXPECTED_REASON

DAY = date(2026, 11, 20)
SCORE, LOSSES = AssetKey("data_quality_daily"), AssetKey("data_quality_losses_daily")
QUALITY_MARTS = ["dq_score_daily", "dq_losses_daily"]


def resources() -> dict:
    return {**resources_for(Settings.from_env()), "dbt": dbt_resource()}


def lake_run(day: date = DAY):
    return materialize(
        [landing_events, lake_step],
        selection=AssetSelection.assets(lake_step),
        tags=partition_range_tags(f"{day}-00:00", f"{day}-23:00"),
        resources=resources(),
        raise_on_error=False,
    )


def score_run(day: date = DAY, marts: bool = False):
    """data_quality for the day, with the dbt marts that read it when ``marts``."""
    keys = [SCORE, LOSSES] + ([AssetKey(m) for m in QUALITY_MARTS] if marts else [])
    result = materialize(
        [landing_events, lake_step, data_quality, shopper_quality_dbt_assets],
        selection=AssetSelection.assets(*keys),
        partition_key=day.isoformat(),
        resources=resources(),
    )
    assert result.success
    return result


def metadata(result, key: AssetKey) -> dict:
    (event_,) = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {k: getattr(v, "value", v) for k, v in event_.materialization.metadata.items()}


@pytest.mark.slow
def test_a_dirty_day_scores_exactly_what_the_generator_broke(data_dir: Path):
    dirty = DirtyDataConfig(duplicate_rate=0.02, late_rate=0.03, late_max_hours=3, malformed_rate=0.01)
    summary = write_landing(
        GeneratorConfig(start=DAY, events_per_day=20_000, seed=7, dirty=dirty), data_dir, progress=False
    )
    assert lake_run().success
    result = score_run(marts=True)

    want_lost = {"duplicate": summary.duplicates}
    for kind, n in summary.malformed.items():
        want_lost[EXPECTED_REASON[kind]] = want_lost.get(EXPECTED_REASON[kind], 0) + n
    meta = metadata(result, SCORE)
    assert meta["landed_lines"] == summary.lines
    assert meta["clean_events"] == summary.events
    assert meta["duplicate_lines"] == summary.duplicates
    assert meta["quarantined_lines"] == sum(summary.malformed.values())
    assert meta["lost_by_reason"] == want_lost
    assert meta["dq_score"] == pytest.approx(summary.events / summary.lines)
    assert meta["dq_percent"] == pytest.approx(round(100 * summary.events / summary.lines, 3))
    assert meta["late_events"] >= summary.late > 0  # late deliveries sit in the hour of their event_time
    assert (meta["checks_passed"], meta["checks_warned"], meta["checks_failed"]) == (7, 0, 0)
    assert {k: v for k, v in metadata(result, LOSSES).items() if k.startswith("lost_")} == {
        f"lost_{r}": n for r, n in want_lost.items()
    }

    # the marts read the lake tables: the same figures, published for the readers
    with duckdb.connect(str(data_dir / "shopper.duckdb"), read_only=True) as con:
        score = con.execute(
            "SELECT landed_lines, clean_events, quarantined_lines, duplicate_lines, late_events, dq_score, "
            "checks_passed, checks_failed, failed_checks FROM marts.dq_score_daily"
        ).fetchall()
        losses = dict(con.execute("SELECT reason, lines FROM marts.dq_losses_daily").fetchall())
    assert score == [
        (
            summary.lines,
            summary.events,
            meta["quarantined_lines"],
            summary.duplicates,
            meta["late_events"],
            pytest.approx(meta["dq_score"]),
            7,
            0,
            "",
        )
    ]
    assert losses == want_lost
    with TestClient(create_app(open_reader(Settings.from_env()))) as api:
        (day,) = api.get("/quality", params={"start": DAY.isoformat(), "end": DAY.isoformat()}).json()
        assert day["dq_score"] == pytest.approx(meta["dq_score"]) and day["landed_lines"] == summary.lines
        rows = api.get("/quality/losses", params={"reason": "duplicate"}).json()
        assert [(r["reason"], r["lines"]) for r in rows] == [("duplicate", summary.duplicates)]
        assert rows[0]["share_of_landed"] == pytest.approx(summary.duplicates / summary.lines)


@pytest.mark.slow
def test_a_day_with_a_failing_blocking_check_says_which(data_dir: Path):
    hour = datetime(2026, 11, 20, 9)
    write_landing_file(data_dir, hour, "good.jsonl.gz", [event(at=hour) for _ in range(40)])
    write_landing_file(data_dir, hour, "bad.jsonl.gz", [f"not json {i}" for i in range(60)])
    assert not lake_run().success  # quarantine_ratio (60 of 100 lines, at least 50 quarantined) blocks

    meta = metadata(score_run(), SCORE)
    assert (meta["landed_lines"], meta["clean_events"], meta["quarantined_lines"]) == (100, 40, 60)
    assert meta["dq_score"] == pytest.approx(0.4)
    assert meta["checks_failed"] == 1 and meta["failed_checks"] == "quarantine_ratio"
    assert meta["lost_by_reason"] == {"invalid_json": 60, "duplicate": 0}


def test_a_day_without_lines_has_no_score(data_dir: Path):
    store = resources_for(Settings.from_env())["lake"]
    with store.session() as session:
        quality = day_quality(session, DAY, 6, CheckThresholds())
    assert quality.landed_lines == 0 and quality.dq_score is None
    assert (quality.checks_passed, quality.checks_failed) == (0, 0)  # nothing to check
    assert quality.loss_rows() == []


def test_the_days_of_a_range_are_one_run_each_with_its_figures(data_dir: Path):
    for day, good in ((DAY, 30), (DAY + timedelta(days=1), 20)):
        at = datetime(day.year, day.month, day.day, 12)
        write_landing_file(data_dir, at, "a.jsonl.gz", [event(at=at) for _ in range(good)] + ["{oops"])
        assert lake_run(day).success
    result = materialize(
        [landing_events, lake_step, data_quality],
        selection=AssetSelection.assets(SCORE, LOSSES),
        tags=partition_range_tags(DAY.isoformat(), (DAY + timedelta(days=1)).isoformat()),
        resources=resources(),
    )
    assert result.success
    landed = {
        e.materialization.partition: e.materialization.metadata["landed_lines"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key == SCORE
    }
    assert landed == {"2026-11-20": 31, "2026-11-21": 21}
