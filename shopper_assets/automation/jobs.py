"""The named jobs every run of the platform goes through: the demo, the sensors and job backfills.

Runs of an implicit asset job are all called ``__ASSET_JOB`` in the UI, so a lake run and a dbt run
could not be told apart; these names can. Declarative automation (``shopper_automation``) and asset
backfills launched from the Catalog still run on Dagster's implicit job: Dagster picks the job there.

The jobs select their assets by key, kind and dbt tag, so they need neither the assets nor the dbt
manifest to be defined (their partitions are the assets'); a selection is resolved against the
code location's asset graph (``job_assets``).
"""

from __future__ import annotations

from collections.abc import Mapping

from dagster import AssetKey, AssetSelection, DagsterRun, RepositoryDefinition, define_asset_job

from shopper_assets.automation.lake_runs import AD_SPEND, LAKE_JOB, LAKE_STEP, MARTS_JOB
from shopper_assets.contract.tables import DATA_QUALITY, DATA_QUALITY_LOSSES
from shopper_assets.transform.assets import DATA_QUALITY_TAG, WHOLE_HISTORY_TAG

#: The dbt models (dagster-dbt gives each the kind ``dbt`` and its dbt tags, dbt/dbt_project.yml).
DBT_MODELS = AssetSelection.kind("dbt")
#: The whole-history marts (transform/assets.py: ``shopper_history_dbt_assets``).
HISTORY_MODELS = AssetSelection.tag(WHOLE_HISTORY_TAG, "")
#: The data-quality marts (``shopper_quality_dbt_assets``).
QUALITY_MODELS = AssetSelection.tag(DATA_QUALITY_TAG, "")
#: The data-quality score and losses (operations/data_quality_asset.py) and their dbt marts.
QUALITY = AssetSelection.assets(AssetKey(DATA_QUALITY.name), AssetKey(DATA_QUALITY_LOSSES.name)) | QUALITY_MODELS
#: The daily dbt models (transform/assets.py: ``shopper_dbt_assets``).
DAILY_MODELS = DBT_MODELS - HISTORY_MODELS - QUALITY_MODELS

JOB_SELECTIONS: dict[str, AssetSelection] = {
    LAKE_JOB: AssetSelection.assets(*LAKE_STEP),
    MARTS_JOB: AssetSelection.assets(*AD_SPEND) | DAILY_MODELS,
    "quality_job": QUALITY,
    "history_job": HISTORY_MODELS,
}

lake_job = define_asset_job(
    LAKE_JOB,
    selection=JOB_SELECTIONS[LAKE_JOB],
    description="The lake step: landing files of the hours -> raw_events -> cleaned_events + quarantined_events.",
)
marts_job = define_asset_job(
    MARTS_JOB,
    selection=JOB_SELECTIONS[MARTS_JOB],
    description="A day's ad spend and its dbt models: the star schema, the KPIs and the daily marts.",
)
quality_job = define_asset_job(
    "quality_job",
    selection=JOB_SELECTIONS["quality_job"],
    description="A day's data-quality score and losses (from the lake) and their dbt marts dq_score_daily, "
    "dq_losses_daily. Declarative automation runs them at most every 15 minutes after lake updates.",
)
history_job = define_asset_job(
    "history_job",
    selection=JOB_SELECTIONS["history_job"],
    description="The whole-history marts: customer LTV, cohorts, monthly and weekday revenue, recommendations.",
)


def job_assets(repository: RepositoryDefinition) -> dict[str, frozenset[AssetKey]]:
    """The assets of each named job in the code location (a sensor's ``context.repository_def``)."""
    return {name: frozenset(selection.resolve(repository.asset_graph)) for name, selection in JOB_SELECTIONS.items()}


def daily_models(repository: RepositoryDefinition) -> list[AssetKey]:
    """The daily dbt models of the code location, sorted."""
    return sorted(DAILY_MODELS.resolve(repository.asset_graph))


def run_assets(run: DagsterRun, jobs: Mapping[str, frozenset[AssetKey]]) -> frozenset[AssetKey]:
    """The assets a run materializes: its selection, or its whole job (``jobs``: ``job_assets``) when
    launched unsubset (the UI)."""
    return frozenset(run.asset_selection or jobs.get(run.job_name, frozenset()))
