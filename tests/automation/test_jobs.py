"""The named jobs select their assets by key, kind and dbt tag: exactly the assets of the factories
that build them, with the assets' partitions."""

from __future__ import annotations

from dagster import AssetKey

from shopper_assets.automation.jobs import daily_models, job_assets
from tests.built import (
    daily_partitions,
    data_quality,
    defs,
    hourly_partitions,
    lake_step,
    shopper_dbt_assets,
    shopper_history_dbt_assets,
    shopper_quality_dbt_assets,
)


def test_each_job_selects_the_assets_it_is_named_for():
    repository = defs.get_repository_def()
    jobs = job_assets(repository)
    assert jobs["lake_job"] == set(lake_step.keys)
    assert jobs["marts_job"] == {AssetKey("ad_spend"), *shopper_dbt_assets.keys}
    assert jobs["quality_job"] == data_quality.keys | shopper_quality_dbt_assets.keys
    assert jobs["history_job"] == set(shopper_history_dbt_assets.keys)
    assert daily_models(repository) == sorted(shopper_dbt_assets.keys)


def test_jobs_take_the_partitions_of_their_assets():
    repository = defs.get_repository_def()
    assert repository.get_job("lake_job").partitions_def == hourly_partitions
    assert repository.get_job("marts_job").partitions_def == daily_partitions
    assert repository.get_job("quality_job").partitions_def == daily_partitions
    assert repository.get_job("history_job").partitions_def is None
