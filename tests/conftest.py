"""Shared fixtures: every test gets its own data root; nothing is written into the repo's data/."""

from __future__ import annotations

import gzip
import json
import os
import time
from datetime import datetime
from pathlib import Path

import pytest

# The tests' events are dated in 2026 and their partitions start on the project's default day, whatever
# data root (with its recorded start, settings.START_DATE_FILE) the shell running pytest points to.
# Set before shopper_assets.partitions is imported; tests of another start set their own.
os.environ["SHOPPER_START_DATE"] = "2026-01-01"

from shopper_assets.ingestion.landing import LANDING_PREFIX, hour_folder


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("SHOPPER_DATA_DIR", str(root))
    monkeypatch.setenv("SHOPPER_DUCKDB_PATH", str(root / "shopper.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    return root


def write_landing_file(data_dir: Path, hour: datetime, name: str, lines: list[bytes | str | dict]) -> Path:
    """A gzip JSONL landing file from raw bytes, text or event dicts (serialised as JSON)."""
    folder = data_dir / LANDING_PREFIX / hour_folder(hour)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    encoded = [
        line if isinstance(line, bytes) else (line.encode() if isinstance(line, str) else json.dumps(line).encode())
        for line in lines
    ]
    path.write_bytes(gzip.compress(b"\n".join(encoded) + b"\n"))
    return path


_SESSION_START = time.time()


def pytest_terminal_summary(terminalreporter) -> None:
    """Where the browser tests' screenshots are (taken in the xdist workers, so counted from the folder)."""
    from tests.serving.browser import SCREENSHOTS

    taken = [p for p in SCREENSHOTS.glob("*.png") if p.stat().st_mtime >= _SESSION_START]
    if taken:
        terminalreporter.write_line(f"Browser screenshots ({len(taken)}): {SCREENSHOTS}")
