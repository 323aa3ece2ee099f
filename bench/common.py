"""Figures every benchmark prints the same way (seconds, events/s and the process's peak memory), and the
platform run as a user runs it: a fresh local deployment and its lake step and ``marts_job`` through
Dagster's command line."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).with_name("dagster")
LOCATION = ["-m", "shopper_assets.definitions"]
LAKE_ASSETS = "raw_events,cleaned_events,quarantined_events"


def peak_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(stage: str, seconds: float, events: int, width: int = 28, peak: float | None = None) -> None:
    """One figure line; ``peak`` (MiB) is another process's peak RSS (default: this process's)."""
    rate = events / seconds if seconds > 0 else float("inf")
    memory = peak_mb() if peak is None else peak
    print(f"{stage:<{width}} {seconds:8.2f} s  {rate:>12,.0f} events/s  peak RSS {memory:8,.0f} MB", flush=True)


@dataclass
class Measured:
    """A command run to its end: wall seconds, exit status and the peak resident memory of its process tree."""

    seconds: float
    returncode: int
    tree_peak_mb: float  # the largest sum of the tree's RSS seen at one sample
    process_peak_mb: float  # the largest peak RSS of one process of the tree (the kernel's VmHWM)


def run_measured(command: list[str], log: Path, interval: float = 0.25, **popen) -> Measured:
    """Run ``command`` (output to ``log``), sampling the memory of it and its descendants every ``interval`` s.

    The sum of the tree's RSS is sampled, so a peak shorter than ``interval`` may be missed; each process's
    own peak is the kernel's high-water mark (``VmHWM``), read until it ends. Not ``wait4``'s ``ru_maxrss``:
    a child's counts this (the bench's) process's RSS at the fork. Linux only (``/proc``).
    """
    import psutil  # the dev extra

    tree_peak = 0
    process_peaks: dict[int, int] = {}
    with log.open("wb") as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, **popen)
        root = psutil.Process(child.pid)
        while child.poll() is None:
            tree_peak = max(tree_peak, sample_tree(root, process_peaks))
            time.sleep(interval)
        seconds = time.perf_counter() - started
    mib = 1024 * 1024
    return Measured(seconds, child.returncode, tree_peak / mib, max(process_peaks.values(), default=0) / mib)


def sample_tree(root, process_peaks: dict[int, int]) -> int:
    """The summed RSS (bytes) of the ``psutil.Process`` ``root`` and its descendants now; records each
    process's own peak (``VmHWM``) in ``process_peaks`` by pid."""
    import psutil  # the dev extra

    total = 0
    with contextlib.suppress(psutil.NoSuchProcess):  # the process ended meanwhile
        for p in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, OSError):
                total += p.memory_info().rss
                process_peaks[p.pid] = max(process_peaks.get(p.pid, 0), _high_water_mark(p.pid))
    return total


def _high_water_mark(pid: int) -> int:
    """The process's peak resident memory so far, in bytes (``VmHWM`` of ``/proc/<pid>/status``; 0 once it ended)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def dbt_build_day(dbt, day: date, target_path: Path, extra_env: dict[str, str] | None = None, window_as_vars=False):
    """`dbt build` of one day as the daily dbt assets run it; returns the finished invocation.

    Imported late: shopper_assets reads its settings from the environment the caller sets up first.
    """
    from shopper_assets.transform import DbtBuildConfig, dbt_build_command
    from shopper_assets.transform.resources import environment

    args, env = dbt_build_command((day, day + timedelta(days=1)), DbtBuildConfig(window_as_vars=window_as_vars))
    with environment({**env, **(extra_env or {})}):  # dbt copies the environment when it starts
        invocation = dbt.cli(args, target_path=target_path, raise_on_error=False)
    invocation.wait()
    return invocation


def lines_of(files: str) -> str:
    """The landing files' lines as one VARCHAR column: a delimiter and no quoting that JSON lines never contain."""
    return f"read_csv({files}, columns = {{'line': 'VARCHAR'}}, delim = '\\x1f', quote = '', header = false)"


def platform_env(data_dir: Path, day: date, home: Path | None = None) -> dict[str, str]:
    """A fresh local deployment: its own data dir, warehouse and Dagster instance (the repo's dagster.yaml,
    in ``home``, default ``data_dir/dagster_home``); the caller's SHOPPER_ and DAGSTER_ variables left out."""
    home = home or data_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPPER_", "DAGSTER_"))}
    return {
        **env,
        "SHOPPER_ENV": "local",
        "SHOPPER_DATA_DIR": str(data_dir),
        "SHOPPER_START_DATE": day.isoformat(),
        "DAGSTER_HOME": str(home),
    }


def lake_step_args(day: date, first_hour: int = 0, last_hour: int = 23) -> list[str]:
    """`dagster asset materialize` of the lake step (raw, cleaned and quarantined events, their checks)
    for the hours ``first_hour``..``last_hour`` of ``day`` in one run."""
    hours = f"{day}-{first_hour:02d}:00...{day}-{last_hour:02d}:00"
    return ["asset", "materialize", *LOCATION, "--select", LAKE_ASSETS, "--partition-range", hours]


def marts_job_args(day: date) -> list[str]:
    """`dagster job execute` of ``marts_job`` for ``day``: its ad spend and daily dbt models, dbt tests as checks."""
    the_day = json.dumps({f"dagster/asset_partition_range_{end}": f"{day}" for end in ("start", "end")})
    return ["job", "execute", *LOCATION, "-j", "marts_job", "--tags", the_day]


def run_dagster(args: list[str], log: Path, env: dict[str, str], step: str, events: int) -> Measured:
    """One Dagster CLI command to its end, timed from its start to its exit (process start and code
    location load included); prints its figure line and its tree's peak, exits with its output if it fails."""
    measured = run_measured([str(DAGSTER), *args], log, env=env, cwd=REPO)
    _check(measured, log, f"dagster {' '.join(args[:2])} ({step})")
    report(f"{step} ({' '.join(args[:2])})", measured.seconds, events, peak=measured.process_peak_mb)
    print(f"{'':<28} process tree peak (sampled) {measured.tree_peak_mb:,.0f} MB", flush=True)
    return measured


def validate_definitions(env: dict[str, str], log: Path) -> float:
    """`dagster definitions validate`, untimed by the caller's figures: a fresh dbt manifest when the
    project changed (definitions.py's ensure_manifest) and warm file caches; returns its seconds."""
    measured = run_measured([str(DAGSTER), "definitions", "validate", *LOCATION], log, env=env)
    _check(measured, log, "dagster definitions validate")
    return measured.seconds


def _check(measured: Measured, log: Path, what: str) -> None:
    if measured.returncode:
        print(log.read_text(errors="replace")[-4000:])
        sys.exit(f"{what} failed (exit status {measured.returncode}); its output: {log}")


def stop_dagster_dev(dev: subprocess.Popen) -> None:
    """Stop a ``dagster dev`` started in its own process group as Ctrl-C would (its daemon and code
    server with it); kill the group if it has not exited within a minute. Then wait for the processes
    it had started, run workers among them: an interrupted run's worker records its failure after
    ``dagster dev`` has exited (into a directory the caller may be about to remove)."""
    import psutil  # the dev extra

    try:
        tree = psutil.Process(dev.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        tree = []
    os.killpg(dev.pid, signal.SIGINT)
    try:
        dev.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(dev.pid, signal.SIGKILL)
    _, alive = psutil.wait_procs(tree, timeout=30)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def start_moto() -> tuple[subprocess.Popen, str]:
    """A moto S3 server subprocess on a free port; returns it and its endpoint."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("moto server did not start")


def upload(root: Path, client, bucket: str, only: tuple[str, ...] = ()) -> int:
    """Every landing file under ``root`` (or those under the landing folders ``only``, e.g.
    ``events/date=2026-11-20/hour=12``) to the same key in ``bucket``; returns the bytes sent."""
    from shopper_assets.ingestion.landing import LANDING_PREFIX

    folders = [root / LANDING_PREFIX / f for f in only] or [root / LANDING_PREFIX]
    files = sorted(p for folder in folders for p in folder.rglob("*") if p.is_file())

    def put(path: Path) -> int:
        key = f"{LANDING_PREFIX}/{path.relative_to(root / LANDING_PREFIX).as_posix()}"
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        return path.stat().st_size

    with ThreadPoolExecutor(8) as pool:
        return sum(pool.map(put, files))
