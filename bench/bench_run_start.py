"""Where a run's start goes: launch -> worker process -> code location loaded -> RUN_START -> first STEP_START.

    python bench/bench_run_start.py --runs 10

Runs are launched the two ways users launch them, on a temporary DAGSTER_HOME seeded from the repo's
dagster.yaml and an empty data folder (each run is ``lake_job`` over an hour without landing files,
so its step ends at once and the runs measure nothing but their start):

* ``daemon``: ``dagster dev`` (webserver, daemon and code server, as bench_kafka_latency.py runs it)
  on the repo's dagster.yaml; each run is submitted through the webserver's GraphQL API (what the UI
  does; a sensor's run is created by the daemon instead, the rest is the same): the
  ``QueuedRunCoordinator`` queues it, the daemon dequeues it, and the run launcher
  (``ForkingRunLauncher``) forks its worker from the fork server that has the code location loaded.
* ``spawn``: the same, with the launcher prod uses (``HeartbeatRunLauncher``, Dagster's default
  launcher plus a heartbeat check): the code server spawns each run worker, a fresh interpreter that
  imports Dagster and the code location again. ``daemon`` against ``spawn`` is the fork server's gain.
  A thread notes the start time of every process ``dagster dev`` starts (from the kernel, so polling
  every 0.2 s loses no precision).
* ``cli``: ``dagster job execute -m shopper_assets.definitions``, one process that loads the code
  location, creates the run and executes it.

Stages come from the instance's event log (``RUN_STARTING``, the worker's ``Started process for run``
engine event, ``RUN_START``, the first ``STEP_START``); p50/p99 over the runs. Then the code location
on its own, in fresh processes: ``import shopper_assets.definitions``, building ``defs()``, and the
modules with the largest cumulative import time (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import psutil
import yaml
from common import stop_dagster_dev  # bench/common.py

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
LOCATION = "shopper_assets.definitions"
JOB = "lake_job"
FOLLOWING_SENSORS = ("shopper_automation", "marts_follow_sensor")
STARTED_PROCESS = re.compile(r"Started process for run \(pid: (\d+)\)")
#: The launcher of the ``spawn`` route: prod's (deploy/dagster.prod.yaml), whose code server spawns workers.
SPAWNING_LAUNCHER = {"module": "shopper_assets.run_health", "class": "HeartbeatRunLauncher"}
#: Stages of a daemon-launched run: (label, from event, to event).
DAEMON_STAGES = [
    ("queued: created -> RUN_STARTING (dequeue, launch)", "created", "RUN_STARTING"),
    ("start: RUN_STARTING -> worker process started", "RUN_STARTING", "worker_spawned"),
    ("worker: started -> `Started process` (python, dagster)", "worker_spawned", "worker_ready"),
    ("load: -> RUN_START (code location, plan)", "worker_ready", "RUN_START"),
    ("executor: RUN_START -> first STEP_START", "RUN_START", "STEP_START"),
    ("launch -> first step: RUN_STARTING -> STEP_START", "RUN_STARTING", "STEP_START"),
    ("created -> first step", "created", "STEP_START"),
]

#: Stages of a ``dagster job execute`` run (launched = the command's start).
CLI_STAGES = [
    ("load: launched -> run created (python, code location)", "launched", "created"),
    ("plan: created -> RUN_START", "created", "RUN_START"),
    ("executor: RUN_START -> first STEP_START", "RUN_START", "STEP_START"),
    ("launch -> first step", "launched", "STEP_START"),
    ("whole command", "launched", "exited"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_events(instance, run_id: str) -> dict[str, float]:
    """Epoch seconds of the events of a run that mark its stages (the first of each)."""
    record = instance.get_run_record_by_id(run_id)
    at = {"created": record.create_timestamp.timestamp()}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        name = event.event_type.name if event else ""
        if name == "ENGINE_EVENT" and (m := STARTED_PROCESS.search(event.message or "")):
            at.setdefault("worker_ready", entry.timestamp)
            at["worker_pid"] = float(m.group(1))
        elif name == "ENGINE_EVENT" and "blocked by limit for pool" in (event.message or ""):
            at.setdefault("pool_blocked", entry.timestamp)
        elif name in {"RUN_STARTING", "RUN_START", "STEP_START", "RUN_SUCCESS", "RUN_FAILURE"}:
            at.setdefault(name, entry.timestamp)
    return at


def stage_table(title: str, rows: list[dict[str, float]], stages: list[tuple[str, str, str]]) -> None:
    blocked = sum("pool_blocked" in r for r in rows)
    print(f"\n{title}: {len(rows)} runs ({blocked} waited for a pool slot)")
    print(f"  {'stage':<58} {'p50':>7} {'p99':>7} {'max':>7}")
    for label, start, end in stages:
        values = [r[end] - r[start] for r in rows if start in r and end in r]
        if values:
            p50, p99 = np.percentile(values, [50, 99])
            print(f"  {label:<58} {p50:6.2f}s {p99:6.2f}s {max(values):6.2f}s")


class SpawnWatcher(threading.Thread):
    """Notes the start time (epoch s, from the kernel) of every descendant process of ``root``."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root = psutil.Process(root)
        self.started: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            with contextlib.suppress(psutil.Error):
                for p in self.root.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        self.started.setdefault(p.pid, p.create_time())


def wait_terminal(instance, run_id: str, timeout: float = 120) -> None:
    from dagster import DagsterRunStatus

    done = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = instance.get_run_by_id(run_id)
        if run and run.status in done:
            if run.status != DagsterRunStatus.SUCCESS:
                raise SystemExit(f"run {run_id} ended {run.status}")
            return
        time.sleep(0.25)
    raise SystemExit(f"run {run_id} did not end within {timeout} s")


def daemon_route(
    env: dict[str, str], home: pathlib.Path, hours: list[str], log: pathlib.Path, burst: int = 1
) -> list[dict]:
    """Runs submitted to ``dagster dev``, ``burst`` at a time (each group waited for); their stages."""
    from dagster import DagsterInstance
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    # Declarative automation and marts_follow_sensor would follow each lake run with a dbt run: the runs
    # would then measure the wait for the duckdb pool and the CPU dbt takes, not their start. alert_sensor
    # ticks as usual.
    for sensor in FOLLOWING_SENSORS:
        stop = [str(BIN / "dagster"), "sensor", "stop", sensor, "-m", LOCATION]
        subprocess.run(stop, cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    dev = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-m", LOCATION, "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    rows = []
    try:
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        deadline = time.time() + 180
        submit = None
        while submit is None:  # the code location loads: the first submission that works is run 1
            try:
                submit = client.submit_job_execution(JOB, tags={"dagster/partition": hours[0]})
            except (DagsterGraphQLClientError, OSError, Exception):  # not up yet (the client raises several kinds)
                if time.time() > deadline or dev.poll() is not None:
                    raise SystemExit(f"dagster dev did not come up: see {log}") from None
                time.sleep(1)
        time.sleep(3)  # let the first-load work (daemon start, first sensor ticks) settle before measuring
        watcher = SpawnWatcher(dev.pid)
        watcher.start()
        with DagsterInstance.from_config(str(home)) as instance:
            wait_terminal(instance, submit)
            for group in range(1, len(hours), burst):  # ``burst`` runs submitted at once, then waited for
                run_ids = [
                    client.submit_job_execution(JOB, tags={"dagster/partition": h}) for h in hours[group:][:burst]
                ]
                for run_id in run_ids:
                    wait_terminal(instance, run_id)
                for position, run_id in enumerate(run_ids):
                    at = run_events(instance, run_id) | {"position": position}
                    pid = int(at.get("worker_pid", -1))
                    if pid in watcher.started:
                        at["worker_spawned"] = watcher.started[pid]
                    rows.append(at)
        watcher.stop.set()
    finally:
        stop_dagster_dev(dev)
    return rows


def cli_route(env: dict[str, str], hours: list[str], log: pathlib.Path) -> list[dict]:
    """``dagster job execute`` for each hour; their stages (launch = the command's start)."""
    from dagster import DagsterInstance

    rows = []
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        for hour in hours:
            before = {r.dagster_run.run_id for r in instance.get_run_records()}
            command = [str(BIN / "dagster"), "job", "execute", "-m", LOCATION, "-j", JOB]
            command += ["--tags", json.dumps({"dagster/partition": hour})]
            launched = time.time()
            with log.open("ab") as out:
                subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=True)
            ended = time.time()
            (run_id,) = {r.dagster_run.run_id for r in instance.get_run_records()} - before
            rows.append({"launched": launched, "exited": ended, **run_events(instance, run_id)})
    return rows


def code_location_load(env: dict[str, str], repeat: int) -> None:
    """Import and build the code location in fresh processes; then its slowest imports."""
    probe = (
        "import time; t0 = time.perf_counter(); import shopper_assets.definitions as d; t1 = time.perf_counter(); "
        "d.defs(); t2 = time.perf_counter(); print(f'{t1 - t0:.3f} {t2 - t1:.3f}')"
    )
    times = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
        times.append([float(v) for v in out.stdout.split()[-2:]])
    baseline = []
    for code in ("import dagster", "import dagster, dagster_dbt"):
        probe_one = f"import time; t0 = time.perf_counter(); {code}; print(time.perf_counter() - t0)"
        runs = [
            float(subprocess.run([sys.executable, "-c", probe_one], env=env, capture_output=True, text=True).stdout)
            for _ in range(repeat)
        ]
        baseline.append(f"`{code}` {np.median(runs):.2f} s")
    imported, built = np.median(np.array(times), axis=0)
    print(f"\ncode location in a fresh process, median of {repeat}: import {imported:.2f} s, defs() {built:.2f} s")
    print("  for comparison: " + ", ".join(baseline))
    trace = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {LOCATION}"], env=env, capture_output=True, text=True
    ).stderr
    rows = []
    for line in trace.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    print("  largest cumulative imports (python -X importtime, one run; us, indented by depth):")
    for cumulative, name in sorted(rows, reverse=True)[:25]:
        print(f"    {cumulative / 1e6:6.3f} s {name}")
    heavy = ("dbt", "pandas", "pyarrow", "duckdb", "confluent_kafka", "boto3", "psycopg", "fastapi", "streamlit")
    present = [h for h in heavy if any(name.strip() == h for _, name in rows)]
    print(f"  of {', '.join(heavy)} imported at load: {', '.join(present) or 'none'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="runs measured per route")
    parser.add_argument("--routes", default="daemon,spawn,cli", help="comma-separated: daemon, spawn, cli")
    parser.add_argument(
        "--burst", type=int, default=1, help="daemon route: runs submitted at once (as a sensor's lake and dbt runs)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes timing the code location load")
    parser.add_argument(
        "--instance",
        type=pathlib.Path,
        default=ROOT / "dagster.yaml",
        help="the dagster.yaml to measure with (spawn swaps its run launcher)",
    )
    parser.add_argument("--keep", type=pathlib.Path, help="use this directory and keep it")
    args = parser.parse_args()
    if not 1 <= args.runs <= 11:
        parser.error("--runs must be 1..11 (each route runs its own hours of two days)")

    work = args.keep or pathlib.Path(tempfile.mkdtemp(prefix="bench-run-start-"))
    day = datetime.now(UTC).date() - timedelta(days=2)  # two whole days of hours: a run per hour, none twice
    instance_yaml = yaml.safe_load(args.instance.read_text())
    spawning = instance_yaml | {"run_launcher": instance_yaml["run_launcher"] | SPAWNING_LAUNCHER}
    homes = {"daemon": instance_yaml, "spawn": spawning, "cli": instance_yaml}
    envs = {}
    for route, settings in homes.items():
        home = work / f"dagster_home_{route}"
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text(yaml.safe_dump(settings))
        envs[route] = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "SHOPPER_DATA_DIR": str(work / "data"),
            "SHOPPER_START_DATE": day.isoformat(),
        }
        subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=envs[route], check=True, capture_output=True)
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    routes = args.routes.split(",")
    hour_keys = [f"{day + timedelta(days=h // 24)}-{h % 24:02d}:00" for h in range(48)]
    medians = {}
    for route, first_hour, launcher in (
        ("daemon", 0, "forked by ForkingRunLauncher"),
        ("spawn", 24, "spawned by the code server"),
    ):
        if route not in routes:
            continue
        # one more run than measured: the first waits for the code location to load
        hours = hour_keys[first_hour : first_hour + args.runs + 1]
        env, home = envs[route], pathlib.Path(envs[route]["DAGSTER_HOME"])
        rows = daemon_route(env, home, hours, work / f"dagster_dev_{route}.log", args.burst)
        title = f"{route}: runs through dagster dev (queued run coordinator, daemon), workers {launcher}"
        stage_table(f"{title}, {args.burst} at once", rows, DAEMON_STAGES)
        if args.burst > 1:
            later = [r for r in rows if r["position"] > 0]
            stage_table("  of which the runs submitted after another one at the same moment", later, DAEMON_STAGES)
        medians[route] = np.median([r["STEP_START"] - r["RUN_STARTING"] for r in rows])
    if "cli" in routes:
        stage_table(
            "cli: dagster job execute",
            cli_route(envs["cli"], hour_keys[12 : 12 + args.runs], work / "cli.log"),
            CLI_STAGES,
        )
    if medians:
        print(
            "\nlaunch -> first step (RUN_STARTING -> STEP_START), median: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in medians.items())
        )
    code_location_load(env, args.repeat)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}; logs and data in {work}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
