"""Declarative automation that follows late data.

``AutomationCondition.eager()`` only looks at the latest time window, so a late event that updates
yesterday's hour would never reach yesterday's marts. ``on_any_updated_partition`` applies the same
rule to every partition: a partition runs once after any of its upstream partitions is updated,
unless a run of it is already in progress. Missing upstream hours do not block it: a quiet hour
with no events has nothing to wait for.

It deliberately does not wait for upstream runs to finish: under a steady Kafka stream some lake
run is always in progress, and waiting would starve the marts. Consistency comes from the
``duckdb`` concurrency pool instead (a dbt step never runs while a lake step rewrites a partition),
and an hour updated during a dbt run triggers the next one.
"""

from dagster import AutomationCondition


def on_any_updated_partition() -> AutomationCondition:
    return (
        AutomationCondition.any_deps_updated().since_last_handled() & ~AutomationCondition.in_progress()
    ).with_label("on_any_updated_partition")
