"""Issue 16, item 1: a run whose worker is killed gives the ``duckdb`` pool slot back; and issue 19's
forked run workers (``ForkingRunLauncher``) under the same real daemon.

A real ``dagster-daemon`` (run queue, run monitoring) launches real run workers, forked from the
code location's fork server, on a SQLite instance made from this repo's ``dagster.yaml``, with only
the timings shortened (``TIMINGS``) so that a case takes seconds. Run A holds the slot; run B waits
for it; A's worker is killed with SIGKILL, alone (the fork server sees its child die and fails the
run) or together with its fork server (a lost container: nobody fails the run but the heartbeat
check). B must get the slot within ``bound()``; before issue 16, it never did.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus, DefaultRunLauncher
from dagster._core.launcher import WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._grpc.server import DagsterApiServer

from shopper_assets.fork_launcher import FORKED_WORKER_TAG, ForkingRunLauncher
from shopper_assets.run_health import FENCED_EXIT_CODE, HEARTBEAT_INTERVAL_S, HEARTBEAT_TAG, HeartbeatRunLauncher

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TIMINGS = {"heartbeat_timeout_seconds": 10, "poll_interval_seconds": 1, "free_slots_after_run_end_seconds": 6}
MAX_CLAIM_INTERVAL_S = 15  # Dagster's longest back-off between two claims of a step waiting for a pool slot


def bound(config: dict) -> float:
    """Seconds from the kill until a waiting run's step holds the slot, with the instance's ``config``:
    the worker is found dead (heartbeat timeout, plus one monitoring poll), its slot freed (the delay,
    plus one poll), and the waiting step claims it (its back-off)."""
    monitoring = config["run_monitoring"]
    return (
        config["run_launcher"]["config"]["heartbeat_timeout_seconds"]
        + monitoring["free_slots_after_run_end_seconds"]
        + 2 * monitoring["poll_interval_seconds"]
        + MAX_CLAIM_INTERVAL_S
    )


@dataclass
class Daemon:
    home: Path
    pids: Path
    workspace: Path
    env: dict[str, str]
    config: dict
    process: subprocess.Popen

    def launch(self, tag: str, hold_s: float = 3600.0) -> None:
        run_config = {"ops": {"holds_the_pool": {"config": {"tag": tag, "hold_s": hold_s}}}}
        args = ["job", "launch", "-w", str(self.workspace), "-j", "hold", "--config-json", json.dumps(run_config)]
        result = subprocess.run(
            [str(BIN / "dagster"), *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]

    def pid(self, tag: str, timeout_s: float) -> tuple[int, float]:
        """The process of run ``tag`` once its step holds the slot, and when that was seen."""
        path = self.pids / f"{tag}.pid"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if path.exists() and path.read_text():
                return int(path.read_text()), time.monotonic()
            time.sleep(0.2)
        raise AssertionError(f"run {tag} never held the duckdb slot within {timeout_s:.0f} s\n{self.log()}")

    def log(self) -> str:
        return (self.home / "daemon.log").read_text()[-3000:]


def instance_config() -> dict:
    """The repo's dagster.yaml, with the fault test's shorter timings."""
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    config["run_launcher"]["config"]["heartbeat_timeout_seconds"] = TIMINGS["heartbeat_timeout_seconds"]
    config["run_monitoring"]["poll_interval_seconds"] = TIMINGS["poll_interval_seconds"]
    config["run_monitoring"]["free_slots_after_run_end_seconds"] = TIMINGS["free_slots_after_run_end_seconds"]
    return config


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    base = tmp_path_factory.mktemp("pool_faults")
    home, pids = base / "home", base / "pids"
    home.mkdir()
    pids.mkdir()
    config = instance_config()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    workspace = base / "workspace.yaml"
    shutil.copy(ROOT / "tests/faults/pool_location.py", base / "pool_location.py")  # a test changes it
    location = {"relative_path": str(base / "pool_location.py"), "working_directory": str(base)}
    workspace.write_text(yaml.safe_dump({"load_from": [{"python_file": {**location, "location_name": "pool_faults"}}]}))
    env = {**os.environ, "DAGSTER_HOME": str(home), "POOL_FAULTS_DIR": str(pids)}
    with DagsterInstance.from_config(str(home)):  # its storage, before the daemon and the CLI race to create it
        pass
    with open(home / "daemon.log", "w") as log:
        process = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its code servers and run workers share its process group
        )
    try:
        yield Daemon(home, pids, workspace, env, config, process)
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):  # what is left: orphaned workers of a killed code server
        os.killpg(process.pid, signal.SIGKILL)


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def run_of(home: Path, tag: str):
    with DagsterInstance.from_config(str(home)) as instance:
        for record in instance.get_run_records():
            if record.dagster_run.run_config["ops"]["holds_the_pool"]["config"]["tag"] == tag:
                return record.dagster_run, [e.message for e in instance.all_logs(record.dagster_run.run_id)]
    raise AssertionError(f"no run {tag}")


def wait_for_status(home: Path, tag: str, status: DagsterRunStatus, timeout_s: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run, messages = run_of(home, tag)
        if run.status == status:
            return messages
        time.sleep(0.5)
    raise AssertionError(f"run {tag} is {run.status}, not {status}: {messages[-5:]}")


def test_a_killed_worker_gives_the_slot_to_the_waiting_run(daemon: Daemon):
    """kill -9 of the run worker: the fork server that forked it fails the run, run monitoring frees the slot."""
    daemon.launch("a1")
    worker, _ = daemon.pid("a1", timeout_s=120)
    daemon.launch("b1", hold_s=0)  # waits for the slot, its process started (op_granularity_run_buffer)
    wait_for_status(daemon.home, "b1", DagsterRunStatus.STARTED)

    os.kill(worker, signal.SIGKILL)
    killed = time.monotonic()
    _, got_slot = daemon.pid("b1", timeout_s=bound(daemon.config) + 30)

    print(f"killed worker: the waiting run held the slot {got_slot - killed:.1f} s later")
    assert got_slot - killed <= bound(daemon.config)
    messages = wait_for_status(daemon.home, "a1", DagsterRunStatus.FAILURE)
    assert any(f"Run worker (pid {worker}, forked)" in m and "exited with code -9" in m for m in messages)
    wait_for_status(daemon.home, "b1", DagsterRunStatus.SUCCESS)


def test_a_lost_container_gives_the_slot_back_through_the_heartbeat(daemon: Daemon):
    """kill -9 of the run worker and of the fork server that forked it (what a lost container does):
    nobody reports the run failed but run monitoring, from the missing heartbeat. (The waiting run's
    worker, a child of the same fork server, lives on: a lost container would take it too, and the
    run would be failed the same way and retried.)"""
    daemon.launch("a2")
    worker, _ = daemon.pid("a2", timeout_s=120)
    daemon.launch("b2", hold_s=0)
    wait_for_status(daemon.home, "b2", DagsterRunStatus.STARTED)
    fork_server = parent_of(worker)
    assert "shopper_assets.fork_server" in Path(f"/proc/{fork_server}/cmdline").read_text()

    os.kill(fork_server, signal.SIGKILL)
    os.kill(worker, signal.SIGKILL)
    killed = time.monotonic()
    _, got_slot = daemon.pid("b2", timeout_s=bound(daemon.config) + 30)

    print(f"lost container: the waiting run held the slot {got_slot - killed:.1f} s later")
    assert got_slot - killed <= bound(daemon.config)
    messages = wait_for_status(daemon.home, "a2", DagsterRunStatus.FAILURE)
    assert any("no heartbeat from the run worker" in m for m in messages), messages[-5:]
    wait_for_status(daemon.home, "b2", DagsterRunStatus.SUCCESS)


def command_of(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_a_forked_run_is_terminated_from_another_process(daemon: Daemon):
    """A run's worker is forked from the fork server (not spawned by the code server) and tagged with its
    process; the launcher of another process (the webserver's, as the UI's Terminate uses) interrupts it:
    the run ends cancelled and gives the slot back."""
    daemon.launch("t1")
    worker, _ = daemon.pid("t1", timeout_s=120)
    assert "shopper_assets.fork_server" in command_of(parent_of(worker))
    run, messages = run_of(daemon.home, "t1")
    assert run.tags[FORKED_WORKER_TAG] == f"{os.uname().nodename}:{worker}"
    assert f"Started process for run (pid: {worker})." in messages
    with DagsterInstance.from_config(str(daemon.home)) as instance:
        assert isinstance(instance.run_launcher, ForkingRunLauncher)
        assert instance.run_launcher.terminate(run.run_id)
    wait_for_status(daemon.home, "t1", DagsterRunStatus.CANCELED)
    daemon.launch("t2", hold_s=0)
    wait_for_status(daemon.home, "t2", DagsterRunStatus.SUCCESS, timeout_s=bound(daemon.config) + 30)


def test_changed_code_is_not_run_by_a_stale_fork_server(daemon: Daemon):
    """Once a file the code location loaded changes, the fork server exits at the next launch, which
    goes through the code server; the launch after it starts a fresh fork server."""
    daemon.launch("s0", hold_s=0)  # a fork server is up
    wait_for_status(daemon.home, "s0", DagsterRunStatus.SUCCESS)
    location = daemon.workspace.parent / "pool_location.py"
    os.utime(location, ns=(time.time_ns(), time.time_ns()))
    daemon.launch("s1", hold_s=0)
    wait_for_status(daemon.home, "s1", DagsterRunStatus.SUCCESS)
    daemon.launch("s2", hold_s=0)
    wait_for_status(daemon.home, "s2", DagsterRunStatus.SUCCESS)
    tagged = {tag: FORKED_WORKER_TAG in run_of(daemon.home, tag)[0].tags for tag in ("s0", "s1", "s2")}
    assert tagged == {"s0": True, "s1": False, "s2": True}
    assert "goes through the code server: {'stale': ['" + str(location) in (daemon.home / "daemon.log").read_text()


def test_dagster_still_spawns_every_run_worker():
    """Why fork_server.py exists: Dagster's code server starts each run worker in a fresh interpreter
    (multiprocessing's spawn), which loads the code location again. When this fails, compare Dagster's
    own start with the forked one (bench/bench_run_start.py) before keeping ForkingRunLauncher."""
    source = inspect.getsource(DagsterApiServer.__init__)
    assert 'multiprocessing.get_context("spawn")' in source


LAUNCHERS = {
    "dagster.yaml": ("shopper_assets.fork_launcher", "ForkingRunLauncher"),
    "dagster.prod.yaml": ("shopper_assets.run_health", "HeartbeatRunLauncher"),
}


def test_the_repo_instances_free_the_slots_of_dead_runs():
    """dagster.yaml and the docker-compose instance both use the mechanism, and its timings are safe: a
    worker found dead by mistake stops at its next heartbeat, before its slot is handed on."""
    for path in (ROOT / "dagster.yaml", ROOT / "deploy" / "dagster.prod.yaml"):
        config = yaml.safe_load(path.read_text())
        launcher = config["run_launcher"]
        # locally runs start in forked workers; prod's start in the code container (deploy/prod_instance.py)
        assert (launcher["module"], launcher["class"]) == LAUNCHERS[path.name]
        monitoring = config["run_monitoring"]
        assert monitoring["enabled"]
        assert monitoring["free_slots_after_run_end_seconds"] > HEARTBEAT_INTERVAL_S
        assert launcher["config"]["heartbeat_timeout_seconds"] >= 3 * HEARTBEAT_INTERVAL_S
        assert bound(config) <= 90, "the README states about a minute"


def test_dagster_still_has_no_worker_health_check(tmp_path: Path):
    """Why run_health.py exists: Dagster's default launcher cannot tell a dead worker (1.13). When this
    fails, Dagster checks workers itself and HeartbeatRunLauncher can go."""
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.run_launcher, HeartbeatRunLauncher)
        assert instance.run_launcher.supports_check_run_worker_health
    assert not DefaultRunLauncher().supports_check_run_worker_health


FENCED_WORKER = """
import sys, time
from dagster import DagsterInstance
from shopper_assets.run_health import Heartbeat

with DagsterInstance.from_config(sys.argv[1]) as instance, Heartbeat(instance, sys.argv[2], interval_s=0.2):
    print("beating", flush=True)
    time.sleep(60)  # a worker still at work
"""


def test_a_worker_failed_by_mistake_stops_at_its_next_heartbeat(tmp_path: Path):
    """Run monitoring failed the run while its worker lives (frozen for a while, or cut off from the
    storage): the worker exits at its next heartbeat, well before the slot is freed and handed on."""
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        run = instance.add_run(DagsterRun(job_name="lake", status=DagsterRunStatus.STARTED))
        worker = subprocess.Popen(
            [sys.executable, "-c", FENCED_WORKER, str(tmp_path), run.run_id], stdout=subprocess.PIPE, text=True
        )
        try:
            assert worker.stdout.readline().strip() == "beating"
            assert HEARTBEAT_TAG in instance.get_run_by_id(run.run_id).tags
            instance.report_run_failed(run, "no heartbeat (test)")
            failed = time.monotonic()
            assert worker.wait(timeout=30) == FENCED_EXIT_CODE
            assert time.monotonic() - failed < HEARTBEAT_INTERVAL_S  # (here 0.2 s a beat)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


def test_the_health_check_judges_only_runs_with_a_heartbeat():
    launcher = HeartbeatRunLauncher(heartbeat_timeout_seconds=30)
    fresh = DagsterRun(job_name="lake", tags={HEARTBEAT_TAG: f"{time.time() - 5:.3f}"})
    stale = DagsterRun(job_name="lake", tags={HEARTBEAT_TAG: f"{time.time() - 31:.3f}"})
    other = DagsterRun(job_name="another_code_location")
    assert launcher.check_run_worker_health(fresh).status == WorkerStatus.RUNNING
    assert launcher.check_run_worker_health(stale).status == WorkerStatus.FAILED
    assert launcher.check_run_worker_health(other).status == WorkerStatus.RUNNING  # left to Dagster
