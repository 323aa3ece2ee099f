"""A run whose worker dies gives its ``duckdb`` pool slot back: a heartbeat from every run worker, and
a run launcher that answers Dagster's run monitoring with it.

Dagster frees the pool slots of a run only when the run worker ends its steps, or, with
``run_monitoring.free_slots_after_run_end_seconds``, once the run is *finished*. A worker killed
with ``kill -9`` (or by the OOM killer) is noticed by the code server that spawned it, which marks
the run failed; but if that code server is gone too (a lost container, a restarted ``dagster dev``)
nobody does, the run stays STARTED for ever and every later lake and dbt step waits for its slot.
Run monitoring would mark it failed, but it asks the run launcher whether the worker is alive, and
Dagster's ``DefaultRunLauncher`` cannot tell (``supports_check_run_worker_health`` is False in
1.13, measured: a run whose worker and code server were killed stayed STARTED and held the slot).

So, the smallest mechanism that works wherever the workers run (a process on this machine, the
``code`` container of docker-compose): each run of this code location records a heartbeat, a run
tag rewritten every ``HEARTBEAT_INTERVAL_S`` by a thread of the executor (``in_process_with_heartbeat``),
and ``HeartbeatRunLauncher`` (the default launcher plus a health check) reports a worker whose
heartbeat is older than ``heartbeat_timeout_seconds`` as failed. Run monitoring then marks the run
failed and frees its slots after ``free_slots_after_run_end_seconds`` (both set in ``dagster.yaml``).

The verdict is enforced: a worker that is still alive after all (frozen, or cut off from the
instance's storage for longer than the timeout) finds its run failed at its next heartbeat and exits
at once, before its slot is handed on (the slot is freed only ``free_slots_after_run_end_seconds``
after the failure, which is longer than a heartbeat interval). Runs without the heartbeat tag (other
code locations) are left to Dagster as before.

The health check hook and its result types are Dagster internals (``dagster._core.launcher``);
``tests/faults/test_pool_after_crash.py`` kills real run workers under a real ``dagster-daemon``, and
``test_dagster_still_has_no_worker_health_check`` fails once the default launcher gets a health check
of its own (then this module can go). Listed with the other private members in docs/private-apis.md.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator

from dagster import DagsterRunStatus, DefaultRunLauncher, Executor, Field, IntSource, executor, in_process_executor
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

log = logging.getLogger(__name__)

HEARTBEAT_TAG = "shopper/worker_heartbeat"  # unix seconds of the run worker's latest heartbeat
HEARTBEAT_INTERVAL_S = 5.0
DEFAULT_HEARTBEAT_TIMEOUT_S = 30  # six missed heartbeats
FENCED_EXIT_CODE = 75  # a worker that found its run failed by monitoring exits with this


class Heartbeat:
    """A daemon thread that rewrites the run's heartbeat tag, and stops the process if the run was
    failed meanwhile (see module doc)."""

    def __init__(self, instance, run_id: str, interval_s: float = HEARTBEAT_INTERVAL_S):
        self.instance = instance
        self.run_id = run_id
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="run-worker-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._beat_or_warn()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval_s)

    def beat(self) -> None:
        self.instance.add_run_tags(self.run_id, {HEARTBEAT_TAG: f"{time.time():.3f}"})

    def _beat_or_warn(self) -> None:
        try:
            self.beat()
        except Exception:  # the storage may be briefly unreachable; the next beat retries
            log.warning("heartbeat of run %s not recorded", self.run_id, exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                run = self.instance.get_run_by_id(self.run_id)
            except Exception:
                run = None
            if run is not None and run.status == DagsterRunStatus.FAILURE and not self._stop.is_set():
                log.error("run %s was marked failed while its worker runs: exiting now", self.run_id)
                os._exit(FENCED_EXIT_CODE)
            self._beat_or_warn()


class _HeartbeatExecutor(Executor):
    """Dagster's in-process executor, with the run's heartbeat going while it executes."""

    def __init__(self, inner: Executor):
        self._inner = inner

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan) -> Iterator:
        with Heartbeat(plan_context.instance, plan_context.run_id):
            yield from self._inner.execute(plan_context, execution_plan)


@executor(name="in_process", config_schema=in_process_executor.config_schema)
def in_process_with_heartbeat(init_context) -> Executor:
    """The in-process executor (every step in the run's own process) with the run worker's heartbeat."""
    inner = in_process_executor.executor_creation_fn
    assert inner is not None
    return _HeartbeatExecutor(inner(init_context))


class HeartbeatRunLauncher(DefaultRunLauncher):
    """Dagster's default launcher (a process per run, started by the code server), with a worker health
    check for run monitoring: a run whose heartbeat is older than ``heartbeat_timeout_seconds`` failed."""

    def __init__(self, inst_data=None, heartbeat_timeout_seconds: int = DEFAULT_HEARTBEAT_TIMEOUT_S):
        super().__init__(inst_data=inst_data)
        self.heartbeat_timeout_seconds = heartbeat_timeout_seconds

    @classmethod
    def config_type(cls):
        return {
            "heartbeat_timeout_seconds": Field(
                IntSource,
                is_required=False,
                default_value=DEFAULT_HEARTBEAT_TIMEOUT_S,
                description="Seconds without a heartbeat after which a run worker counts as dead.",
            )
        }

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        beat = run.tags.get(HEARTBEAT_TAG)
        if beat is None:  # not a run of this code location's executor: Dagster's own handling applies
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no heartbeat recorded: not checked")
        silent = time.time() - float(beat)
        if silent > self.heartbeat_timeout_seconds:
            return CheckRunHealthResult(
                WorkerStatus.FAILED,
                f"no heartbeat from the run worker for {silent:.0f} s (limit {self.heartbeat_timeout_seconds} s): "
                "its process is gone (killed, out of memory, or its container lost)",
            )
        return CheckRunHealthResult(WorkerStatus.RUNNING)
