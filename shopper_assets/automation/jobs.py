"""The named jobs every run of the platform goes through: the demo, the sensors and job backfills.

Runs of an implicit asset job are all called ``__ASSET_JOB`` in the UI, so a lake run and a dbt run
could not be told apart; these names can. Declarative automation (``shopper_automation``) and asset
backfills launched from the Catalog still run on Dagster's implicit job: Dagster picks the job there.
"""

from __future__ import annotations

from dagster import AssetKey, AssetSelection, DagsterRun, define_asset_job

from shopper_assets.automation.lake_runs import AD_SPEND, LAKE_JOB, LAKE_STEP, MARTS_JOB
from shopper_assets.operations.data_quality_asset import data_quality
from shopper_assets.partitions import daily_partitions, hourly_partitions
from shopper_assets.transform.assets import shopper_dbt_assets, shopper_history_dbt_assets, shopper_quality_dbt_assets

DAILY_MODELS = sorted(shopper_dbt_assets.keys)
HISTORY_MODELS = sorted(shopper_history_dbt_assets.keys)
QUALITY = sorted(data_quality.keys | shopper_quality_dbt_assets.keys)

lake_job = define_asset_job(
    LAKE_JOB,
    selection=AssetSelection.assets(*LAKE_STEP),
    partitions_def=hourly_partitions,
    description="The lake step: landing files of the hours -> raw_events -> cleaned_events + quarantined_events.",
)
marts_job = define_asset_job(
    MARTS_JOB,
    selection=AssetSelection.assets(*AD_SPEND, *DAILY_MODELS),
    partitions_def=daily_partitions,
    description="A day's ad spend and its dbt models: the star schema, the KPIs and the daily marts.",
)
quality_job = define_asset_job(
    "quality_job",
    selection=AssetSelection.assets(*QUALITY),
    partitions_def=daily_partitions,
    description="A day's data-quality score and losses (from the lake) and their dbt marts dq_score_daily, "
    "dq_losses_daily. Declarative automation runs them at most every 15 minutes after lake updates.",
)
history_job = define_asset_job(
    "history_job",
    selection=AssetSelection.assets(*HISTORY_MODELS),
    description="The whole-history marts: customer LTV, cohorts, monthly and weekday revenue, recommendations.",
)

JOB_ASSETS: dict[str, frozenset[AssetKey]] = {
    LAKE_JOB: frozenset(LAKE_STEP),
    MARTS_JOB: frozenset(AD_SPEND + DAILY_MODELS),
    "quality_job": frozenset(QUALITY),
    "history_job": frozenset(HISTORY_MODELS),
}


def run_assets(run: DagsterRun) -> frozenset[AssetKey]:
    """The assets a run materializes: its selection, or its whole job when launched unsubset (the UI)."""
    return frozenset(run.asset_selection or JOB_ASSETS.get(run.job_name, frozenset()))
