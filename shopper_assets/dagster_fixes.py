"""A fix for a Dagster bug this project hits, applied when the code location loads (so in every
run process, before it executes anything).

A step waiting for a slot of a concurrency pool busy-waits: in dagster 1.13 (checked up to 1.13.27)
``InstanceConcurrencyContext.interval_to_next_pending_claim_check`` returns ``min(0, ...)``, which is
never positive, so the executor's ``sleep_til_ready`` never sleeps and the run process spins a CPU
core until its slot frees. Under a stream, a lake run and a dbt run wait for the ``duckdb`` pool
most of the time, so on a 2-core machine the spinning took about a third of the CPU from the steps
it waits for. The fix returns the time until the earliest pending claim is due to be retried
(Dagster's own back-off decides when that is), so the claims happen exactly when they did before.

``tests/test_dagster_fixes.py`` fails once Dagster returns a positive interval itself: then this
module can go. Measurements and the upstream report: docs/private-apis.md, docs/upstream.md.
"""

from __future__ import annotations

import time

from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext

dagster_interval = InstanceConcurrencyContext.interval_to_next_pending_claim_check


def interval_to_next_pending_claim_check(self: InstanceConcurrencyContext) -> float:
    """Seconds until the earliest pending claim is due to be retried (0 when one is due)."""
    due = [ready_at for step, ready_at in self._pending_timeouts.items() if step in self._pending_claims]
    if not due:
        return 0.0
    return max(0.0, min(due) - time.time())


def apply() -> None:
    InstanceConcurrencyContext.interval_to_next_pending_claim_check = interval_to_next_pending_claim_check
