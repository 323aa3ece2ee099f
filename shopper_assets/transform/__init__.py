"""The dbt layer of Shopper Analytics, wired into Dagster.

Public API:

* :func:`build_dbt_assets` - the three ``@dbt_assets`` (:class:`DbtModels`: the daily models, the
  whole-history marts, the data-quality marts) of a prepared dbt project;
* :func:`build_dbt_project` / :func:`ensure_manifest` - the dbt project of the settings, and its manifest
  (``dbt parse`` when missing or stale);
* :func:`dbt_resource` - the configured :class:`dagster_dbt.DbtCliResource` (target from SHOPPER_ENV);
* :func:`kpi_summary` / :func:`format_kpi_summary` - a day's KPIs from the marts, as a dict / as text;
* :class:`DbtBuildConfig` and :data:`DBT_PROJECT_DIR` for tooling.
"""

from shopper_assets.transform.assets import (
    DbtBuildConfig,
    DbtModels,
    ShopperDbtTranslator,
    build_dbt_assets,
    dbt_build_args,
    dbt_build_command,
)
from shopper_assets.transform.kpis import format_kpi_summary, kpi_summary
from shopper_assets.transform.project import DBT_PROJECT_DIR, build_dbt_project, ensure_manifest
from shopper_assets.transform.resources import dbt_resource

__all__ = [
    "DBT_PROJECT_DIR",
    "DbtBuildConfig",
    "DbtModels",
    "ShopperDbtTranslator",
    "build_dbt_assets",
    "build_dbt_project",
    "dbt_build_args",
    "dbt_build_command",
    "dbt_resource",
    "ensure_manifest",
    "format_kpi_summary",
    "kpi_summary",
]
