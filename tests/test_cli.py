"""The ``shopper`` command line's error paths, as a user meets them: a real process, one line on
stderr (``Error: ...``), no traceback, exit status 1, and nothing written before the refusal."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from shopper_assets.settings import START_DATE_FILE, Settings, record_start_date

SHOPPER = [sys.executable, "-m", "shopper_assets.cli"]
TODAY = datetime.now(UTC).date()
START = {"SHOPPER_START_DATE": "2026-01-01"}


def shopper(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SHOPPER_")}
    environ.update(SHOPPER_DATA_DIR=str(data_dir), DAGSTER_HOME=str(data_dir / "dagster_home"), **env)
    return subprocess.run([*SHOPPER, *args], capture_output=True, text=True, env=environ, timeout=120)


def refused(result: subprocess.CompletedProcess) -> str:
    """The one line a refused command prints (and checks that it is all it prints)."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (
            ("demo", "--date", "2025-06-01"),
            {"SHOPPER_START_DATE": "2026-01-01"},
            "before the first partition, 2026-01-01",
        ),
        (("demo", "--date", "2026-13-01"), {}, "--date expects a date as YYYY-MM-DD, got '2026-13-01'"),
        (("demo", "--date", TODAY.isoformat()), {}, "the days must have ended"),
        (("demo", "--date", (TODAY - timedelta(days=2)).isoformat(), "--days", "3"), {}, "must have ended"),
        (("demo", "--days", "0"), {}, "'--days': 0 is not in the range 1<=x<=31"),
        (("demo", "--events-per-day", "50000000"), {}, "'--events-per-day': 50000000 is not in the range"),
        (
            ("generate", "--start", "2025-06-01"),
            {"SHOPPER_START_DATE": "2026-01-01"},
            "set SHOPPER_START_DATE=2025-06-01",
        ),
        (("generate", "--start", TODAY.isoformat(), "--days", "2"), {}, "after today"),
        (("generate",), {}, "Missing option '--start'"),
        (("backfill", "--date", "2026-11-20"), START, "no landing files for 2026-11-20 under"),
        (("backfill", "--date", "2025-11-20"), START, "before the first partition"),
        (("kpis", "--date", "yesterday"), {}, "--date expects a date as YYYY-MM-DD"),
        (("demo",), {"SHOPPER_ENV": "staging"}, "configuration: SHOPPER_ENV must be 'local' or 'prod'"),
        (("demo",), {"SHOPPER_START_DATE": "01/01/2026"}, "configuration: SHOPPER_START_DATE must be YYYY-MM-DD"),
        (("nosuch",), {}, "No such command 'nosuch'"),
    ],
)
def test_a_refused_command_says_why_in_one_line_and_writes_nothing(tmp_path: Path, args, env, says):
    data = tmp_path / "data"
    line = refused(shopper(data, *args, **env))
    assert says in line
    assert files_under(data) == []


def test_an_earlier_day_moves_the_recorded_start_and_says_so(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / START_DATE_FILE).write_text("2026-11-01\n")
    result = shopper(data, "generate", "--start", "2026-10-31", "--events-per-day", "200")
    assert result.returncode == 0, result.stderr
    assert (data / START_DATE_FILE).read_text() == "2026-10-31\n"
    assert f"The partitions now start on 2026-10-31 ({data / START_DATE_FILE})" in result.stdout


def test_the_first_generate_gives_a_data_root_its_start(tmp_path: Path):
    """The partitions of a new data root start on its first day, so the UI's bars show what it holds;
    later days keep that start, and SHOPPER_START_DATE still wins."""
    data = tmp_path / "data"
    result = shopper(data, "generate", "--start", "2026-11-20", "--events-per-day", "500")
    assert result.returncode == 0, result.stderr
    assert (data / START_DATE_FILE).read_text() == "2026-11-20\n"
    assert shopper(data, "generate", "--start", "2026-11-22", "--events-per-day", "500").returncode == 0
    assert (data / START_DATE_FILE).read_text() == "2026-11-20\n"

    environ = {"SHOPPER_DATA_DIR": str(data)}
    assert Settings.from_env(environ).start_date == date(2026, 11, 20)
    assert Settings.from_env({**environ, "SHOPPER_START_DATE": "2019-10-01"}).start_date == date(2019, 10, 1)


def test_a_root_with_landed_days_and_no_record_starts_at_its_first_landed_day(tmp_path: Path):
    data = tmp_path / "data"
    (data / "landing" / "events" / "date=2026-11-02" / "hour=05").mkdir(parents=True)
    (data / "landing" / "events" / "date=notaday").mkdir()
    settings = record_start_date(Settings.from_env({"SHOPPER_DATA_DIR": str(data)}), date(2026, 11, 20))
    assert settings.start_date == date(2026, 11, 2) and (data / START_DATE_FILE).read_text() == "2026-11-02\n"


def test_a_damaged_start_file_is_a_configuration_error(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / START_DATE_FILE).write_text("soon\n")
    line = refused(shopper(data, "kpis"))
    assert f"{data / START_DATE_FILE} must hold one date, YYYY-MM-DD, not 'soon'" in line


def test_a_backfill_names_the_days_without_landing_files(tmp_path: Path):
    data = tmp_path / "data"
    landed = data / "landing" / "events" / "date=2026-11-20" / "hour=05"
    landed.mkdir(parents=True)
    (landed / "a.jsonl.gz").write_bytes(b"")
    line = refused(shopper(data, "backfill", "--date", "2026-11-20", "--days", "3", **START))
    assert f"no landing files for 2026-11-21, 2026-11-22 under {data / 'landing' / 'events'}" in line
    assert "shopper generate --start 2026-11-21" in line
    assert files_under(data) == [landed / "a.jsonl.gz"]


@pytest.mark.parametrize("command", ["ui", "serve", "dashboard"])
def test_a_server_on_a_busy_port_is_refused_in_one_line(tmp_path: Path, command: str):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = refused(shopper(tmp_path / "data", command, "--port", str(port)))
    assert f"port {port} on 127.0.0.1 is in use" in line
