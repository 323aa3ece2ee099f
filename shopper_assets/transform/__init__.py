"""The dbt layer of Shopper Analytics, wired into Dagster.

Public API:

* :data:`shopper_dbt_assets` - the ``@dbt_assets`` of the daily dbt models (daily partitions);
* :data:`shopper_history_dbt_assets` - the whole-history marts (unpartitioned);
* :data:`shopper_quality_dbt_assets` - the data-quality marts (daily partitions);
* :func:`dbt_resource` - the configured :class:`dagster_dbt.DbtCliResource` (target from SHOPPER_ENV);
* :func:`kpi_summary` / :func:`format_kpi_summary` - a day's KPIs from the marts, as a dict / as text;
* :data:`dbt_project`, :class:`DbtBuildConfig` and :data:`DBT_PROJECT_DIR` for tooling.
"""

from shopper_assets.transform.assets import (
    DbtBuildConfig,
    ShopperDbtTranslator,
    dbt_build_args,
    dbt_build_command,
    shopper_dbt_assets,
    shopper_history_dbt_assets,
    shopper_quality_dbt_assets,
)
from shopper_assets.transform.kpis import format_kpi_summary, kpi_summary
from shopper_assets.transform.project import DBT_PROJECT_DIR, dbt_project, ensure_manifest
from shopper_assets.transform.resources import dbt_resource

__all__ = [
    "DBT_PROJECT_DIR",
    "DbtBuildConfig",
    "ShopperDbtTranslator",
    "dbt_build_args",
    "dbt_build_command",
    "dbt_project",
    "dbt_resource",
    "ensure_manifest",
    "format_kpi_summary",
    "kpi_summary",
    "shopper_dbt_assets",
    "shopper_history_dbt_assets",
    "shopper_quality_dbt_assets",
]
