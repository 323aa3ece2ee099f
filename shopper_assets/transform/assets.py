"""The dbt models as Dagster assets, built by :func:`build_dbt_assets` from the prepared manifest:
``shopper_dbt_assets`` for the daily models (daily partitions),
``shopper_history_dbt_assets`` for the whole-history marts (dbt tag ``whole_history``,
unpartitioned: LTV, cohorts, monthly and weekday trends, recommendations read every day) and
``shopper_quality_dbt_assets`` for the daily data-quality marts (dbt tag ``data_quality``: they read
the data-quality score, recounted at most every 15 minutes, not the lake, so a stream's dbt runs
leave them alone).

* asset key = model name; the source ``lake.cleaned_events`` is the asset ``cleaned_events``
  (hourly), so each day depends on its 24 hours through the default time-window mapping; the
  source ``lake.ad_spend`` is the daily asset ``ad_spend`` (same day);
* groups by layer: ``staging``, ``intermediate``, ``marts``;
* dbt tests are asset checks; tests of severity error are blocking;
* a run over a partition (or a range, with the single-run backfill policy) runs ``dbt build``
  with the window [min_date, max_date) of its days, so the incremental models rebuild only those
  days (plus their lookbacks); ``full_refresh: true`` in the run config rebuilds everything;
* once a build succeeded, the ``serving`` resource publishes it for readers (serving/dbt_publish.py).

The window reaches dbt as the environment variables SHOPPER_DBT_MIN_DATE / SHOPPER_DBT_MAX_DATE /
SHOPPER_DBT_LOOKBACK_DAYS, which the dbt macros read exactly like the vars min_date / max_date /
lookback_days (see dbt/macros/window.sql), but only at execution: passing ``--vars`` instead makes
dbt re-parse the whole project on every run (its partial-parse cache is keyed on the vars), about
5 s per partition on a 2-core machine. ``window_as_vars: true`` passes ``--vars`` anyway.
"""

import json
from collections.abc import Mapping
from datetime import date
from typing import Any, NamedTuple

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Config,
    DailyPartitionsDefinition,
    PartitionMapping,
    TimeWindowPartitionMapping,
)
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from pydantic import Field

from shopper_assets.partitions import window_bounds
from shopper_assets.serving.dbt_publish import publish_after_build
from shopper_assets.serving.store import ServingStore
from shopper_assets.transform.resources import environment, tidy_target

LAYERS = ("staging", "intermediate", "marts")

# Day -> its 24 hours of the lake, of which the day in progress has only those begun so far. Without
# allow_nonexistent_upstream_partitions an automatic request spanning today and an earlier day
# (late events, or the first minutes after midnight) becomes a backfill that Dagster fails outright
# ("depends on non-existent partitions"), and the marts stop following the stream.
LAKE_HOURS_OF_DAY = TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)


class ShopperDbtTranslator(DagsterDbtTranslator):
    """Asset key = model name (sources: their ``meta.dagster.asset_key``); group = layer folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        meta = {**(dbt_resource_props.get("config", {}).get("meta") or {}), **(dbt_resource_props.get("meta") or {})}
        key = (meta.get("dagster") or {}).get("asset_key")
        return AssetKey(key) if key else AssetKey(dbt_resource_props["name"])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn") or []
        for part in fqn[1:-1]:
            if part in LAYERS:
                return part
        return super().get_group_name(dbt_resource_props)

    def get_partition_mapping(
        self, dbt_resource_props: Mapping[str, Any], dbt_parent_resource_props: Mapping[str, Any]
    ) -> PartitionMapping | None:
        """A day reads the hours of it that exist of the hourly lake (see ``LAKE_HOURS_OF_DAY``);
        daily sources and models map day to day, and whole-history models read every day."""
        if dbt_parent_resource_props.get("resource_type") == "source" and self.get_asset_key(
            dbt_parent_resource_props
        ) == AssetKey("cleaned_events"):
            return LAKE_HOURS_OF_DAY
        return super().get_partition_mapping(dbt_resource_props, dbt_parent_resource_props)


translator = ShopperDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class DbtBuildConfig(Config):
    """Run config of the dbt assets."""

    full_refresh: bool = Field(
        default=False,
        description="Rebuild every model from scratch (dbt build --full-refresh, no date window).",
    )
    lookback_days: int = Field(
        default=0,
        ge=0,
        le=31,
        description="Also rebuild this many days before the partition (late events).",
    )
    window_as_vars: bool = Field(
        default=False,
        description="Pass the window as dbt --vars (forces a full re-parse) instead of SHOPPER_DBT_* variables.",
    )


WINDOW_ENV = ("SHOPPER_DBT_MIN_DATE", "SHOPPER_DBT_MAX_DATE", "SHOPPER_DBT_LOOKBACK_DAYS")


def window_settings(window: tuple[date, date], lookback_days: int = 0) -> dict[str, str | int]:
    start, end = window
    if start >= end:
        raise ValueError(f"empty window {start} .. {end}")
    return {"min_date": start.isoformat(), "max_date": end.isoformat(), "lookback_days": lookback_days}


def dbt_build_args(window: tuple[date, date] | None, config: DbtBuildConfig) -> list[str]:
    """``dbt build`` arguments for a [start, end) day window with the window as ``--vars``
    (None or full_refresh: everything)."""
    if config.full_refresh or window is None:
        return ["build", "--full-refresh"] if config.full_refresh else ["build"]
    return ["build", "--vars", json.dumps(window_settings(window, config.lookback_days))]


def dbt_build_command(window: tuple[date, date] | None, config: DbtBuildConfig) -> tuple[list[str], dict[str, str]]:
    """(arguments, environment) of the ``dbt build`` the assets run: the window goes through the
    SHOPPER_DBT_* variables unless ``window_as_vars``; the environment always sets all three (to
    "" when there is no window) so nothing leaks in from the calling process."""
    env = dict.fromkeys(WINDOW_ENV, "")
    if config.full_refresh or window is None or config.window_as_vars:
        return dbt_build_args(window, config), env
    settings = window_settings(window, config.lookback_days)
    env.update(zip(WINDOW_ENV, (str(settings[k]) for k in ("min_date", "max_date", "lookback_days")), strict=True))
    return ["build"], env


def partition_days(context: AssetExecutionContext) -> tuple[date, date] | None:
    """[start, end) UTC days of the run's partition(s), or None for an unpartitioned run."""
    if not context.has_partition_key and not context.has_partition_key_range:
        return None
    start, end = window_bounds(context.partition_time_window)
    return start.date(), end.date()


#: dbt tags of the whole-history and of the data-quality marts (dbt_project.yml); dagster-dbt gives each
#: model its dbt tags as asset tags, which the jobs select by (automation/jobs.py).
WHOLE_HISTORY_TAG, DATA_QUALITY_TAG = "whole_history", "data_quality"
#: dbt selector of the whole-history marts (and their tests).
WHOLE_HISTORY = f"tag:{WHOLE_HISTORY_TAG}"
#: dbt selector of the data-quality marts (and their tests).
DATA_QUALITY_MARTS = f"tag:{DATA_QUALITY_TAG}"


def _build(
    context: AssetExecutionContext, dbt: DbtCliResource, serving: ServingStore, args: list[str], env: dict[str, str]
):
    context.log.info(f"dbt {' '.join(args)} with {' '.join(f'{k}={v}' for k, v in env.items() if v)}")
    with serving.building():  # prod: no lake load commits while dbt reads the lake
        with environment(env):  # the subprocess starts inside cli() and keeps its copy of the environment
            invocation = dbt.cli(args, context=context)
        yield from publish_after_build(context, invocation, serving)  # the stream, then the readers' copy
    tidy_target(invocation)


class DbtModels(NamedTuple):
    """The three ``@dbt_assets`` of the dbt project (see the module docstring)."""

    daily: AssetsDefinition
    history: AssetsDefinition
    quality: AssetsDefinition


def build_dbt_assets(
    project: DbtProject, daily_partitions: DailyPartitionsDefinition, pool: str = "duckdb"
) -> DbtModels:
    """The dbt models as assets, from the prepared manifest of ``project`` (transform/project.py), in the
    concurrency pool ``pool`` (deployments.py ``pools_for``: ``duckdb`` locally, ``dbt`` in prod; one
    build at a time either way)."""

    def models(name: str, partitioned: bool = True, **selection: str):
        """``@dbt_assets`` with what the three share: manifest, translator, the pool and,
        partitioned, the daily partitions run as a single-run backfill."""
        partitions = {"partitions_def": daily_partitions, "backfill_policy": BackfillPolicy.single_run()}
        return dbt_assets(
            manifest=project.manifest_path,
            project=project,
            dagster_dbt_translator=translator,
            pool=pool,
            name=name,
            **(partitions if partitioned else {}),
            **selection,
        )

    @models("shopper_dbt_assets", exclude=f"{WHOLE_HISTORY} {DATA_QUALITY_MARTS}")
    def shopper_dbt_assets(
        context: AssetExecutionContext, dbt: DbtCliResource, serving: ServingStore, config: DbtBuildConfig
    ):
        args, env = dbt_build_command(partition_days(context), config)
        # A subset of the daily models is selected by name with dbt's eager indirect selection, which
        # would also pick the whole-history marts' tests that read a selected daily model (sums_match,
        # relationships) - against marts this build does not rebuild. They carry the tag: exclude it.
        yield from _build(context, dbt, serving, [*args, "--exclude", WHOLE_HISTORY], env)

    @models("shopper_history_dbt_assets", partitioned=False, select=WHOLE_HISTORY)
    def shopper_history_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource, serving: ServingStore):
        """Whole-history marts: plain tables rebuilt from the order and user-day grains (no window)."""
        args, env = dbt_build_command(None, DbtBuildConfig())
        yield from _build(context, dbt, serving, args, env)

    @models("shopper_quality_dbt_assets", select=DATA_QUALITY_MARTS)
    def shopper_quality_dbt_assets(
        context: AssetExecutionContext, dbt: DbtCliResource, serving: ServingStore, config: DbtBuildConfig
    ):
        """The data-quality marts of the run's days, from the lake's data-quality tables."""
        args, env = dbt_build_command(partition_days(context), config)
        yield from _build(context, dbt, serving, args, env)

    return DbtModels(shopper_dbt_assets, shopper_history_dbt_assets, shopper_quality_dbt_assets)
