"""Micro-batches: a run reads only the landing files that are new, cleans only the raw parts that are
new, and appends; whatever the order files arrive in, the lake ends up exactly as a full rebuild."""

from __future__ import annotations

import gzip
import random
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from shopper_assets.generator import DirtyDataConfig, GeneratorConfig, write_landing
from shopper_assets.ingestion.landing import LANDING_PREFIX, LocalLandingZone, hour_folder
from shopper_assets.lake import pipeline
from shopper_assets.lake.pipeline import clean_window, ingest_raw
from shopper_assets.quality.checks import raw_reconciles, unique_event_id
from shopper_assets.storage.lake_store import LocalLakeStore, partition_path
from tests.conftest import write_landing_file
from tests.lake.events import event

DAY = datetime(2026, 11, 20)
H10 = DAY + timedelta(hours=10)
LATE = 3
COMPARED = {  # every column but the moment a row was written
    "raw_events": "* EXCLUDE (ingested_at)",
    "cleaned_events": "*",
    "quarantined_events": "* EXCLUDE (quarantined_at)",
}


def store(data_dir: Path) -> LocalLakeStore:
    return LocalLakeStore(data_dir=str(data_dir), duckdb_path=str(data_dir / "shopper.duckdb"), threads=2)


def run(data_dir: Path, start: datetime, end: datetime):
    with store(data_dir).session() as s:
        raw = ingest_raw(s, LocalLandingZone(data_dir=str(data_dir)), start, end, LATE)
        cleaned = clean_window(s, start, end)
        assert raw_reconciles(s, start, end).passed
        assert unique_event_id(s, start, end, LATE).passed
    return raw, cleaned


def snapshot(data_dir: Path, start: datetime, end: datetime) -> dict[str, list[tuple]]:
    with store(data_dir).session() as s:
        return {
            t: s.con.execute(f"SELECT {cols} FROM ({s.scan(t, start, end)}) ORDER BY ALL").fetchall()
            for t, cols in COMPARED.items()
        }


def chunks(source: Path, per_file: int) -> list[tuple[datetime, str, bytes]]:
    """Every generated landing file cut into ``per_file`` files whose names sort in line order."""
    out = []
    for path in sorted((source / LANDING_PREFIX).rglob("*.jsonl.gz")):
        hour = datetime.strptime(f"{path.parent.parent.name[5:]} {path.parent.name[5:]}", "%Y-%m-%d %H")
        lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
        size = -(-len(lines) // per_file)
        for i in range(per_file):
            name = path.name.replace(".jsonl.gz", f"-{i}.jsonl.gz")
            out.append((hour, name, gzip.compress(b"".join(lines[i * size : (i + 1) * size]))))
    return out


@pytest.mark.parametrize("order", ["as_landed", "shuffled"])
def test_micro_batches_end_as_a_full_rebuild(tmp_path: Path, order: str):
    dirty = DirtyDataConfig(duplicate_rate=0.05, late_rate=0.05, late_max_hours=LATE, malformed_rate=0.02)
    generated = tmp_path / "generated"
    write_landing(
        GeneratorConfig(start=date(2026, 11, 20), events_per_day=6000, seed=11, dirty=dirty), generated, progress=False
    )
    start, end = DAY + timedelta(hours=9), DAY + timedelta(hours=13)
    deliveries = [c for c in chunks(generated, per_file=3) if start <= c[0] < end]
    if order == "shuffled":  # later lines may now arrive first: a new line can beat a kept one
        random.Random(5).shuffle(deliveries)

    streamed, rebuilt = tmp_path / "streamed", tmp_path / "rebuilt"
    landing = LocalLandingZone(data_dir=str(streamed))
    modes = []
    for hour, name, data in deliveries:  # as the sensor does: the folder's hour and the hours it may hold
        landing.write_file(hour, name, data)
        raw, cleaned = run(streamed, hour - timedelta(hours=LATE), hour + timedelta(hours=1))
        assert raw.files_read == 1  # only the new file is read
        modes.append(cleaned.rebuilt)
    run(streamed, start, end)  # nothing new: a no-op

    shutil.copytree(streamed / LANDING_PREFIX, rebuilt / LANDING_PREFIX)
    run(rebuilt, start - timedelta(hours=LATE), end)
    assert snapshot(streamed, start, end) == snapshot(rebuilt, start, end)
    assert modes[0] and not all(modes[1:])  # the first build streams, later batches append
    if order == "as_landed":
        assert not any(modes[1:])
    else:  # some line arrived before a kept duplicate of it, or a late line before its hour's folder
        assert any(modes[1:])


def test_an_unchanged_hour_is_not_rewritten(data_dir: Path):
    write_landing_file(data_dir, H10, "a.jsonl.gz", [event(at=H10)])
    run(data_dir, H10, H10 + timedelta(hours=1))
    folder = data_dir / "lake" / partition_path("cleaned_events", H10)
    before = sorted(p.name for p in folder.iterdir())
    raw, cleaned = run(data_dir, H10, H10 + timedelta(hours=1))
    assert (raw.files_read, raw.rows_added, cleaned.raw_parts_processed) == (0, 0, 0)
    assert sorted(p.name for p in folder.iterdir()) == before


def test_a_rewritten_file_rebuilds_its_hour(data_dir: Path):
    first, second = event(at=H10), event(at=H10 + timedelta(minutes=1))
    path = write_landing_file(data_dir, H10, "a.jsonl.gz", [first])
    write_landing_file(data_dir, H10, "b.jsonl.gz", [second])
    run(data_dir, H10, H10 + timedelta(hours=1))
    replacement = event(at=H10 + timedelta(minutes=2))
    write_landing_file(data_dir, H10, "a.jsonl.gz", [replacement])  # e.g. a batch consumed again, other content
    raw, cleaned = run(data_dir, H10, H10 + timedelta(hours=1))
    assert raw.hours_rebuilt == 1 and cleaned.rebuilt
    ids = {r[0] for r in snapshot(data_dir, H10, H10 + timedelta(hours=1))["cleaned_events"]}
    assert ids == {replacement["event_id"], second["event_id"]}
    path.unlink()  # withdrawn: its lines leave every layer
    run(data_dir, H10, H10 + timedelta(hours=1))
    assert [r[0] for r in snapshot(data_dir, H10, H10 + timedelta(hours=1))["cleaned_events"]] == [second["event_id"]]


def test_a_run_that_dies_between_cleaned_and_quarantine_is_repaired(data_dir: Path, monkeypatch):
    write_landing_file(data_dir, H10, "a.jsonl.gz", [event(at=H10)])
    run(data_dir, H10, H10 + timedelta(hours=1))
    write_landing_file(data_dir, H10, "b.jsonl.gz", [event(at=H10), "not json"])

    def dies(session, table, *args):
        if table == "cleaned_events":
            raise RuntimeError("killed")
        return original(session, table, *args)

    original = pipeline.LakeSession.append_window
    monkeypatch.setattr(pipeline.LakeSession, "append_window", dies)
    with pytest.raises(RuntimeError, match="killed"):
        run(data_dir, H10, H10 + timedelta(hours=1))
    monkeypatch.undo()
    _, cleaned = run(data_dir, H10, H10 + timedelta(hours=1))
    assert cleaned.rebuilt  # quarantine had the new part, cleaned_events not: rebuilt, not appended twice
    assert (cleaned.raw_rows, cleaned.cleaned_rows, cleaned.quarantined_rows) == (3, 2, 1)


def test_a_partition_without_a_manifest_is_rebuilt(data_dir: Path):
    write_landing_file(data_dir, H10, "a.jsonl.gz", [event(at=H10)])
    run(data_dir, H10, H10 + timedelta(hours=1))
    (data_dir / "lake" / partition_path("raw_events", H10) / "_parts.json").unlink()  # e.g. written by an old version
    write_landing_file(data_dir, H10, "b.jsonl.gz", [event(at=H10)])
    raw, cleaned = run(data_dir, H10, H10 + timedelta(hours=1))
    assert raw.hours_rebuilt == 1 and raw.files_read == 2 and cleaned.rebuilt
    assert (cleaned.raw_rows, cleaned.cleaned_rows) == (2, 2)
    assert sorted(LocalLandingZone(data_dir=str(data_dir)).file_versions(H10)) == [
        f"{hour_folder(H10)}/a.jsonl.gz",
        f"{hour_folder(H10)}/b.jsonl.gz",
    ]


def test_an_append_never_writes_outside_its_hours(data_dir: Path):
    write_landing_file(data_dir, H10, "a.jsonl.gz", [event(at=H10)])
    run(data_dir, H10, H10 + timedelta(hours=1))
    h11 = H10 + timedelta(hours=1)
    with store(data_dir).session() as s:
        rows = f"SELECT * FROM ({s.scan('raw_events', H10, h11)})"
        moved = f"SELECT * REPLACE (event_hour + INTERVAL 1 HOUR AS event_hour) FROM ({rows})"
        with pytest.raises(Exception, match="outside the hours being written"):
            s.append_window("raw_events", H10, H10 + timedelta(hours=2), moved, {H10: {"x": "1"}})
        assert s.batches("raw_events", H10) is not None and s.count("raw_events", H10, h11) == 1
        assert not (data_dir / "lake" / partition_path("raw_events", h11)).exists()
