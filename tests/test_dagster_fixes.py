"""The Dagster fix of shopper_assets.dagster_fixes: a step waiting for a pool slot sleeps instead
of spinning a CPU core. Real executor, real (SQLite) instance storage, a one-slot pool."""

from __future__ import annotations

import tempfile
import threading
import time

from dagster import DagsterInstance, DagsterRunStatus, asset, materialize
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.storage.dagster_run import DagsterRun

from shopper_assets import dagster_fixes

HELD_S = 2.5


@asset(pool="duckdb")
def waits_for_the_pool() -> int:
    return 1


def cpu_while_waiting() -> tuple[float, float]:
    """(CPU seconds, wall seconds) of a run whose one step waits HELD_S for the slot another run holds."""
    with tempfile.TemporaryDirectory() as home:
        instance = DagsterInstance.local_temp(home, overrides={"concurrency": {"pools": {"default_limit": 1}}})
        holder = instance.add_run(DagsterRun(job_name="holder", status=DagsterRunStatus.STARTED))
        with InstanceConcurrencyContext(instance, holder) as held:
            assert held.claim("duckdb", "holding_step")
        release = threading.Timer(
            HELD_S, instance.event_log_storage.free_concurrency_slot_for_step, (holder.run_id, "holding_step")
        )
        release.start()
        cpu, wall = time.process_time(), time.perf_counter()
        assert materialize([waits_for_the_pool], instance=instance).success
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        release.join()
        instance.dispose()
        return cpu, wall


def test_a_step_waiting_for_a_pool_slot_sleeps():
    dagster_fixes.apply()
    warm = cpu_while_waiting()  # imports and first-use costs out of the way
    cpu, wall = cpu_while_waiting()
    assert wall >= HELD_S, warm  # it did wait for the slot
    assert cpu < 0.5 * HELD_S, f"{cpu:.2f} CPU-s in {wall:.2f} s: the waiting step spins"


def test_dagster_still_needs_the_fix():
    """Dagster's own interval is never positive (min with 0): when this fails, Dagster has fixed
    it and shopper_assets/dagster_fixes.py can go."""
    with DagsterInstance.ephemeral() as instance:
        run = instance.add_run(DagsterRun(job_name="waiting", status=DagsterRunStatus.STARTED))
        context = InstanceConcurrencyContext(instance, run)
        context._pending_claims.add("step")
        context._pending_timeouts["step"] = time.time() + 5
        assert dagster_fixes.dagster_interval(context) <= 0
        assert 4 < dagster_fixes.interval_to_next_pending_claim_check(context) <= 5
