"""Declarative automation that follows late data.

``AutomationCondition.eager()`` only looks at the latest time window, so a late event that updates
yesterday's hour would never reach yesterday's marts. ``on_any_updated_partition`` applies the same
rule to every partition: a partition runs once after any of its upstream partitions is updated,
when nothing it depends on is still running. Missing upstream hours do not block it: a quiet hour
with no events has nothing to wait for.
"""

from dagster import AutomationCondition


def on_any_updated_partition() -> AutomationCondition:
    return (
        AutomationCondition.any_deps_updated().since_last_handled()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label("on_any_updated_partition")
