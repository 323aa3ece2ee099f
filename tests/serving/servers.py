"""Real server processes for the read-side tests: start on a free port, wait until they answer,
stop them (by their own pid) afterwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SHOPPER = [sys.executable, "-m", "shopper_assets.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a local deployment on ``data_dir`` (its warehouse, its Dagster home, made
    here as ``shopper demo`` makes it: with the repo's dagster.yaml)."""
    home = data_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPPER_", "DAGSTER_HOME"))}
    env.update(
        SHOPPER_ENV="local",
        SHOPPER_DATA_DIR=str(data_dir),
        SHOPPER_DUCKDB_PATH=str(data_dir / "shopper.duckdb"),
        DAGSTER_HOME=str(data_dir / "dagster_home"),
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running(command: list[str], env: dict[str, str], url: str, ready_path: str, log: Path, timeout: float = 90):
    """Run ``command`` until the context ends; ready once ``url + ready_path`` answers below 500."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    server = Server(url, process, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[3:5]} exited with {process.returncode}:\n{server.output()[-3000:]}")
            try:
                if httpx.get(url + ready_path, timeout=5).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} not ready after {timeout} s:\n{server.output()[-3000:]}")
            time.sleep(0.25)
        yield server
    finally:
        stop_tree(process)


def stop_tree(process: subprocess.Popen, grace: float = 15) -> None:
    """Stop a process we started and every process it started, each by its pid (``dagster dev``
    runs a webserver, a daemon and code servers; its children outlive a killed parent)."""
    import psutil

    try:
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _, alive = psutil.wait_procs(family, timeout=grace)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(alive, timeout=grace)
    process.wait(grace)


@contextmanager
def api_server(data_dir: Path, log_dir: Path, **env: str) -> Iterator[Server]:
    """``shopper serve`` on the deployment at ``data_dir``."""
    port = free_port()
    command = [*SHOPPER, "serve", "--port", str(port)]
    with running(command, local_env(data_dir, **env), f"http://127.0.0.1:{port}", "/health", log_dir / "api.log") as s:
        yield s


@contextmanager
def dashboard_server(data_dir: Path, log_dir: Path, **env: str) -> Iterator[Server]:
    """``shopper dashboard`` on the deployment at ``data_dir``."""
    port = free_port()
    command = [*SHOPPER, "dashboard", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(command, local_env(data_dir, **env), url, "/_stcore/health", log_dir / "dashboard.log") as s:
        yield s
