"""Issue 16, item 2: a damaged gzip landing file keeps every complete line before the damage, says
what was lost, and the checks see it (they were all green while 4,495 valid events vanished)."""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import datetime, timedelta
from pathlib import Path

from dagster import AssetCheckKey, AssetKey

from shopper_assets.ingestion.landing import LANDING_PREFIX, hour_folder
from tests.faults.lake import lake_step_run, run_window
from tests.lake.events import event

H10 = datetime(2026, 11, 20, 10)
H11 = H10 + timedelta(hours=1)


def land(data_dir: Path, name: str, payload: bytes) -> Path:
    folder = data_dir / LANDING_PREFIX / hour_folder(H10)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(payload)
    return folder / name


def events_text(n: int) -> bytes:
    return b"".join(json.dumps(event(at=H10 + timedelta(seconds=i % 3600))).encode() + b"\n" for i in range(n))


def test_a_file_cut_at_90_percent_keeps_its_complete_lines(data_dir: Path):
    full = gzip.compress(events_text(5000))
    land(data_dir, "cut.jsonl.gz", full[: len(full) * 9 // 10])
    recovered = zlib.decompressobj(wbits=31).decompress(full[: len(full) * 9 // 10])
    complete = recovered.count(b"\n")
    assert 4000 < complete < 5000

    run = run_window(data_dir, H10, H11)

    assert run.cleaning.cleaned_rows == complete  # every complete event before the cut
    reasons = [(q["line_number"], q["reason"]) for q in run.quarantined]
    assert reasons == [(0, "unreadable_file"), (complete + 1, "invalid_json")]  # the file, and its cut last line
    detail = run.quarantined[0]["detail"]
    assert f"{complete:,} complete lines recovered" in detail and "cut short" in detail
    assert run.checks["raw_reconciles"].passed  # every raw line placed
    landed = run.checks["landing_reconciles"]
    assert not landed.passed  # but lines were lost: the check says so, and it blocks
    name = "date=2026-11-20/hour=10/cut.jsonl.gz"
    assert landed.metadata["unreadable_files"].value == [{"file": name, "problem": detail}]


def test_a_corrupt_member_estimates_the_lines_it_lost(data_dir: Path):
    first, second = events_text(2500), events_text(2500)
    damaged = bytearray(gzip.compress(second))
    damaged[10:40] = b"\xff" * 30  # the deflate data of the second member is garbage from its start
    land(data_dir, "members.jsonl.gz", gzip.compress(first) + bytes(damaged))

    run = run_window(data_dir, H10, H11)

    assert run.cleaning.cleaned_rows == 2500  # the intact member
    (whole_file,) = [q for q in run.quarantined if q["line_number"] == 0]
    assert whole_file["reason"] == "unreadable_file"
    estimate = int(whole_file["detail"].split("about ")[1].split(" lines")[0].replace(",", ""))
    assert 2000 <= estimate <= 3000, whole_file["detail"]  # the lost member held 2,500 lines
    assert not run.checks["landing_reconciles"].passed


def test_the_lake_step_fails_on_a_damaged_file(data_dir: Path):
    """Through Dagster: the blocking landing check fails the lake step, so no dbt step builds on it."""
    full = gzip.compress(events_text(300))
    land(data_dir, "cut.jsonl.gz", full[: len(full) // 2])
    result = lake_step_run()
    assert not result.success
    checks = {c.asset_check_key: c for c in result.get_asset_check_evaluations()}
    assert not checks[AssetCheckKey(AssetKey("raw_events"), "landing_reconciles")].passed
    assert checks[AssetCheckKey(AssetKey("cleaned_events"), "raw_reconciles")].passed
