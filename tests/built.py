"""The code location's assets and definitions as the tests' environment builds them (tests/conftest.py
sets SHOPPER_START_DATE before any test module imports this).

The lake, ad-spend and data-quality assets are built on import (cheap); the dbt assets and the whole
definitions on first use (``from tests.built import shopper_dbt_assets`` runs ``dbt parse`` only when
the manifest is missing or stale), as the code location builds them.
"""

from __future__ import annotations

from functools import cache

from dagster import Definitions

from shopper_assets.definitions import build_definitions
from shopper_assets.lake.ad_spend_assets import build_ad_spend_assets
from shopper_assets.lake.assets import build_lake_assets
from shopper_assets.operations.data_quality_asset import build_data_quality_asset
from shopper_assets.partitions import partitions_from
from shopper_assets.settings import Settings
from shopper_assets.transform import DbtModels, build_dbt_assets, build_dbt_project, dbt_resource, ensure_manifest

SETTINGS = Settings.from_env()
hourly_partitions, daily_partitions = partitions_from(SETTINGS.start_date)
landing_events, lake_step = build_lake_assets(hourly_partitions, SETTINGS.late_arrival_hours)
landing_ad_spend, ad_spend = build_ad_spend_assets(daily_partitions)
data_quality = build_data_quality_asset(daily_partitions, SETTINGS.late_arrival_hours)


@cache
def dbt_models() -> DbtModels:
    project = build_dbt_project(SETTINGS)
    ensure_manifest(project, dbt_resource(SETTINGS))
    return build_dbt_assets(project, daily_partitions)


@cache
def definitions() -> Definitions:
    return build_definitions(SETTINGS)


_LAZY = {
    "shopper_dbt_assets": lambda: dbt_models().daily,
    "shopper_history_dbt_assets": lambda: dbt_models().history,
    "shopper_quality_dbt_assets": lambda: dbt_models().quality,
    "defs": definitions,
}


def __getattr__(name: str):
    if name in _LAZY:
        return _LAZY[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
