"""Declarative automation that follows late data and keeps a day's dbt graph in one run.

``AutomationCondition.eager()`` only looks at the latest time window, so a late event that updates
yesterday's hour would never reach yesterday's marts. Here every daily partition follows its own
hours, and a day's models are requested together:

* ``on_updated_hours`` (the dbt models that read ``cleaned_events``): a day is requested once after
  any of its hours is updated since the day was last requested or rebuilt, unless a run of it is
  in progress. Missing hours do not block it (a quiet hour has nothing to wait for), and it does
  not wait for lake runs to finish: under a steady Kafka stream some lake run is always in
  progress. Consistency comes from the ``duckdb`` concurrency pool instead (a dbt step never runs
  while a lake step rewrites a partition), which also makes "rebuilt after the update" exact: a
  lake step that ended before a dbt step's models were built ended before that step began, so
  the models read it. A day whose dbt run ``marts_follow_sensor`` already requested behind its
  lake run (``marts_runs.py``) is therefore not built twice; an hour updated during a dbt run
  triggers the next one. The trigger keeps the update's timestamp, so an hour updated just after
  a request still wins against that request.
* ``with_upstream_models`` (every other model): requested when an upstream model will be requested
  on the same tick, or was updated by a run that did not include it. So a day's graph is built in
  one run, never in pieces that would trip the reconciliation tests. It has no in-progress guard
  on purpose: a run materializes its models one by one, so when a new hour arrives the day's
  first models may be done while its marts are still "in progress"; a guard there would leave
  the marts out of the next run. That next run simply waits for the ``duckdb`` pool.
* ``after_daily_models`` (the whole-history marts, unpartitioned): requested once any day of a
  model they read was rebuilt since they were last requested, at most once per
  ``HISTORY_EVERY`` window (a stream rebuilds some day every few seconds, and these marts read all
  days), and not while a run of them is in progress. They do not wait for daily runs in progress:
  the ``duckdb`` pool runs their step after the daily step ahead of it, and a day rebuilt after the
  request triggers the next one, so they end up reading every day as it is.
* ``throttled_after_updates`` is that rule for any asset (``after_daily_models`` is one): the
  daily data-quality score follows its day's lake hours at most once per ``DATA_QUALITY_EVERY``.
"""

from dagster import AutomationCondition

#: Cron schedule bounding how often the whole-history marts are requested (once per window).
HISTORY_EVERY = "*/5 * * * *"
#: ... and how often a day's data-quality score is recounted while its hours keep changing.
DATA_QUALITY_EVERY = "*/15 * * * *"


def on_updated_hours() -> AutomationCondition:
    hour_updated = AutomationCondition.any_deps_match(AutomationCondition.newly_updated())
    # Two since() rather than one since(requested | updated): an OR drops the timestamps that let
    # an update win against a request or a rebuild seen on the same evaluation.
    return (
        hour_updated.since(AutomationCondition.newly_requested()).with_label("updated_since_requested")
        & hour_updated.since(AutomationCondition.newly_updated()).with_label("updated_since_rebuilt")
        & ~AutomationCondition.in_progress()
    ).with_label("on_updated_hours")


def with_upstream_models() -> AutomationCondition:
    return AutomationCondition.any_deps_updated().with_label("with_upstream_models")


def after_daily_models(every: str = HISTORY_EVERY) -> AutomationCondition:
    return throttled_after_updates(every, "after_daily_models", "days_rebuilt_since_requested")


def throttled_after_updates(
    every: str, label: str = "throttled_after_updates", updated_label: str = "deps_updated_since_requested"
) -> AutomationCondition:
    """Requested once a dependency was updated since the last request, at most once per ``every``
    window (a cron schedule), and not while a run of it is in progress."""
    dep_updated = AutomationCondition.any_deps_match(AutomationCondition.newly_updated())
    requested_this_window = AutomationCondition.newly_requested().since(AutomationCondition.cron_tick_passed(every))
    return (
        dep_updated.since(AutomationCondition.newly_requested()).with_label(updated_label)
        & ~requested_this_window.with_label("requested_in_this_window")
        & ~AutomationCondition.in_progress()
    ).with_label(label)
