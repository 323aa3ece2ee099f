"""Issue 16, item 9: a run killed while it writes leaves staged files behind, and the next lake
session removes them, while the folder of a session that is still alive is never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.faults.lake import local_store

WRITER = textwrap.dedent("""
    import sys, time
    from datetime import datetime
    from shopper_assets.storage.lake_store import LocalLakeStore

    data_dir, mode = sys.argv[1], sys.argv[2]
    store = LocalLakeStore(data_dir=data_dir, duckdb_path=data_dir + "/shopper.duckdb", threads=1)
    with store.session() as session:
        print(session.scratch.path, flush=True)
        if mode == "write":  # a long write: the test kills it while its rows are being staged
            hour = "TIMESTAMP '2026-11-20 10:00:00'"
            rows = f'''SELECT {hour} AS event_hour, {hour} AS landing_hour, 'f' AS source_file, range AS line_number,
                              repeat('x', 200) AS line, NULL AS raw_bytes, now() AS ingested_at FROM range(200000000)'''
            session.replace_window("raw_events", datetime(2026, 11, 20, 10), datetime(2026, 11, 20, 11), rows)
        else:  # a live session that stays open
            time.sleep(3600)
""")


def start(data_dir: Path, mode: str) -> tuple[subprocess.Popen, Path]:
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir), mode], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    return process, Path(process.stdout.readline().strip())


def staged_files(scratch: Path) -> list[Path]:
    return [p for p in scratch.rglob("*") if p.is_file()]


def test_the_next_session_removes_what_a_killed_write_left(tmp_path: Path):
    data_dir = tmp_path / "data"
    alive, alive_scratch = start(data_dir, "sleep")
    writer, scratch = start(data_dir, "write")
    try:
        deadline = time.monotonic() + 120
        while not staged_files(scratch) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert staged_files(scratch), "the writer staged nothing"
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
        assert staged_files(scratch)  # what a killed run leaves

        with local_store(data_dir).session() as session:
            assert not scratch.exists()  # swept when the next session opened
            assert alive_scratch.is_dir()  # the live session's folder stays
            assert sorted(p.name for p in session.scratch.path.parent.iterdir()) == sorted(
                [alive_scratch.name, f"{alive_scratch.name}.lock", session.scratch.id, f"{session.scratch.id}.lock"]
            )
        assert not (data_dir / "lake" / "raw_events").exists()  # and the killed write left no partition
    finally:
        for process in (alive, writer):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
    with local_store(data_dir).session():
        pass
    assert sorted(os.listdir(data_dir / "lake" / "_staging")) == []  # once every owner is gone, nothing stays
