"""Issue 16, item 7: a ratio over a handful of lines does not block. A quiet hour with 5 bad messages
of 20 warns; enough bad lines (``min_quarantined_rows``) still block the marts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from dagster import AssetCheckKey, AssetCheckSeverity, AssetKey

from shopper_assets.quality.checks import CheckThresholds
from tests.conftest import write_landing_file
from tests.faults.lake import lake_step_run
from tests.lake.events import event

H10 = datetime(2026, 11, 20, 10)
RATIO = AssetCheckKey(AssetKey("cleaned_events"), "quarantine_ratio")


def lake_run(data_dir: Path, good: int, bad: int):
    write_landing_file(data_dir, H10, "a.jsonl.gz", [event(at=H10) for _ in range(good)] + ["not json"] * bad)
    result = lake_step_run()
    (ratio,) = [c for c in result.get_asset_check_evaluations() if c.asset_check_key == RATIO]
    return result, ratio


def test_five_bad_messages_in_a_quiet_hour_warn_without_blocking(data_dir: Path):
    result, ratio = lake_run(data_dir, good=15, bad=5)
    assert result.success  # the lake step (and dbt behind it) goes on
    assert not ratio.passed and ratio.severity == AssetCheckSeverity.WARN
    assert "too few to block" in ratio.description


def test_a_bad_hour_with_enough_lines_still_blocks(data_dir: Path):
    bad = CheckThresholds.min_quarantined_rows
    result, ratio = lake_run(data_dir, good=bad, bad=bad)
    assert not result.success
    assert not ratio.passed and ratio.severity == AssetCheckSeverity.ERROR
